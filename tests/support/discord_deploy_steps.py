"""Driving ``/rad deploy`` on Discord step by step (interactions fed to the real discord.py client), for scenarios
that need the raw callbacks and components (the plan review's buttons and files)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.discord.messenger import DiscordMessenger
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.services import Services
from storage.db import Database
from tests.emulators import discord_objects as obj
from tests.emulators.discord import Call
from tests.integration.test_deploy_retry import Seen
from tests.support.discord_harness import USER_ID, USER_OPTION, Harness, components_of, running_bot
from tests.support.engines import embedded_terraform

EPHEMERAL = 64


@pytest.fixture
async def bot(db: Database, config: Config, services: Services) -> AsyncIterator[Harness]:
    """A logged-in client; the example modules published; the user awarded 100 credits by the admin."""
    async with running_bot(db, config, services=services) as harness:
        await asyncio.to_thread(seed, db, harness.runtime.dispatcher.services,
                                Caller(IdentityKey("console", "", "demo-admin"), "demo"))
        harness.slash("whoami", user_id=USER_ID)
        await harness.callbacks(1)
        harness.slash("admin credits", {"user": USER_ID, "kind": "award", "amount": "100"},
                      types={"user": USER_OPTION}, resolved=[obj.user(USER_ID, "uma")])
        [*_, awarded] = await harness.callbacks(2)
        assert "Awarded 100 credits" in awarded.json["data"]["content"], awarded.json
        harness.emulator.clear()
        yield harness


async def callback(bot: Harness, number: int) -> Call:
    """The ``number``-th interaction callback (1-based) since the last ``clear``, validated."""
    return (await bot.callbacks(number, timeout=10))[number - 1]


def answers_for(modal: dict[str, Any], answers: dict[str, str]) -> dict[str, str | list[str] | bool]:
    """A submission of ``modal``: the given answers, else what each input shows already."""
    values: dict[str, str | list[str] | bool] = {}
    for component in components_of(modal):
        name = str(component.get("custom_id", ""))
        if component["type"] == 4:
            values[name] = answers.get(name, component.get("value", ""))
        elif component["type"] == 3:
            given = answers.get(name)
            values[name] = [given] if given else [o["value"] for o in component["options"] if o.get("default")]
    return values


async def deploy_to_confirmation(bot: Harness, module: str, user_id: str = USER_ID,
                                 answers: dict[str, str] | None = None) -> Call:
    """``/rad deploy <module>``, every modal step submitted; the private confirmation (a callback)."""
    answers = answers or {}
    bot.slash("deploy", {"module": module}, user_id=user_id)
    number = 1
    while True:
        shown = await callback(bot, number)
        body = shown.json
        if body["type"] == 9:  # a modal step
            modal = body["data"]
            bot.submit(modal["custom_id"], answers_for(modal, answers), user_id=user_id)
        elif any(str(c.get("custom_id", "")).startswith("radn|") for c in components_of(body)):
            assert shown.message is not None  # "Continue": a modal cannot open another modal
            [step] = [c["custom_id"] for c in components_of(body) if c["custom_id"].startswith("radn|")]
            bot.click(shown.message, step, user_id=user_id)
        else:
            assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL, body
            return shown
        number += 1


def button(call: Call, action_id: str) -> str | None:
    """The custom id of the button that runs ``action_id``, if the message has one."""
    return next((str(c["custom_id"]) for c in components_of(call.json)
                 if str(c.get("custom_id", "")).split("|")[1:2] == [action_id]), None)


async def click(bot: Harness, message: dict[str, Any] | None, custom_id: str | None, times: int = 1) -> list[Call]:
    """Click ``custom_id`` on ``message`` (``times`` in a row); the callbacks the clicks got."""
    assert message is not None and custom_id is not None
    before = len(await bot.callbacks(0))
    for _ in range(times):
        bot.click(message, custom_id, user_id=USER_ID)
    return (await bot.callbacks(before + times, timeout=10))[before:]

def worker(bot: Harness) -> tuple[DeployWorker, DiscordMessenger]:
    """A deploy worker on the embedded engine, reporting through a REST messenger pointed at the emulator."""
    messenger = DiscordMessenger(bot.runtime.config)
    return DeployWorker(bot.runtime, {"discord": messenger}, name="discord-test-worker",
                        terraform=embedded_terraform), messenger


async def run_worker(bot: Harness) -> None:
    """Run one queued run with the real worker."""
    deploy_worker, messenger = worker(bot)
    try:
        assert await asyncio.to_thread(deploy_worker.run_once)
    finally:
        await asyncio.to_thread(messenger.close)


def seen(call: Call) -> Seen:
    """What a callback or a channel message shows, with its buttons (clicked on the message Discord stored)."""
    body = call.json.get("data", call.json) if call.json.get("type") in (4, 7) else call.json
    embeds = body.get("embeds") or []
    text = "\n".join([str(body.get("content") or "")] + [
        f"{e.get('title', '')}\n{e.get('description', '')}\n" + "\n".join(
            f"{f['name']}: {f['value']}" for f in e.get("fields") or []) for e in embeds])
    found = {str(c["custom_id"]).split("|")[1]: (call.message, str(c["custom_id"]))
             for c in components_of(call.json) if str(c.get("custom_id", "")).count("|")}
    return Seen(text, found)
