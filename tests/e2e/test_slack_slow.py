"""Slow commands and actions through Slack: a placeholder at once, then the outcome in its place; search boxes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from bot.slack import slow as slack_slow
from bot.slack.elements import decode_action_id
from commands.framework.context import Context
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Form, Input, Reply, SearchBox
from core.config import Config
from storage.db import Database
from tests.emulators.slack import Call, SlackEmulator
from tests.support.slack_support import (
    Answer,
    Harness,
    copy_registry,
    emulator,
    running_harness,
    runtime_with,
    slack_config,
    texts,
)

__all__ = ["emulator"]

WORKING = "Working on it"


@dataclass
class Gate:
    """Slow handlers wait for ``release``; each records when it finished."""

    release: threading.Event = field(default_factory=threading.Event)
    finished: list[float] = field(default_factory=list)

    def wait(self) -> None:
        assert self.release.wait(5), "the test never released the handler"

    def done(self) -> None:
        self.finished.append(time.monotonic())


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def slow(config: Config, db: Database, dispatcher: Dispatcher, emulator: SlackEmulator,
         gate: Gate) -> Iterator[Harness]:
    """A harness whose test-local registry has slow commands and actions, and a search box."""
    registry = copy_registry(dispatcher.registry)

    @registry.command("scan", "Scan a repository", slow=True)
    def scan(ctx: Context) -> Reply:
        gate.wait()
        gate.done()
        return Reply(text="Scanned *12* files.")

    @registry.command("announce", "Scan and tell the channel", slow=True)
    def announce(ctx: Context) -> Reply:
        gate.wait()
        return Reply(text="The scan found 3 modules.", ephemeral=False)

    @registry.command("survey", "A slow command that asks for a form", slow=True)
    def survey(ctx: Context) -> Form:
        gate.wait()
        return Form("Survey", "test:survey", (Input("name", "Name"),))

    @registry.command("crash", "A slow command that fails", slow=True)
    def crash(ctx: Context) -> Reply:
        gate.wait()
        raise RuntimeError("scanner on fire")

    @registry.action("test:rescan", slow=True)
    def rescan(ctx: Context, event: ActionEvent) -> Reply:
        gate.wait()
        gate.done()
        return Reply(text=f"Rescanned *{event.value}*.", replace_original=True)

    @registry.action("test:peek", slow=True)
    def peek(ctx: Context, event: ActionEvent) -> Reply:
        gate.wait()
        return Reply(text=f"Only you see the details of {event.value}.")

    @registry.command("browse", "Browse with a search box")
    def browse(ctx: Context) -> Reply:
        return Reply(text="Modules", actions=(SearchBox("test:find", "Search modules", value="conn7"),
                                              Button("Close", "test:close")))

    @registry.action("test:find")
    def find(ctx: Context, event: ActionEvent) -> Reply:
        (typed,) = event.selected
        return Reply(text=f"Modules matching `{typed}` in {event.value}.", replace_original=True,
                     actions=(SearchBox("test:find", "Search modules", value=event.value, initial=typed),))

    runtime = runtime_with(registry, db, slack_config(config, emulator))
    with running_harness(runtime, emulator) as running:
        yield running
        gate.release.set()


def posts(harness: Harness, answer: Answer, count: int) -> list[Call]:
    """The first ``count`` posts to the request's response_url (waiting for them)."""
    return harness.emulator.wait_for(answer.hook, count, timeout=5)[:count]


def is_placeholder(call: Call) -> bool:
    return WORKING in texts(call.body) and call.body["response_type"] == "ephemeral"


# -- slow commands ------------------------------------------------------------------------------------

def test_a_slow_command_shows_a_placeholder_then_replaces_it(slow: Harness, gate: Gate) -> None:
    answer = slow.command("scan")
    assert (answer.status, answer.body) == (200, "")
    (placeholder,) = posts(slow, answer, 1)
    assert is_placeholder(placeholder) and placeholder.body["replace_original"] is False
    assert gate.finished == [], "the placeholder is shown while the handler still works"
    gate.release.set()
    _, outcome = posts(slow, answer, 2)
    assert outcome.body["replace_original"] is True and "Scanned *12* files." in texts(outcome.body)
    assert placeholder.at < gate.finished[0] < outcome.at
    slow.settle()
    assert len(slow.emulator.calls(answer.hook)) == 2


def test_a_quick_command_shows_no_placeholder(slow: Harness) -> None:
    answer = slow.command("help")
    slow.settle()
    (reply,) = slow.emulator.calls(answer.hook)
    assert WORKING not in texts(reply.body) and reply.body["replace_original"] is False


