"""The Messenger port: how background work posts to chat, one implementation per platform."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from commands.ui.model import Reply
from core.accounts.identity import IdentityKey
from core.conversations import ConversationRef


class Messenger(Protocol):
    """Posts and edits messages addressed by a stored ``ConversationRef``; callable from any thread."""

    platform: str

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        """Post ``reply`` in ``where`` (in its thread if it has one); returns the new message's reference."""
        ...

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        """Replace the message ``where.message`` with ``reply``."""
        ...

    def notify(self, user: IdentityKey, reply: Reply) -> ConversationRef | None:
        """Tell one user privately (a direct message); the message posted, when the platform names it."""
        ...


@runtime_checkable
class HomePublisher(Protocol):
    """A messenger that can show a user their Home (Slack: the App Home tab, ``views.publish``)."""

    def publish_home(self, user: IdentityKey, reply: Reply) -> None:
        """Publish ``reply`` as ``user``'s Home, replacing what it showed; no transaction may be open."""
        ...


@runtime_checkable
class ThreadStatus(Protocol):
    """A messenger that can show a working status in a thread (Slack: ``assistant.threads.setStatus``)."""

    def set_status(self, where: ConversationRef, status: str) -> bool:
        """Show ``status`` in the thread ``where`` ("" clears it); False when the platform refuses it.

        No transaction may be open. A refusal (the app or workspace does not allow it) is silent: the caller
        shows the status as a message instead.
        """
        ...
