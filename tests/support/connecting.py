"""Typing ``connect repo <owner/name>`` as a user does: the command answers with a button that checks it."""

from __future__ import annotations

from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Outcome, Reply
from core.accounts.identity import Caller


def connect_repository(dispatcher: Dispatcher, caller: Caller, text: str) -> Outcome | None:
    """Run ``text`` (e.g. ``connect repo pat/modules``), then click its "Check and connect" button if it has one."""
    return click_check(dispatcher, caller, dispatcher.run_text(caller, text))


def click_check(dispatcher: Dispatcher, caller: Caller, answer: Outcome | None) -> Outcome | None:
    """Click the "Check and connect" button of a ``connect repo`` answer; other answers are returned as they are."""
    buttons = [a for a in answer.actions if isinstance(a, Button)] if isinstance(answer, Reply) else []
    check = next((b for b in buttons if b.action_id == "connect:check"), None)
    if check is None:
        return answer
    assert dispatcher.is_slow_action(check.action_id)  # a slow action holds no transaction over GitHub
    return dispatcher.run_action(caller, ActionEvent(check.action_id, check.value))
