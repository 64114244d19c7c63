"""Slow commands, clicks and searches through every front door: a wait at once (Slack: a "Working on it"
placeholder; Discord: a deferral), then the outcome in its place; and search boxes (Slack: an input that
dispatches; Discord: a 🔍 button opening a one-field modal).

One registry with slow handlers runs behind both doors; each handler waits at a gate the test opens, so the
wait is seen while the handler still works. What only one platform has stays in small tests at the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.slack import slow as slack_answers
from bot.slack.elements import decode_action_id
from commands import load_registry
from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Registry
from commands.ui.model import Button, Form, Input, Reply, SearchBox
from core.config import Config
from storage.db import Database
from tests.emulators.slack import Call, SlackEmulator
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.discord_spec import validate_schema
from tests.support.front_door import FrontDoor, door
from tests.support.front_door import Reply as FrontReply
from tests.support.slack_support import emulator, harness, slack_runtime, texts

__all__ = ["door", "emulator", "harness", "slack_runtime"]

WORKING = "Working on it"
EPHEMERAL = 64
DEFERRED, UPDATE, MODAL = 5, 7, 9
BOLD = {"slack": "*{}*", "discord": "**{}**"}


@dataclass
class Gate:
    """Slow handlers wait for ``release``; each records when it finished."""

    release: threading.Event = field(default_factory=threading.Event)
    finished: list[float] = field(default_factory=list)

    def wait(self) -> None:
        assert self.release.wait(5), "the test never released the handler"

    def done(self) -> None:
        self.finished.append(time.monotonic())


def slow_registry(gate: Gate) -> Registry:
    """The shared registry plus slow commands and actions and search boxes, in a copy.

    The commands are one ``test`` group: Discord holds at most 25 subcommands under ``/rad``.
    """
    registry = load_registry().copy()

    @registry.command("test scan", "Scan a repository", slow=True)
    def scan(ctx: Context) -> Reply:
        gate.wait()
        gate.done()
        return Reply(text="Scanned *12* files.")

    @registry.command("test announce", "Scan and tell the channel", slow=True)
    def announce(ctx: Context) -> Reply:
        gate.wait()
        return Reply(text="The scan found 3 modules.", ephemeral=False)

    @registry.command("test survey", "A slow command that asks for a form", slow=True)
    def survey(ctx: Context) -> Form:
        gate.wait()
        return Form("Survey", "test:survey", (Input("name", "Name"),))

    @registry.command("test crash", "A slow command that fails", slow=True)
    def crash(ctx: Context) -> Reply:
        gate.wait()
        raise RuntimeError("scanner on fire")

    @registry.command("test offer", "A public message with slow buttons")
    def offer(ctx: Context) -> Reply:
        return Reply(text="Module net", ephemeral=False,
                     actions=(Button("Rescan", "test:rescan", "net"), Button("Details", "test:peek", "net")))

    @registry.action("test:rescan", slow=True)
    def rescan(ctx: Context, event: ActionEvent) -> Reply:
        gate.wait()
        gate.done()
        return Reply(text=f"Rescanned *{event.value}*.", replace_original=True, ephemeral=False)

    @registry.action("test:peek", slow=True)
    def peek(ctx: Context, event: ActionEvent) -> Reply:
        gate.wait()
        return Reply(text=f"Only you see the details of {event.value}.")

    @registry.command("test browse", "Browse with search boxes")
    def browse(ctx: Context) -> Reply:
        return Reply(text="Modules", ephemeral=False,
                     actions=(SearchBox("test:find", "Search modules", value="conn7"),
                              SearchBox("test:slowfind", "Search slowly", value="conn7"),
                              Button("Close", "test:close")))

    @registry.action("test:find")
    def find(ctx: Context, event: ActionEvent) -> Reply:
        (typed,) = event.selected
        return Reply(text=f"Modules matching `{typed}` in {event.value}.", replace_original=True, ephemeral=False,
                     actions=(SearchBox("test:find", "Search modules", value=event.value, initial=typed),))

    @registry.action("test:slowfind", slow=True)
    def slow_find(ctx: Context, event: ActionEvent) -> Reply:
        gate.wait()
        gate.done()
        return Reply(text=f"Slowly found `{event.selected[0]}`.", replace_original=True, ephemeral=False)

    return registry


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def door_registry(gate: Gate) -> Registry:
    return slow_registry(gate)


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """Discord's fallback deferral (after ``defer_after``) never comes: every deferral seen is the explicit one."""
    return {"defer_after": 30.0}


