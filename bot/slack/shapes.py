"""Check the shape of a Slack payload before any listener reads it.

Bolt parses a body while building its request and reads fields by assumption (``team`` is a dict or a
string, ``actions`` a list of dicts...). A body that breaks those assumptions raised deep inside Bolt or in a
listener and was logged with a traceback. Here such a body becomes a ``MalformedPayload`` with a short reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Body = Mapping[str, Any]

IDENTIFIED = ("team", "user", "channel", "enterprise")
"""Fields Bolt reads as a string or as an object with an ``id``."""
OBJECTS = ("view", "container", "message", "event", "state", "previous_message", "item", "function_data")
COMMAND_FIELDS = ("command", "team_id", "user_id")


class MalformedPayload(ValueError):
    """A body that is not a Slack payload this app can read; the reason names no value from it."""


def check_payload(body: Body) -> None:
    """Refuse a body whose fields have shapes no Slack payload has.

    Raises:
        MalformedPayload: with a short reason.
    """
    for name in IDENTIFIED:
        value = body.get(name)
        if value is not None and not (isinstance(value, str) or _has_id(value)):
            raise MalformedPayload(f"`{name}` is neither an id nor an object with an id")
    for name in OBJECTS:
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise MalformedPayload(f"`{name}` is not an object")
    authorizations = body.get("authorizations")
    if authorizations is not None and not (isinstance(authorizations, list)
                                           and all(isinstance(a, dict) for a in authorizations)):
        raise MalformedPayload("`authorizations` is not a list of objects")
    if "command" in body:
        _check_command(body)
        return
    kind = body.get("type")
    if not isinstance(kind, str) and "ssl_check" not in body:
        raise MalformedPayload("the payload has no `type` and no `command`")
    check = KIND_CHECKS.get(str(kind))
    if check is not None:
        check(body)


def _has_id(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id", ""), str)


def _require_user_object(body: Body) -> None:
    if not (isinstance(body.get("user"), dict) and body["user"].get("id")):
        raise MalformedPayload("`user` is not an object with an id")


def _check_command(body: Body) -> None:
    for name in COMMAND_FIELDS:
        if not isinstance(body.get(name), str) or not body[name]:
            raise MalformedPayload(f"the slash command has no `{name}`")


def _check_actions(body: Body) -> None:
    _require_user_object(body)
    actions = body.get("actions")
    if not (isinstance(actions, list) and actions
            and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)):
        raise MalformedPayload("`actions` is not a list of actions with ids")


def _check_view(body: Body) -> None:
    _require_user_object(body)
    if not isinstance(body.get("view"), dict):
        raise MalformedPayload("the submission has no `view`")


def _check_suggestion(body: Body) -> None:
    _require_user_object(body)
    for name in ("action_id", "block_id"):
        if not isinstance(body.get(name, ""), str):
            raise MalformedPayload(f"`{name}` is not a string")


def _check_event(body: Body) -> None:
    event = body.get("event")
    if not (isinstance(event, dict) and isinstance(event.get("type"), str)):
        raise MalformedPayload("the event callback has no event with a type")


def _check_url_verification(body: Body) -> None:
    if not isinstance(body.get("challenge"), str):
        raise MalformedPayload("the URL verification has no challenge")


KIND_CHECKS: dict[str, Callable[[Body], None]] = {
    "block_actions": _check_actions,
    "view_submission": _check_view,
    "view_closed": _check_view,
    "block_suggestion": _check_suggestion,
    "event_callback": _check_event,
    "url_verification": _check_url_verification,
}
