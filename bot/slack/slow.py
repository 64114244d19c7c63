"""Slow commands and actions on Slack: a placeholder at once, then the outcome in its place.

The placeholder goes through the ``response_url``. A slow command posts a private "working on it" message; a
slow action replaces the clicked message with it. When the outcome is ready, ``bot.slack.deliver`` asks
``takes_place`` whether it can replace the placeholder (``replace_original``). When it cannot (a public reply
to a private placeholder, a private answer to a click on a public message), ``clear`` first deletes the
placeholder or puts the clicked public message back.

A Form returned by a slow handler opens only while the request's ``trigger_id`` is fresh (Slack allows 3
seconds); after that the user is asked to run the command again. Slow handlers should return Replies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.slack.elements import Json

Respond = Callable[..., Any]
"""Bolt's ``respond`` (posts to the request's ``response_url``)."""

PLACEHOLDER = ":hourglass_flowing_sand: Working on it…"
TRIGGER_FRESH = 2.5
"""Seconds after which a ``trigger_id`` is taken as expired (Slack: 3 seconds from the user's action)."""
STALE_FORM = ("_{title}_ needs a form, and this took too long for Slack to let me open one. "
              "Please run the command again.")


@dataclass
class Placeholder:
    """A "working on it" message shown through the ``response_url`` until the outcome takes its place."""

    private: bool = True
    """The placeholder is ephemeral (a slash command, or a click on an ephemeral message)."""
    in_place: bool = False
    """It replaced the clicked message (a slow action)."""
    original: Json | None = None
    """The clicked public message, put back when the outcome goes to a new message."""
    started: float = field(default_factory=time.monotonic)
    uses: int = 0
    """``response_url`` posts spent so far (Slack allows five)."""
    shown: bool = False
    settled: bool = False

    @property
    def active(self) -> bool:
        """Shown and not yet replaced or cleared."""
        return self.shown and not self.settled

    @property
    def trigger_fresh(self) -> bool:
        """True while the ``trigger_id`` is recent enough to open a modal (Slack allows 3 seconds)."""
        return time.monotonic() - self.started < TRIGGER_FRESH


def for_command(age: float = 0.0) -> Placeholder:
    """The placeholder of a slow slash command: a new private message (``age``: seconds since the user ran it)."""
    return Placeholder(started=time.monotonic() - age)


def for_action(body: Mapping[str, Any], age: float = 0.0) -> Placeholder:
    """The placeholder of a slow click: it replaces the clicked message (kept to restore it when public).

    ``age`` is the seconds since the click (its ``trigger_id`` is as old).
    """
    container = body.get("container") or {}
    private = bool(container.get("is_ephemeral"))
    message = body.get("message")
    original: Json | None = None
    if not private and isinstance(message, Mapping) and message.get("blocks"):
        original = {"text": str(message.get("text") or " "), "blocks": list(message["blocks"])}
    return Placeholder(private=private, in_place=True, original=original, started=time.monotonic() - age)


def show(placeholder: Placeholder, respond: Respond) -> None:
    """Post the placeholder (replacing the clicked message for an action)."""
    respond({"text": PLACEHOLDER, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": PLACEHOLDER}}],
             "response_type": "ephemeral", "replace_original": placeholder.in_place})
    placeholder.uses += 1
    placeholder.shown = True


def takes_place(placeholder: Placeholder, *, ephemeral: bool, replace_original: bool) -> bool:
    """Whether a reply can replace the placeholder: it keeps the placeholder's visibility.

    A private placeholder takes a private reply (or, for a click, one meant to replace the message); a
    public clicked message takes a reply meant to replace it, or any reply when it cannot be put back.
    """
    if placeholder.private:
        return ephemeral or (placeholder.in_place and replace_original)
    return replace_original or placeholder.original is None


def clear(placeholder: Placeholder, respond: Respond) -> None:
    """Remove the placeholder: put the clicked public message back, or delete the private placeholder."""
    if placeholder.original is not None:
        respond({**placeholder.original, "replace_original": True})
    else:
        respond({"delete_original": True})
    placeholder.uses += 1
    placeholder.settled = True