def test_a_public_outcome_deletes_the_private_placeholder_and_posts_in_the_channel(slow: Harness,
                                                                                   gate: Gate) -> None:
    gate.release.set()
    answer = slow.command("announce")
    placeholder, deleted, outcome = posts(slow, answer, 3)
    assert is_placeholder(placeholder)
    assert deleted.body.get("delete_original") is True
    assert outcome.body["response_type"] == "in_channel" and "found 3 modules" in texts(outcome.body)


def test_a_form_opens_while_the_trigger_is_fresh(slow: Harness, gate: Gate) -> None:
    gate.release.set()
    answer = slow.command("survey")
    (opened,) = slow.emulator.wait_for("views.open", timeout=5)
    assert opened.body["view"]["callback_id"] == "test:survey"
    placeholder, deleted = posts(slow, answer, 2)
    assert is_placeholder(placeholder) and deleted.body.get("delete_original") is True


def test_a_form_after_the_trigger_expired_asks_to_run_the_command_again(
    slow: Harness, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_slow, "TRIGGER_FRESH", 0.0)
    gate.release.set()
    answer = slow.command("survey")
    _, outcome = posts(slow, answer, 2)
    assert outcome.body["replace_original"] is True
    assert "_Survey_ needs a form" in texts(outcome.body) and "run the command again" in texts(outcome.body)
    slow.settle()
    assert slow.emulator.calls("views.open") == []


def test_a_failing_slow_command_replaces_the_placeholder_with_an_error_id(slow: Harness, gate: Gate) -> None:
    gate.release.set()
    answer = slow.command("crash")
    _, outcome = posts(slow, answer, 2)
    assert outcome.body["replace_original"] is True
    assert "error id" in texts(outcome.body) and "scanner on fire" not in texts(outcome.body)


# -- slow actions -------------------------------------------------------------------------------------

def test_a_slow_click_replaces_the_message_with_a_placeholder_then_the_outcome(slow: Harness,
                                                                               gate: Gate) -> None:
    answer = slow.click("test:rescan#0", "net")
    assert (answer.status, answer.body) == (200, "")
    (placeholder,) = posts(slow, answer, 1)
    assert is_placeholder(placeholder) and placeholder.body["replace_original"] is True
    assert gate.finished == []
    gate.release.set()
    _, outcome = posts(slow, answer, 2)
    assert outcome.body["replace_original"] is True and "Rescanned *net*." in texts(outcome.body)
    assert placeholder.at < gate.finished[0] < outcome.at


def test_a_private_answer_to_a_click_on_a_public_message_puts_the_message_back(slow: Harness,
                                                                               gate: Gate) -> None:
    shown = {"type": "section", "text": {"type": "mrkdwn", "text": "Module *net*"}}
    body = slow.action_body("test:peek#0", "net")
    body["container"]["is_ephemeral"] = False
    body["message"] = {"type": "message", "ts": "1700000005.000100", "text": "Module net", "blocks": [shown]}
    gate.release.set()
    answer = slow.interact(body)
    placeholder, restored, outcome = posts(slow, answer, 3)
    assert is_placeholder(placeholder) and placeholder.body["replace_original"] is True
    assert restored.body["replace_original"] is True and restored.body["blocks"] == [shown]
    assert outcome.body["replace_original"] is False and outcome.body["response_type"] == "ephemeral"
    assert "Only you see the details of net." in texts(outcome.body)


def test_a_quick_click_shows_no_placeholder(slow: Harness) -> None:
    answer = slow.click("admin:users:page#0", "1")
    slow.settle()
    assert not any(WORKING in texts(c.body) for c in slow.emulator.calls(answer.hook))


# -- search boxes -------------------------------------------------------------------------------------

def test_a_search_box_is_an_input_that_dispatches_and_its_text_reaches_the_handler(slow: Harness) -> None:
    reply = slow.reply(slow.command("browse"))
    box = next(b for b in reply["blocks"] if b["type"] == "input")
    assert box["dispatch_action"] is True and box["label"]["text"] == "Search modules"
    element = box["element"]
    assert element["type"] == "plain_text_input" and "initial_value" not in element
    assert element["dispatch_action_config"] == {"trigger_actions_on": ["on_enter_pressed"]}
    assert decode_action_id(element["action_id"]) == ("test:find", "conn7")
    assert [b["type"] for b in reply["blocks"]] == ["section", "input", "actions"]

    found = slow.reply(slow.interact(slow.search_body(element["action_id"], "net")))
    assert found["replace_original"] is True
    assert "Modules matching `net` in conn7." in texts(found)
    (again,) = [b for b in found["blocks"] if b["type"] == "input"]
    assert again["element"]["initial_value"] == "net"


def test_socket_mode_search(slow: Harness) -> None:
    body = slow.search_body("test:find#0:conn9", "db")
    assert slow.socket(body).status == 200
    hook = "/webhook/" + body["response_url"].rsplit("/", 1)[1]
    assert "Modules matching `db` in conn9." in texts(slow.emulator.wait_for(hook)[0].body)
