"""Slow forms through Slack: the modal closes at once, the outcome follows privately (or by direct message)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from bot.slack.modals import render_form
from commands.framework.context import Context
from commands.framework.dispatch import Dispatcher
from commands.ui.model import Form, FormErrors, FormValue, Input, Reply
from core.config import Config
from storage.db import Database
from tests.emulators.slack import SlackEmulator
from tests.support.slack_support import (
    ADMIN,
    CHANNEL,
    Harness,
    copy_registry,
    emulator,
    running_harness,
    runtime_with,
    slack_config,
    texts,
    typed,
)

__all__ = ["emulator"]

FORM = Form("Slow", "test:slow", (Input("name", "Name"),), state="s1")


@pytest.fixture
def slow(config: Config, db: Database, dispatcher: Dispatcher, emulator: SlackEmulator) -> Iterator[Harness]:
    """A harness whose registry has a slow form: it waits for ``release``, then answers by what was typed."""
    registry = copy_registry(dispatcher.registry)
    release = threading.Event()
    release.set()

    @registry.form("test:slow", slow=True)
    def slow_form(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply | FormErrors:
        assert release.wait(5)
        name = str(values.get("name") or "")
        if name == "short":
            return FormErrors({"name": "Too short."})
        if name == "boom":
            raise RuntimeError("handler bug")
        return Reply(text=f"Checked *{name}* ({state}).")

    runtime = runtime_with(registry, db, slack_config(config, emulator))
    with running_harness(runtime, emulator) as running:
        running.release = release  # type: ignore[attr-defined]
        yield running


def submitted(harness: Harness, name: str, channel: str = CHANNEL) -> dict[str, Any]:
    view = render_form(FORM, channel=channel)
    return harness.submission_body(view, {"name": typed(name)})


def test_the_modal_closes_before_the_handler_finishes(slow: Harness) -> None:
    release: threading.Event = slow.release  # type: ignore[attr-defined]
    release.clear()
    answer = slow.interact(submitted(slow, "ada"))
    assert (answer.status, answer.body) == (200, "")  # acked while the handler still waits
    assert slow.emulator.calls("chat.postEphemeral") == []
    release.set()
    (posted,) = slow.emulator.wait_for("chat.postEphemeral", timeout=5)
    assert (posted.body["channel"], posted.body["user"]) == (CHANNEL, ADMIN)
    assert "Checked *ada* (s1)." in texts(posted.body)


def test_without_a_channel_the_outcome_goes_by_direct_message(slow: Harness) -> None:
    slow.interact(submitted(slow, "ada", channel=""))
    (posted,) = slow.emulator.wait_for("chat.postMessage", timeout=5)
    assert posted.body["channel"] == "DADMIN" and "Checked *ada*" in texts(posted.body)
    assert slow.emulator.calls("conversations.open")[0].body["users"] == ADMIN
    assert slow.emulator.calls("chat.postEphemeral") == []


def test_a_channel_that_refuses_the_private_message_falls_back_to_a_direct_message(slow: Harness) -> None:
    slow.emulator.fail("chat.postEphemeral", "not_in_channel", times=1)
    slow.interact(submitted(slow, "ada"))
    (posted,) = slow.emulator.wait_for("chat.postMessage", timeout=5)
    assert posted.body["channel"] == "DADMIN" and "Checked *ada*" in texts(posted.body)


def test_form_errors_of_a_closed_form_are_listed_privately(slow: Harness) -> None:
    answer = slow.interact(submitted(slow, "short"))
    assert (answer.status, answer.body) == (200, "")
    (posted,) = slow.emulator.wait_for("chat.postEphemeral", timeout=5)
    assert "That was not accepted" in texts(posted.body) and "• Too short." in texts(posted.body)


def test_a_failing_slow_form_shows_an_error_id(slow: Harness) -> None:
    slow.interact(submitted(slow, "boom"))
    (posted,) = slow.emulator.wait_for("chat.postEphemeral", timeout=5)
    assert "error id" in texts(posted.body) and "handler bug" not in texts(posted.body)


def test_a_repeated_submission_runs_once(slow: Harness) -> None:
    body = submitted(slow, "ada")
    slow.interact(body)
    slow.interact(body)
    slow.settle()
    assert len(slow.emulator.calls("chat.postEphemeral")) == 1
