"""End to end on Discord: connect a repository of 20 modules, publish some with ``/rad publish`` (a deferred
answer, the select, the search modal, pages, a double click on Publish), then browse them with ``/rad modules``
(tabs, pins).

Raw INTERACTION_CREATE payloads go into the real discord.py client, against the Discord and GitHub
emulators; every call the bot makes is validated against Discord's API description.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from core.config import Config
from core.services import Services
from storage.db import Database
from storage.models import AuditEvent, Deployment, Module, utcnow
from storage.models.states import DeploymentStatus
from tests.emulators import discord_objects as obj
from tests.emulators.discord import Call
from tests.emulators.github import GitHubEmulator
from tests.support.discord_harness import (
    ADMIN_ID,
    USER_ID,
    USER_OPTION,
    Harness,
    components_of,
    custom_id_of,
    running_bot,
)
from tests.support.discord_spec import validate_call, validate_schema
from tests.support.sample_repository import BROKEN, repository_files

EPHEMERAL = 64
MESSAGE, DEFERRED, UPDATE, MODAL = 4, 5, 7, 9
SELECT = 3
CALLBACK = r"/interactions/\d+/[^/]+/callback"
OTHER_ID = "900000000000000003"
Json = dict[str, Any]


# -- reading what the bot sent ---------------------------------------------------------------------------


class Screen:
    """Counts the interaction callbacks, so that each step reads the answer to the interaction it sent."""

    def __init__(self, bot: Harness) -> None:
        self.bot = bot
        self.count = len(bot.emulator.find("POST", CALLBACK))

    async def next(self) -> Call:
        """The next interaction callback, validated."""
        self.count += 1
        calls = await self.bot.callbacks(self.count, timeout=10)
        return calls[self.count - 1]


def cards(body: Json) -> dict[str, Json]:
    """The embeds by title, each with its fields by name."""
    data = body.get("data", body)
    return {e["title"]: {"text": e.get("description") or "", **{f["name"]: f["value"] for f in e.get("fields", [])}}
            for e in data.get("embeds") or []}


def picker(body: Json) -> Json:
    (found,) = [c for c in components_of(body) if c["type"] == SELECT]
    return found


def ticked(body: Json) -> list[str]:
    return [o["value"] for o in picker(body)["options"] if o.get("default")]


def label_of(body: Json, prefix: str) -> str:
    return next(str(c["label"]) for c in components_of(body) if str(c.get("label", "")).startswith(prefix))


# -- acting like Discord ----------------------------------------------------------------------------------


async def connect(bot: Harness, screen: Screen, github: GitHubEmulator) -> None:
    """The admin makes the user a partner, who connects ``pat/modules`` through the modal and the picker."""
    github.add_repo("pat/modules", repository_files())
    bot.slash("admin grant", {"user": USER_ID, "role": "partner"}, types={"user": USER_OPTION},
              resolved=[obj.user(USER_ID, "pat")])
    assert "is now a partner" in (await screen.next()).json["data"]["content"]
    bot.slash("connect", user_id=USER_ID)
    modal = (await screen.next()).json
    validate_schema(modal, "ModalInteractionCallbackRequest")
    submitted = bot.submit(modal["data"]["custom_id"], {"token": github.add_token("pat")}, user_id=USER_ID)
    assert (await screen.next()).json == {"type": DEFERRED, "data": {"flags": EPHEMERAL}}
    [answer] = await bot.original_edits(submitted, timeout=10)
    assert answer.response is not None
    click = bot.click(answer.response, picker(answer.json)["custom_id"], component_type=SELECT,
                      values=["pat/modules"], user_id=USER_ID)
    assert (await screen.next()).json["type"] == 6  # a slow action: deferred, GitHub is asked with no transaction
    [chosen] = await bot.original_edits(click, timeout=10)
    assert "Connected **pat/modules**" in chosen.json["content"]


@pytest.fixture
async def bot(db: Database, config: Config, services: Services, github: GitHubEmulator) -> AsyncIterator[Harness]:
    """A client logged in against the emulator; the user is a partner with ``pat/modules`` connected."""
    async with running_bot(db, config, services=services) as harness:
        await connect(harness, Screen(harness), github)
        yield harness


async def open_publish(bot: Harness, screen: Screen) -> tuple[Json, Json]:
    """``/rad publish``: deferred at once (privately), then the first page edits the response.

    Returns the page's body and the message as Discord stored it.
    """
    sent = bot.slash("publish", user_id=USER_ID)
    assert (await screen.next()).json == {"type": DEFERRED, "data": {"flags": EPHEMERAL}}
    [edit] = await bot.original_edits(sent, timeout=10)
    assert edit.response is not None and edit.response["flags"] & EPHEMERAL
    return edit.json, edit.response


async def updated(screen: Screen) -> tuple[Json, Json]:
    """The next callback, which must update the clicked message in place: its data and the stored message."""
    call = await screen.next()
    assert call.json["type"] == UPDATE, call.json
    assert call.message is not None
    return call.json["data"], call.message


async def tick(bot: Harness, screen: Screen, message: Json, names: list[str]) -> tuple[Json, Json]:
    """Choose ``names`` in the page's select: Discord sends the chosen values."""
    bot.click(message, picker(message)["custom_id"], component_type=SELECT, values=names, user_id=USER_ID)
    return await updated(screen)