@pytest.fixture
def slow(door: FrontDoor, gate: Gate) -> Iterator[FrontDoor]:
    """The door; a handler still waiting when the test ends is let go before the door closes."""
    yield door
    gate.release.set()


def bold(door: FrontDoor, text: str) -> str:
    return BOLD[door.platform].format(text)


def says(door: FrontDoor, reply: FrontReply, text: str) -> bool:
    """Whether ``reply`` says ``text``: exactly on Discord; on Slack as one of its lines (Slack repeats the text
    as the notification's fallback, and a search box's label and placeholder are text too)."""
    return reply.text == text if door.platform == "discord" else text in reply.text.split("\n")


# -- slow commands -----------------------------------------------------------------------------------------


async def test_a_slow_command_shows_a_wait_at_once_then_its_answer_takes_its_place(slow: FrontDoor,
                                                                                  gate: Gate) -> None:
    door = slow
    sent = await door.send("test scan")
    wait = await door.first(sent)
    assert wait.wait and wait.private and not wait.replaced, "a private wait of its own"
    assert gate.finished == [] and await door.posts(sent) == 1, "shown while the handler still works"
    gate.release.set()
    outcome = await door.answer(sent)
    assert outcome.replaced and says(door, outcome, "Scanned 12 files.")
    assert f"Scanned {bold(door, '12')} files." in outcome.marked
    if door.platform == "discord":  # the edit says only that
        assert outcome.marked == "Scanned **12** files."
    assert wait.at < gate.finished[0] < outcome.at
    assert await door.posts(sent) == 2, "the wait, then the answer in its place; nothing else"


async def test_a_quick_command_shows_no_wait(slow: FrontDoor) -> None:
    door = slow
    sent = await door.send("help")
    reply = await door.first(sent)
    assert not reply.wait and not reply.replaced and "RAD commands you can use" in reply.text
    door.settle()
    if door.platform == "slack":  # one message (Discord continues a text this long in follow-ups)
        assert await door.posts(sent) == 1


async def test_a_public_outcome_is_posted_in_the_channel_after_the_private_wait(slow: FrontDoor,
                                                                                gate: Gate) -> None:
    door = slow
    gate.release.set()
    sent = await door.send("test announce")
    wait = await door.first(sent)
    assert wait.wait and wait.private
    outcome = await door.answer(sent)
    assert not outcome.private and not outcome.replaced and says(door, outcome, "The scan found 3 modules.")
    assert await door.posts(sent) == 3
    if door.platform == "slack":  # the placeholder is deleted, then the outcome posted in the channel
        _, deleted, posted = door.harness.emulator.calls(sent.hook)  # type: ignore[attr-defined]
        assert deleted.body.get("delete_original") is True and posted.body["response_type"] == "in_channel"
    else:  # Discord cannot delete a deferral: it says done, privately, and the outcome follows in public
        [note] = door.harness.emulator.find("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")  # type: ignore[attr-defined]
        assert note.json["content"] == "✅ Done."


async def test_a_failing_slow_command_answers_with_an_error_id(slow: FrontDoor, gate: Gate) -> None:
    door = slow
    gate.release.set()
    sent = await door.send("test crash")
    assert (await door.first(sent)).wait
    outcome = await door.answer(sent)
    assert outcome.replaced and outcome.private
    assert "error id" in outcome.text and "scanner on fire" not in door.sent()


# -- slow clicks --------------------------------------------------------------------------------------------


async def test_a_slow_click_waits_in_the_message_then_the_answer_replaces_it(slow: FrontDoor, gate: Gate) -> None:
    door = slow
    offer = await door.command("test offer")
    assert not offer.private
    sent = await door.send_click(offer, "Rescan")
    wait = await door.first(sent)
    assert wait.wait and wait.replaced, "the wait takes the clicked message's place"
    assert gate.finished == [] and await door.posts(sent) == 1
    gate.release.set()
    outcome = await door.answer(sent)
    assert outcome.replaced and says(door, outcome, "Rescanned net.")
    assert f"Rescanned {bold(door, 'net')}." in outcome.marked
    if door.platform == "discord":
        assert outcome.marked == "Rescanned **net**."
    assert wait.at < gate.finished[0] < outcome.at
    assert door.clicked_now(outcome).marked == outcome.marked, "the message shows the answer"


