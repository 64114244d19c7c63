"""Read callers, places and clicks out of Slack payloads (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.slack.elements import decode_action_id
from bot.slack.suggestions import decode_block_id
from commands.framework.registry import ActionEvent
from core.accounts.identity import Caller, IdentityKey
from core.conversations import ConversationRef

Body = Mapping[str, Any]
PLATFORM = "slack"


def _team(body: Body) -> str:
    team = body.get("team")
    return str(team.get("id", "")) if isinstance(team, Mapping) else str(body.get("team_id", ""))


def team_of(body: Body) -> str:
    """The workspace a request came from (``team_id`` of commands and events, ``team.id`` of interactions)."""
    return _team(body)


def command_caller(body: Body) -> Caller:
    """The user who ran a slash command (form fields ``team_id``, ``user_id``, ``user_name``)."""
    return Caller(IdentityKey(PLATFORM, str(body["team_id"]), str(body["user_id"])), str(body.get("user_name", "")))


def command_where(body: Body) -> ConversationRef:
    """Where a slash command was run: its team and channel."""
    return ConversationRef(PLATFORM, str(body["team_id"]), str(body.get("channel_id", "")))


def interaction_caller(body: Body) -> Caller:
    """The user behind a block action or a view submission (their home team on Enterprise Grid)."""
    user = body["user"]
    team = str(user.get("team_id") or _team(body))
    return Caller(IdentityKey(PLATFORM, team, str(user["id"])), str(user.get("username") or user.get("name") or ""))


def interaction_where(body: Body) -> ConversationRef:
    """The channel, thread and message a clicked button lives in."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    return ConversationRef(
        PLATFORM,
        _team(body),
        str(channel),
        thread=str(container.get("thread_ts") or message.get("thread_ts") or ""),
        message=str(container.get("message_ts") or message.get("ts") or ""),
    )


def action_event(action: Mapping[str, Any]) -> ActionEvent:
    """A button click, a select choice or a search box's text, with our ``#n`` suffix removed from the action id."""
    action_id, select_value = decode_action_id(str(action.get("action_id", "")))
    kind = action.get("type")
    if kind == "plain_text_input":  # a search box: Enter was pressed in it
        return ActionEvent(action_id, select_value, (str(action.get("value") or ""),))
    if kind in ("static_select", "external_select"):
        chosen = (action.get("selected_option") or {}).get("value")
        return ActionEvent(action_id, select_value, (str(chosen),) if chosen else ())
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        chosen_all = tuple(str(o["value"]) for o in action.get("selected_options") or [])
        return ActionEvent(action_id, select_value, chosen_all)
    return ActionEvent(action_id, str(action.get("value", "")))


@dataclass(frozen=True)
class Suggestion:
    """A ``block_suggestion``: the options provider to search, the select's own value, what the user typed."""

    provider: str
    value: str
    query: str


def suggestion_request(body: Body) -> Suggestion | None:
    """What a ``block_suggestion`` asks for; None when its block was not rendered as a searchable select."""
    provider = decode_block_id(str(body.get("block_id", "")))
    if not provider:
        return None
    _, value = decode_action_id(str(body.get("action_id", "")))
    return Suggestion(provider, value, str(body.get("value") or ""))


def is_thread_reply(event: Mapping[str, Any]) -> bool:
    """A person's message inside a thread: not the parent, not a bot, not an edit or other subtype."""
    if event.get("bot_id") or not event.get("user"):
        return False
    if event.get("subtype") not in (None, "thread_broadcast"):
        return False
    thread = event.get("thread_ts")
    return bool(thread) and thread != event.get("ts")


def message_caller(body: Body, event: Mapping[str, Any], display_name: str = "") -> Caller:
    """The author of a thread message (their own team when Slack gives it), shown as ``display_name``."""
    team = str(event.get("user_team") or event.get("team") or body.get("team_id", ""))
    return Caller(IdentityKey(PLATFORM, team, str(event["user"])), display_name)


def message_where(body: Body, event: Mapping[str, Any]) -> ConversationRef:
    """A thread message's place: its channel, its thread and the message itself."""
    team = str(body.get("team_id") or event.get("team", ""))
    return ConversationRef(PLATFORM, team, str(event["channel"]), thread=str(event["thread_ts"]),
                           message=str(event.get("ts", "")))
