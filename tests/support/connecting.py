"""Typing ``connect repo <owner/name>`` as a user does: one command, checked with GitHub outside any transaction."""

from __future__ import annotations

from commands.framework.dispatch import Dispatcher
from commands.ui.model import Outcome
from core.accounts.identity import Caller


def connect_repository(dispatcher: Dispatcher, caller: Caller, text: str) -> Outcome | None:
    """Run ``text`` (e.g. ``connect repo pat/modules``): a slow command, so GitHub is asked with no transaction open."""
    assert dispatcher.is_slow_command(text, caller)
    return dispatcher.run_text(caller, text)