async def test_a_private_answer_to_a_slow_click_leaves_the_public_message(slow: FrontDoor, gate: Gate) -> None:
    door = slow
    offer = await door.command("test offer")
    gate.release.set()
    sent = await door.send_click(offer, "Details")
    wait = await door.first(sent)
    assert wait.wait and wait.replaced
    outcome = await door.answer(sent)
    assert outcome.private and not outcome.replaced and says(door, outcome, "Only you see the details of net.")
    now = door.clicked_now(outcome)
    assert now.text == offer.text and [b.label for b in now.buttons] == ["Rescan", "Details"]
    # Slack puts the message back over its placeholder (one post more); Discord never touched it
    assert await door.posts(sent) == {"slack": 3, "discord": 2}[door.platform]
    if door.platform == "slack":
        restored = door.harness.emulator.calls(sent.hook)[1].body  # type: ignore[attr-defined]
        assert restored["replace_original"] is True and restored["blocks"] == offer.raw["blocks"]


# -- search boxes -------------------------------------------------------------------------------------------


async def test_a_search_reaches_the_handler_and_the_box_keeps_what_was_typed(slow: FrontDoor) -> None:
    door = slow
    browse = await door.command("test browse")
    await door.restart()  # the search box needs nothing kept in memory
    found = await door.search(browse, "net", label="Search modules", shows="")
    assert found.replaced and says(door, found, "Modules matching `net` in conn7.")
    await door.restart()
    again = await door.search(found, "db", label="Search modules", shows="net")  # the last search is shown
    assert again.replaced and says(door, again, "Modules matching `db` in conn7.")


async def test_a_slow_search_waits_then_replaces_the_message(slow: FrontDoor, gate: Gate) -> None:
    door = slow
    browse = await door.command("test browse")
    sent = await door.send_search(browse, "db", label="Search slowly")
    wait = await door.first(sent)
    assert wait.wait and wait.replaced and gate.finished == []
    gate.release.set()
    outcome = await door.answer(sent)
    assert outcome.replaced and says(door, outcome, "Slowly found `db`.")
    assert wait.at < gate.finished[0] < outcome.at
    assert says(door, door.clicked_now(outcome), "Slowly found `db`.")


# -- Slack only: what its placeholder and Block Kit do ---------------------------------------------------


@pytest.fixture
def slack_slow(config: Config, db: Database, emulator: SlackEmulator, gate: Gate) -> Iterator[sh.Harness]:
    runtime = sh.runtime_with(slow_registry(gate), db, sh.slack_config(config, emulator))
    with sh.running_harness(runtime, emulator) as running:
        yield running
        gate.release.set()


def posts(harness: sh.Harness, answer: sh.Answer, count: int) -> list[Call]:
    """The first ``count`` posts to the request's response_url (waiting for them)."""
    return harness.emulator.wait_for(answer.hook, count, timeout=5)[:count]


def is_placeholder(call: Call) -> bool:
    return WORKING in texts(call.body) and call.body["response_type"] == "ephemeral"


def test_slack_a_form_opens_while_the_trigger_is_fresh(slack_slow: sh.Harness, gate: Gate) -> None:
    """A Slack trigger id opens a modal only within 3 seconds of the command."""
    gate.release.set()
    answer = slack_slow.command("test survey")
    (opened,) = slack_slow.emulator.wait_for("views.open", timeout=5)
    assert opened.body["view"]["callback_id"] == "test:survey"
    placeholder, deleted = posts(slack_slow, answer, 2)
    assert is_placeholder(placeholder) and deleted.body.get("delete_original") is True


def test_slack_a_form_after_the_trigger_expired_asks_to_run_the_command_again(
    slack_slow: sh.Harness, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_answers, "TRIGGER_FRESH", 0.0)
    gate.release.set()
    answer = slack_slow.command("test survey")
    _, outcome = posts(slack_slow, answer, 2)
    assert outcome.body["replace_original"] is True
    assert "_Survey_ needs a form" in texts(outcome.body) and "run the command again" in texts(outcome.body)
    slack_slow.settle()
    assert slack_slow.emulator.calls("views.open") == []


def test_slack_a_quick_click_shows_no_placeholder(slack_slow: sh.Harness) -> None:
    answer = slack_slow.click("admin:users:page#0", "1")
    slack_slow.settle()
    assert not any(WORKING in texts(c.body) for c in slack_slow.emulator.calls(answer.hook))