async def press(bot: Harness, screen: Screen, message: Json, label: str) -> tuple[Json, Json]:
    bot.click(message, custom_id_of(message, label), user_id=USER_ID)
    return await updated(screen)


async def search(bot: Harness, screen: Screen, message: Json, text: str, prefilled: str = "") -> tuple[Json, Json]:
    """Click the 🔍 button, check its modal, type ``text`` and submit."""
    button = next(c for c in components_of(message) if (c.get("emoji") or {}).get("name") == "🔍")
    bot.click(message, button["custom_id"], user_id=USER_ID)
    modal = (await screen.next()).json
    assert modal["type"] == MODAL
    validate_schema(modal, "ModalInteractionCallbackRequest")
    [box] = components_of(modal)
    assert box["custom_id"] == "query" and box.get("value", "") == prefilled
    bot.submit(modal["data"]["custom_id"], {"query": text}, user_id=USER_ID, message=message)
    return await updated(screen)


def syncs(db: Database) -> int:
    with db.unit_of_work() as s:
        return len(s.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.sync")).all())


# -- the tests -----------------------------------------------------------------------------------------


async def test_publish_ticks_searches_pages_and_publishes_once(bot: Harness, db: Database) -> None:
    screen = Screen(bot)
    first, message = await open_publish(bot, screen)
    assert "**20 module folders**" in first["content"] and "page 1 of 3" in first["content"]
    shown = cards(first)
    assert list(shown) == [f"mod-{n:02}" for n in range(8)]
    assert shown["mod-00"]["State"] == "🆕 new" and shown["mod-00"]["text"] == "The mod-00 module"
    assert shown[BROKEN]["State"] == "⚠️ invalid"
    assert "main.tf" in shown[BROKEN]["text"] and "line 2" in shown[BROKEN]["text"]
    assert [o["value"] for o in picker(first)["options"]] == [f"mod-{n:02}" for n in range(8) if n != 3]
    assert ticked(first) == [] and label_of(first, "Publish") == "Publish (0 selected)"

    page, message = await tick(bot, screen, message, ["mod-00", "mod-01"])
    assert ticked(page) == ["mod-00", "mod-01"] and cards(page)["mod-01"]["State"] == "🆕 new – selected"
    assert label_of(page, "Publish") == "Publish (2 selected)"

    page, message = await search(bot, screen, message, "mod-1")
    assert "10 matching `mod-1`" in page["content"] and "page 1 of 2" in page["content"]
    assert list(cards(page)) == [f"mod-{n}" for n in range(10, 18)]
    page, message = await tick(bot, screen, message, ["mod-12"])
    page, message = await press(bot, screen, message, "Next")
    assert list(cards(page)) == ["mod-18", "mod-19"] and "page 2 of 2" in page["content"]
    page, message = await tick(bot, screen, message, ["mod-19"])
    assert label_of(page, "Publish") == "Publish (4 selected)"

    page, message = await search(bot, screen, message, "", prefilled="mod-1")
    assert "page 1 of 3" in page["content"] and ticked(page) == ["mod-00", "mod-01"]
    page, message = await press(bot, screen, message, "Next")
    assert list(cards(page)) == [f"mod-{n:02}" for n in range(8, 16)] and ticked(page) == ["mod-12"]

    apply = custom_id_of(message, "Publish")
    first_click = bot.click(message, apply, user_id=USER_ID)
    bot.click(message, apply, user_id=USER_ID)  # a double click: a second interaction at once
    bot.feed(first_click)  # and the first one delivered twice
    for _ in range(2):
        done, message = await updated(screen)
        assert done["content"] == "**Published:** `mod-00`, `mod-01`, `mod-12`, `mod-19`"
        assert done["embeds"] == [] and done["components"] == []
    await asyncio.sleep(0.2)
    assert len(bot.emulator.find("POST", CALLBACK)) == screen.count, "the re-delivered click is dropped"
    assert syncs(db) == 1
    with db.unit_of_work() as s:
        assert sorted(m.name for m in s.scalars(select(Module))) == ["mod-00", "mod-01", "mod-12", "mod-19"]
    bot.validate_all()


async def test_published_modules_come_ticked_and_unticking_removes_them(bot: Harness, db: Database) -> None:
    screen = Screen(bot)
    _, message = await open_publish(bot, screen)
    _, message = await tick(bot, screen, message, ["mod-02"])
    done, _ = await press(bot, screen, message, "Publish")
    assert done["content"] == "**Published:** `mod-02`"
    again, message = await open_publish(bot, screen)
    assert cards(again)["mod-02"]["State"] == "✅ published – selected" and ticked(again) == ["mod-02"]
    assert label_of(again, "Update") == "Update (1 selected)"
    assert picker(again)["min_values"] == 0, "a multi-select can be emptied"
    cleared, message = await tick(bot, screen, message, [])
    assert ticked(cleared) == [] and label_of(cleared, "Publish") == "Publish (0 selected)"
    removed, _ = await press(bot, screen, message, "Publish")
    assert removed["content"] == "**Removed:** `mod-02`"
    with db.unit_of_work() as s:
        assert s.scalars(select(Module)).all() == []
    assert syncs(db) == 2
    bot.validate_all()


async def test_unticking_a_module_with_live_deployments_asks_first(bot: Harness, db: Database) -> None:
    screen = Screen(bot)
    _, message = await open_publish(bot, screen)
    _, message = await tick(bot, screen, message, ["mod-02"])
    await press(bot, screen, message, "Publish")
    with db.unit_of_work() as s:
        found = s.scalars(select(Module).where(Module.name == "mod-02")).one()
        s.add(Deployment(short_id="live", module_id=found.id, module_name="mod-02", owner_id=found.owner_id,
                         status=DeploymentStatus.SUCCESS, commit=found.commit, created_at=utcnow()))
    _, message = await open_publish(bot, screen)
    _, message = await tick(bot, screen, message, [])
    asked, message = await press(bot, screen, message, "Publish")
    assert "Publishing removes `mod-02` (1 live deployment) from the catalog." in asked["content"]
    assert label_of(asked, "Remove") == "Remove and publish" and label_of(asked, "Back") == "Back to the list"
    with db.unit_of_work() as s:
        assert [m.name for m in s.scalars(select(Module))] == ["mod-02"], "asked first: nothing removed yet"
    removed, _ = await press(bot, screen, message, "Remove and publish")
    assert removed["content"] == "**Removed:** `mod-02`"
    bot.validate_all()


async def test_nobody_else_can_use_the_publish_list(bot: Harness, db: Database) -> None:
    screen = Screen(bot)
    _, message = await open_publish(bot, screen)
    bot.click(message, custom_id_of(message, "Publish"), user_id=ADMIN_ID)
    refused = await screen.next()
    assert refused.json["type"] == MESSAGE and refused.json["data"]["flags"] & EPHEMERAL
    assert "This publish list belongs to someone else." in refused.json["data"]["content"]
    bot.click(message, custom_id_of(message, "Publish"), user_id=OTHER_ID)
    assert "Only partners can use this button." in (await screen.next()).json["data"]["content"]
    assert syncs(db) == 0 and bot.emulator.messages[message["id"]]["embeds"], "the page is left as it was"
    bot.validate_all()


@dataclass
class Answer:
    """A multi-message answer: a card with buttons ends a message (Discord shows buttons below all embeds);
    in a ``/rad modules`` listing the tabs come last."""

    messages: list[Json]

    @property
    def content(self) -> str:
        return str(self.messages[0]["content"])

    @property
    def titles(self) -> list[str]:
        return [title for m in self.messages for title in cards(m)]

    @property
    def tabs(self) -> Json:
        return self.messages[-1]

    def card_message(self, title: str) -> Json:
        return next(m for m in self.messages if title in cards(m))


async def answered(bot: Harness, screen: Screen, sent: Json, kind: int, follow_ups: int) -> Answer:
    """The answer to ``sent``: its response (of ``kind``) and ``follow_ups`` more messages, validated."""
    call = await screen.next()
    assert call.json["type"] == kind and call.message is not None
    if kind == MESSAGE:
        assert call.json["data"]["flags"] & EPHEMERAL
    more = await bot.emulator.wait_for("POST", rf"/webhooks/\d+/{re.escape(sent['token'])}", count=follow_ups,
                                       timeout=10) if follow_ups else []
    for follow_up in more:
        validate_call(follow_up)
        assert follow_up.json["flags"] & EPHEMERAL
    return Answer([call.message, *(c.response for c in more)])


async def test_modules_tabs_update_in_place_and_pins_come_first(bot: Harness) -> None:
    screen = Screen(bot)
    _, message = await open_publish(bot, screen)
    _, message = await tick(bot, screen, message, ["mod-00", "mod-05", "mod-07"])
    await press(bot, screen, message, "Publish")

    everything = await answered(bot, screen, bot.slash("modules", user_id=USER_ID), MESSAGE, 3)
    assert "**All modules** – 3 modules," in everything.content
    assert everything.titles == ["mod-00", "mod-05", "mod-07"]
    assert cards(everything.card_message("mod-05"))["mod-05"]["Credit cost"] == "5"
    tabs = components_of(everything.tabs)
    assert [c["label"] for c in tabs] == ["Platform", "Partner", "📌 Pinned", "All"]
    assert [c["style"] for c in tabs] == [2, 2, 2, 1], "the current tab is the primary button"

    sent = bot.click(everything.tabs, custom_id_of(everything.tabs, "Partner"), user_id=USER_ID)
    partner = await answered(bot, screen, sent, UPDATE, 3)
    assert partner.messages[0]["id"] == everything.messages[-1]["id"], "the clicked message is updated in place"
    assert "**Partner modules**" in partner.content and partner.titles == ["mod-00", "mod-05", "mod-07"]
    sent = bot.click(partner.tabs, custom_id_of(partner.tabs, "Platform"), user_id=USER_ID)
    platform = await answered(bot, screen, sent, UPDATE, 0)
    assert "0 modules," in platform.content and platform.titles == []

    card = partner.card_message("mod-07")
    assert [c["label"] for c in components_of(card)] == ["🚀 Deploy", "Details", "📌 Pin"]
    pin = custom_id_of(card, "📌 Pin")
    sent = bot.click(card, pin, user_id=USER_ID)
    pinned = await answered(bot, screen, sent, UPDATE, 3)
    assert pinned.messages[0]["id"] == card["id"] and "**Partner modules**" in pinned.content
    assert pinned.titles == ["📌 mod-07", "mod-00", "mod-05"], "pinned first"
    assert custom_id_of(pinned.messages[0], "Unpin") == pin

    sent = bot.click(pinned.tabs, custom_id_of(pinned.tabs, "📌 Pinned"), user_id=USER_ID)
    only = await answered(bot, screen, sent, UPDATE, 1)
    assert only.titles == ["📌 mod-07"]
    sent = bot.click(only.messages[0], custom_id_of(only.messages[0], "Unpin"), user_id=USER_ID)
    unpinned = await answered(bot, screen, sent, UPDATE, 0)
    assert unpinned.titles == [] and "Pin a module with its 📌 button" in unpinned.content

    details = await answered(bot, screen, bot.slash("module", {"module": "mod-05"}, user_id=USER_ID), MESSAGE, 1)
    assert details.titles == ["mod-05", "Inputs", "Outputs"]
    about, inputs = details.messages
    assert cards(about)["mod-05"]["Commit"].startswith("`")
    assert [c["label"] for c in components_of(about)] == ["🚀 Deploy", "📌 Pin"]
    assert "`size` (number) **required**" in cards(inputs)["Inputs"]["text"]
    bot.validate_all()
