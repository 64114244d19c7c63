"""Slow commands and actions on Discord (deferred at once, then the answer edits the response), and search
boxes (a 🔍 button opening a one-field modal), end to end through the real discord.py client."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from commands import load_registry
from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Registry
from commands.ui.model import Button, Form, Input, Reply, SearchBox
from core.config import Config
from storage.db import Database
from tests.support.discord_harness import Harness, components_of, custom_id_of, running_bot
from tests.support.discord_spec import validate_schema

EPHEMERAL = 64
DEFERRED, DEFERRED_UPDATE, UPDATE, MODAL = 5, 6, 7, 9


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
    """The shared registry plus slow commands and actions and a search box, in a copy."""
    registry = load_registry().copy()

    @registry.command("scan", "Scan a repository", slow=True)
    def scan(ctx: Context) -> Reply:
        gate.wait()
        gate.done()
        return Reply(text="Scanned *12* files.")

    @registry.command("survey", "A slow command that asks for a form", slow=True)
    def survey(ctx: Context) -> Form:
        gate.wait()
        return Form("Survey", "test:survey", (Input("name", "Name"),))

    @registry.command("offer", "A public message with slow buttons")
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

    @registry.command("browse", "Browse with search boxes")
    def browse(ctx: Context) -> Reply:
        return Reply(text="Modules", ephemeral=False,
                     actions=(SearchBox("test:find", "Search modules", value="conn7"),
                              SearchBox("test:slowfind", "Search slowly", value="conn7")))

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
async def bot(db: Database, config: Config, gate: Gate) -> AsyncIterator[Harness]:
    """A client whose fallback deferral (after ``defer_after``) never comes: every deferral is the explicit one."""
    async with running_bot(db, config, registry=slow_registry(gate), defer_after=30.0) as harness:
        try:
            yield harness
        finally:
            gate.release.set()


async def public_message(bot: Harness, command: str) -> dict[str, Any]:
    """Run ``command`` (answered at once with a public message); the message as Discord stored it."""
    bot.slash(command)
    [*_, answer] = await bot.callbacks()
    assert answer.json["type"] == 4 and answer.message is not None
    bot.emulator.clear()
    return answer.message


# -- slow commands ------------------------------------------------------------------------------------

async def test_a_slow_command_is_deferred_at_once_then_its_answer_replaces_the_wait(bot: Harness,
                                                                                  gate: Gate) -> None:
    sent = bot.slash("scan")
    [deferred] = await bot.callbacks()
    assert deferred.json == {"type": DEFERRED, "data": {"flags": EPHEMERAL}}
    assert gate.finished == [] and bot.emulator.find("PATCH") == [], "deferred while the handler still works"
    gate.release.set()
    [edit] = await bot.original_edits(sent)
    assert edit.json["content"] == "Scanned **12** files."
    assert deferred.at < gate.finished[0] < edit.at
    bot.validate_all()


async def test_a_quick_command_is_not_deferred(bot: Harness) -> None:
    bot.slash("help")
    assert (await bot.last_callback())["type"] == 4


async def test_a_form_from_a_slow_command_opens_from_a_button(bot: Harness, gate: Gate) -> None:
    gate.release.set()
    sent = bot.slash("survey")
    assert (await bot.last_callback())["type"] == DEFERRED
    [edit] = await bot.original_edits(sent)
    assert "Survey" in edit.json["content"]
    message = edit.response
    bot.click(message, custom_id_of(edit.json, "Open the form"))
    modal = await bot.last_callback(2)
    assert modal["type"] == MODAL and modal["data"]["title"] == "Survey"
    bot.validate_all()


# -- slow actions -------------------------------------------------------------------------------------

async def test_a_slow_click_is_a_deferred_update_then_the_answer_edits_the_message(bot: Harness,
                                                                                   gate: Gate) -> None:
    message = await public_message(bot, "offer")
    click = bot.click(message, custom_id_of({"components": message["components"]}, "Rescan"))
    [deferred] = await bot.callbacks()
    assert deferred.json == {"type": DEFERRED_UPDATE}
    assert gate.finished == [] and bot.emulator.find("PATCH") == []
    gate.release.set()
    [edit] = await bot.original_edits(click)
    assert edit.json["content"] == "Rescanned **net**."
    assert deferred.at < gate.finished[0] < edit.at
    assert bot.emulator.messages[message["id"]]["content"] == "Rescanned **net**."
    bot.validate_all()


async def test_a_private_answer_to_a_slow_click_follows_up_and_leaves_the_message(bot: Harness,
                                                                                  gate: Gate) -> None:
    message = await public_message(bot, "offer")
    gate.release.set()
    bot.click(message, custom_id_of({"components": message["components"]}, "Details"))
    assert (await bot.last_callback())["type"] == DEFERRED_UPDATE
    [followup] = await bot.emulator.wait_for("POST", r"/webhooks/\d+/[^/]+", timeout=3)
    assert followup.json["content"] == "Only you see the details of net."
    assert followup.json["flags"] & EPHEMERAL
    assert bot.emulator.find("PATCH") == [] and bot.emulator.messages[message["id"]]["content"] == "Module net"
    bot.validate_all()


# -- search boxes -------------------------------------------------------------------------------------

def search_button(body: dict[str, Any], label: str) -> dict[str, Any]:
    [found] = [c for c in components_of(body) if c.get("label") == label]
    return found


async def test_a_search_box_is_a_button_opening_a_modal_and_survives_a_restart(bot: Harness) -> None:
    message = await public_message(bot, "browse")
    button = search_button(message, "Search modules")
    assert button["emoji"]["name"] == "🔍" and button["custom_id"] == "radq|test:find|conn7||"

    await bot.restart()
    bot.click(message, button["custom_id"])
    modal = await bot.last_callback()
    assert modal["type"] == MODAL
    validate_schema(modal, "ModalInteractionCallbackRequest")
    assert modal["data"]["title"] == "Search modules" and modal["data"]["custom_id"] == "radqs|test:find|conn7"
    [box] = components_of(modal)
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
    [box] = components_of(await bot.last_callback(3))
    assert box["value"] == "net", "the last search is prefilled"
    bot.validate_all()


async def test_a_slow_search_is_deferred_then_edits_the_message(bot: Harness, gate: Gate) -> None:
    message = await public_message(bot, "browse")
    bot.click(message, search_button(message, "Search slowly")["custom_id"])
    form_id = (await bot.last_callback())["data"]["custom_id"]
    submitted = bot.submit(form_id, {"query": "db"}, message=message)
    [_, deferred] = await bot.callbacks(2)
    assert deferred.json == {"type": DEFERRED_UPDATE} and gate.finished == []
    gate.release.set()
    [edit] = await bot.original_edits(submitted)
    assert edit.json["content"] == "Slowly found `db`."
    assert bot.emulator.messages[message["id"]]["content"] == "Slowly found `db`."
    bot.validate_all()


async def test_a_search_for_an_unknown_action_says_so(bot: Harness) -> None:
    message = await public_message(bot, "browse")
    bot.submit("radqs|gone:away|x", {"query": "net"}, message=message)
    body = await bot.last_callback()
    assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL
    assert "That button no longer does anything" in body["data"]["content"]