def test_slack_a_search_box_is_an_input_block_that_dispatches_on_enter(slack_slow: sh.Harness) -> None:
    reply = slack_slow.reply(slack_slow.command("test browse"))
    box = next(b for b in reply["blocks"] if b["type"] == "input")
    assert box["dispatch_action"] is True and box["label"]["text"] == "Search modules"
    element = box["element"]
    assert element["type"] == "plain_text_input" and "initial_value" not in element
    assert element["dispatch_action_config"] == {"trigger_actions_on": ["on_enter_pressed"]}
    assert decode_action_id(element["action_id"]) == ("test:find", "conn7")
    assert [b["type"] for b in reply["blocks"]] == ["section", "input", "input", "actions"]

    found = slack_slow.reply(slack_slow.interact(slack_slow.search_body(element["action_id"], "net")))
    assert found["replace_original"] is True
    assert "Modules matching `net` in conn7." in texts(found)
    (again,) = [b for b in found["blocks"] if b["type"] == "input"]
    assert again["element"]["initial_value"] == "net"


def test_slack_socket_mode_search(slack_slow: sh.Harness) -> None:
    body = slack_slow.search_body("test:find#0:conn9", "db")
    assert slack_slow.socket(body).status == 200
    hook = "/webhook/" + body["response_url"].rsplit("/", 1)[1]
    assert "Modules matching `db` in conn9." in texts(slack_slow.emulator.wait_for(hook)[0].body)


# -- Discord only: a modal cannot follow a deferral, and its search modal's ids -------------------------


@pytest.fixture
async def bot(db: Database, config: Config, gate: Gate) -> AsyncIterator[dh.Harness]:
    async with dh.running_bot(db, config, registry=slow_registry(gate), defer_after=30.0) as harness:
        try:
            yield harness
        finally:
            gate.release.set()


async def public_message(bot: dh.Harness, command: str) -> dict[str, Any]:
    """Run ``command`` (answered at once with a public message); the message as Discord stored it."""
    bot.slash(command)
    [*_, answer] = await bot.callbacks()
    assert answer.json["type"] == 4 and answer.message is not None
    bot.emulator.clear()
    return answer.message


async def test_discord_a_form_from_a_slow_command_opens_from_a_button(bot: dh.Harness, gate: Gate) -> None:
    """A deferred interaction cannot open a modal: the answer carries a button that does."""
    gate.release.set()
    sent = bot.slash("test survey")
    assert (await bot.last_callback())["type"] == DEFERRED
    [edit] = await bot.original_edits(sent)
    assert "Survey" in edit.json["content"]
    message = edit.response
    bot.click(message, dh.custom_id_of(edit.json, "Open the form"))
    modal = await bot.last_callback(2)
    assert modal["type"] == MODAL and modal["data"]["title"] == "Survey"
    bot.validate_all()


def search_button(body: dict[str, Any], label: str) -> dict[str, Any]:
    [found] = [c for c in dh.components_of(body) if c.get("label") == label]
    return found


async def test_discord_a_search_button_and_its_modal_survive_restarts(bot: dh.Harness) -> None:
    """The search box's ids carry all it needs (action, value, last search), whatever restarts in between."""
    message = await public_message(bot, "test browse")
    button = search_button(message, "Search modules")
    assert button["emoji"]["name"] == "🔍" and button["custom_id"] == "radq|test:find|conn7||"

    await bot.restart()
    bot.click(message, button["custom_id"])
    modal = await bot.last_callback()
    assert modal["type"] == MODAL
    validate_schema(modal, "ModalInteractionCallbackRequest")
    assert modal["data"]["title"] == "Search modules" and modal["data"]["custom_id"] == "radqs|test:find|conn7"
    [box] = dh.components_of(modal)
    assert box["type"] == 4 and box["custom_id"] == "query" and "value" not in box

    await bot.restart()
    bot.submit(modal["data"]["custom_id"], {"query": "  net "}, message=message)
    [*_, found] = await bot.callbacks(2)
    assert found.json["type"] == UPDATE
    assert found.json["data"]["content"] == "Modules matching `net` in conn7."
    again = search_button(found.json, "Search modules")
    assert again["custom_id"] == "radq|test:find|conn7||net"
    assert found.message is not None and found.message["id"] == message["id"]

    bot.click(found.message, again["custom_id"])
    [box] = dh.components_of(await bot.last_callback(3))
    assert box["value"] == "net", "the last search is prefilled"
    bot.validate_all()


async def test_discord_a_search_for_an_unknown_action_says_so(bot: dh.Harness) -> None:
    message = await public_message(bot, "test browse")
    bot.submit("radqs|gone:away|x", {"query": "net"}, message=message)
    body = await bot.last_callback()
    assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL
    assert "That button no longer does anything" in body["data"]["content"]
