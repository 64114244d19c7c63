"""Send a rendered Reply: through a ``response_url`` when there is one, else the Web API; files too."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import limits, slow
from bot.slack.elements import Json
from bot.slack.render import Rendered, context, render_reply
from bot.slack.slow import Placeholder, Respond
from commands.ui.model import Attachment, Reply

log = logging.getLogger(__name__)

DM_NOTE = "_The files are in our direct messages: replies only you can see cannot carry files._"
CHANNEL_REFUSED = frozenset({"channel_not_found", "not_in_channel", "user_not_in_channel", "is_archived",
                             "restricted_action"})
"""``chat.postEphemeral`` errors after which a private message goes to the user's direct messages instead."""


@dataclass(frozen=True)
class Destination:
    """Where a reply goes: the channel and user of the request, its thread, and its ``response_url``."""

    channel: str
    user: str
    thread: str = ""
    respond: Respond | None = None
    in_thread: bool = False
    """Always answer in ``thread`` (replies to thread messages), not only when the Reply asks."""
    placeholder: Placeholder | None = None
    """A slow request's "working on it" message, which the first reply replaces (or clears)."""

    def held(self) -> Placeholder | None:
        """The placeholder still waiting for the outcome, when there is a ``response_url`` to replace it."""
        held = self.placeholder
        return held if held is not None and held.active and self.respond is not None else None

    def settle(self) -> None:
        """Take the placeholder away before something else than a reply answers (a modal, nothing)."""
        held = self.held()
        if held is not None and self.respond is not None:
            slow.clear(held, self.respond)


def send_reply(client: WebClient, to: Destination, reply: Reply) -> None:
    """Post ``reply``: ephemeral or public, replacing the original (or a placeholder) when it can, files after."""
    rendered = render_reply(reply)
    messages = list(rendered.messages)
    if rendered.files and reply.ephemeral:
        messages = with_note(messages, DM_NOTE)
    thread = to.thread if (reply.in_thread or to.in_thread) else ""
    replace, spent = reply.replace_original, 0
    held = to.held()
    if held is not None:
        replace = slow.takes_place(held, ephemeral=reply.ephemeral, replace_original=reply.replace_original)
        if not replace:
            to.settle()
        held.settled = True
        spent = held.uses
    for index, payload in enumerate(messages):
        if to.respond is not None and spent + index < limits.RESPONSE_URL_USES:
            _respond(to.respond, payload, reply, replace=replace and index == 0, thread=thread)
        else:
            post(client, to, payload, ephemeral=reply.ephemeral, thread=thread)
    if rendered.files:
        upload(client, to, rendered, ephemeral=reply.ephemeral, thread=thread)


def with_note(messages: list[Json], note: str) -> list[Json]:
    """Append a context note to the last message (or a new message when it is full)."""
    if messages and len(messages[-1]["blocks"]) < limits.MESSAGE_BLOCKS:
        last = dict(messages[-1], blocks=[*messages[-1]["blocks"], context(note)])
        return [*messages[:-1], last]
    return [*messages, {"text": note, "blocks": [context(note)]}]


def _respond(respond: Respond, payload: Json, reply: Reply, *, replace: bool, thread: str) -> None:
    body = dict(payload)
    if replace:
        body["replace_original"] = True
    else:
        body["response_type"] = "ephemeral" if reply.ephemeral else "in_channel"
        body["replace_original"] = False
    if thread:
        body["thread_ts"] = thread
    answer = respond(body)
    status = getattr(answer, "status_code", 200)
    if status != 200:
        log.warning("response_url post failed", extra={"status": status, "body": getattr(answer, "body", "")})


def post(client: WebClient, to: Destination, payload: Json, *, ephemeral: bool, thread: str = "") -> None:
    """One message through the Web API; without a channel it goes to the user's direct messages.

    A private message the channel refuses (the bot is not in it, a DM between two people) goes there too.
    """
    extra: dict[str, Any] = {"thread_ts": thread} if thread else {}
    if ephemeral and to.channel:
        try:
            client.chat_postEphemeral(channel=to.channel, user=to.user, text=payload["text"],
                                      blocks=payload["blocks"], **extra)
            return
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code not in CHANNEL_REFUSED:
                raise
            log.info("private message sent by direct message instead", extra={"slack_error": code})
        extra = {}
    channel = to.channel if to.channel and not ephemeral else direct_channel(client, to.user)
    client.chat_postMessage(channel=channel, text=payload["text"], blocks=payload["blocks"], **extra)


def direct_channel(client: WebClient, user: str) -> str:
    """The id of the bot's direct-message channel with ``user``."""
    opened = client.conversations_open(users=user)
    return str(opened["channel"]["id"])


def upload(client: WebClient, to: Destination, rendered: Rendered, *, ephemeral: bool, thread: str = "") -> None:
    """Upload the files; a private reply's files go to the user's direct messages, not the channel."""
    private = ephemeral or not to.channel
    channel = direct_channel(client, to.user) if private else to.channel
    extra: dict[str, Any] = {"thread_ts": thread} if thread and not private else {}
    client.files_upload_v2(channel=channel, file_uploads=[file_upload(a) for a in rendered.files], **extra)


def file_upload(attachment: Attachment) -> dict[str, Any]:
    """An attachment as one entry of ``files_upload_v2``'s ``file_uploads``."""
    return {"file": attachment.content, "filename": attachment.filename,
            "title": attachment.title or attachment.filename}
