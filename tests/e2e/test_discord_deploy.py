"""End to end on Discord: ``/rad deploy`` through modal steps, the confirmation, the Confirm click, then the deploy
worker (embedded Terraform) reporting through ``DiscordMessenger``; every payload checked against the API spec."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.discord.messenger import DiscordMessenger
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.deployments.state import DatabaseStateStore
from core.deployments.status import DeploymentStatus
from core.services import Services
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from storage.db import Database
from storage.models import Base, CreditTransaction, Deployment
from tests.emulators import discord_objects as obj
from tests.emulators.discord import Call
from tests.integration.test_deploy_retry import Seen, retry_scenario
from tests.support.discord_harness import CHANNEL_ID, USER_ID, USER_OPTION, Harness, components_of, running_bot

EPHEMERAL = 64


@pytest.fixture
async def bot(db: Database, config: Config, services: Services,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    """A logged-in client; the example modules published; the user awarded 100 credits by the admin."""
    monkeypatch.setattr("bot.deploy_worker.find_engine",
                        lambda cfg: EmbeddedEngine(plugin_cache_dir(cfg.data_dir)))
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
    messenger = DiscordMessenger(bot.runtime.config)
    return DeployWorker(bot.runtime, {"discord": messenger}, name="discord-test-worker"), messenger


async def run_worker(bot: Harness) -> None:
    deploy_worker, messenger = worker(bot)
    try:
        assert await asyncio.to_thread(deploy_worker.run_once)
    finally:
        await asyncio.to_thread(messenger.close)


def fields_of(call: Call) -> dict[str, str]:
    return {f["name"]: f["value"] for e in call.json.get("embeds") or [] for f in e.get("fields") or []}


async def test_deploy_from_modal_to_result(bot: Harness, db: Database) -> None:
    confirmation = await deploy_to_confirmation(bot, "network-plan", answers={"network_name": "lab"})
    kinds = [c.json["type"] for c in await bot.callbacks(4)]
    assert kinds == [9, 4, 9, 4]  # modal, an "Open the form" button (a modal cannot open a modal), modal, confirmation
    card = confirmation.json["data"]["embeds"][0]
    assert card["title"] == "Deploy network-plan?" and "`network_name` = \"lab\"" in card["description"]
    assert {"Cost": "50 credits", "Available": "100 credits"}.items() <= {
        f["name"]: f["value"] for f in card["fields"]}.items()
    [queued] = await click(bot, confirmation.message, button(confirmation, "deploy:confirm"))
    assert queued.json["type"] == 7 and "is queued" in queued.json["data"]["content"]
    bot.emulator.clear()

    await run_worker(bot)
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS and deployment.charged
        short = deployment.short_id
    posts = bot.emulator.find("POST", r"/channels/\d+/messages")
    status = posts[0]
    assert status.path == f"/channels/{CHANNEL_ID}/messages" and status.message is not None
    message_id = status.message["id"]
    edits = bot.emulator.find("PATCH", r"/channels/\d+/messages/\d+")
    assert {e.path for e in edits} == {f"/channels/{CHANNEL_ID}/messages/{message_id}"}
    steps = [fields_of(e).get("Step", "") for e in edits]
    for step in ("init: running", "plan: done", "apply: running", "apply: done"):
        assert step in steps, (step, steps)
    assert fields_of(edits[-1])["Status"].endswith("success") and fields_of(edits[-1])["Owner"] == f"<@{USER_ID}>"
    assert edits[-1].json["embeds"][0]["title"] == f"Deploying network-plan · {short}"

    [thread] = bot.emulator.find("POST", r"/channels/\d+/messages/\d+/threads")
    assert thread.path == f"/channels/{CHANNEL_ID}/messages/{message_id}/threads"  # a thread on the status message
    assert thread.json["name"] == f"network-plan {short}: ✅ success."
    [result] = posts[1:]
    assert result.path == f"/channels/{message_id}/messages"  # in that thread (its id is the message's)
    assert f"<@{USER_ID}>" in result.json["content"] and "success" in result.json["content"]
    assert result.json["embeds"][0]["title"] == "Outputs"
    [log] = result.files
    assert log.filename == f"deployment-{short}.log" and b"Apply complete" in log.content
    assert result.json["attachments"][0]["filename"] == log.filename
    assert status.at < edits[0].at and edits[-1].at < result.at
    bot.validate_all()


async def test_a_double_click_on_confirm_is_one_deployment_and_one_hold(bot: Harness, db: Database) -> None:
    confirmation = await deploy_to_confirmation(bot, "network-plan")
    first, second = await click(bot, confirmation.message, button(confirmation, "deploy:confirm"), times=2)
    assert first.json["data"]["content"] == second.json["data"]["content"]
    with db.unit_of_work() as s:
        assert len(s.scalars(select(Deployment)).all()) == 1
        assert [t.kind for t in s.scalars(select(CreditTransaction))].count("HOLD") == 1
    bot.validate_all()


async def test_short_credits_say_how_many_before_the_form(bot: Harness, db: Database) -> None:
    poor = "900000000000000077"
    refused = await deploy_to_confirmation(bot, "network-plan", user_id=poor)
    assert [c.json["type"] for c in await bot.callbacks(1)] == [4]  # no modal: said at once
    content = refused.json["data"]["content"]
    assert "credits short" in content and "INSUFFICIENT" not in content and "Ask an admin or finance" in content
    assert "No form was opened" in content and button(refused, "deploy:confirm") is None
    bot.validate_all()


async def test_a_sensitive_input_never_reaches_discord_logs_or_the_database(
    bot: Harness, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"whsec-{secrets.token_hex(12)}"
    confirmation = await deploy_to_confirmation(bot, "budget-alerts", answers={"webhook_secret": secret})
    assert "`webhook_secret` = ••••••" in confirmation.json["data"]["embeds"][0]["description"]
    [queued] = await click(bot, confirmation.message, button(confirmation, "deploy:confirm"))
    assert "is queued" in queued.json["data"]["content"]
    await run_worker(bot)

    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS and deployment.secret_inputs_id is not None
        short = deployment.short_id
        deployment_id = deployment.id
    state = DatabaseStateStore(db, bot.runtime.dispatcher.services.secrets, deployment_id).load()
    signature = hashlib.sha256(f"{secret}:100".encode()).hexdigest()
    assert state is not None and signature.encode() in state  # Terraform did get the secret; its state is kept
    assert not list((Path(bot.runtime.config.data_dir) / "runs").iterdir())  # and nothing of the run on disk
    logs = "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in caplog.records)
    sent = "\n".join(f"{c.method} {c.path} {c.query!r} {c.json!r} {c.files!r} {c.headers!r}"
                     for c in bot.emulator.calls)
    with db.engine.connect() as conn:
        dump = "\n".join(repr(tuple(row)) for t in Base.metadata.sorted_tables for row in conn.execute(t.select()))
    assert "deployment_inputs" in dump and f"deployment-{short}.log" in sent
    for name, haystack in (("logs", logs), ("Discord calls", sent), ("database", dump)):
        assert secret not in haystack, f"the secret reached the {name}"
    assert signature not in dump  # the state is sealed in the database
    bot.validate_all()


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


class DiscordDoor:
    """The retry scenario's front door: interactions fed to the real discord.py client, the user clicking."""

    def __init__(self, bot: Harness) -> None:
        self.bot = bot

    async def deploy(self, module: str, answers: dict[str, str]) -> Seen:
        self.bot.validate_all()  # what was sent so far; then the form's callbacks count from one again
        self.bot.emulator.clear()
        return seen(await deploy_to_confirmation(self.bot, module, answers=answers))

    async def click(self, shown: Seen, action_id: str, times: int = 1) -> list[Seen]:
        message, custom_id = shown.buttons[action_id]
        return [seen(c) for c in await click(self.bot, message, custom_id, times=times)]

    async def show(self, short: str) -> Seen:
        before = len(await self.bot.callbacks(0))
        self.bot.slash("deployment", {"id": short}, user_id=USER_ID)
        return seen((await self.bot.callbacks(before + 1, timeout=10))[before])

    async def run_worker(self) -> Seen:
        before = len(self.bot.emulator.find("POST", r"/channels/\d+/messages"))
        await run_worker(self.bot)
        posts = self.bot.emulator.find("POST", r"/channels/\d+/messages")[before:]
        *_, result = posts
        assert result.path != f"/channels/{CHANNEL_ID}/messages"  # in the status message's thread
        return seen(result)


async def test_retry_a_failed_create(bot: Harness, db: Database) -> None:
    await retry_scenario(DiscordDoor(bot), db)
    bot.validate_all()
