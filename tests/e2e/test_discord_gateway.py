"""The whole client over the emulator's gateway websocket, the threaded runner, and the messenger."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord.client import DiscordRunner, RadDiscordClient, serve
from bot.discord.messenger import DiscordMessenger
from commands.framework.messenger import Messenger
from commands.ui.model import Button, Reply
from core.accounts.identity import IdentityKey
from core.config import Config
from core.conversations import ConversationRef
from storage.db import Database
from tests.emulators import discord_objects as obj
from tests.emulators.discord import DiscordEmulator
from tests.support.discord_harness import ADMIN_ID, CHANNEL_ID, GUILD_ID, discord_config, make_runtime
from tests.support.discord_spec import validate_call

MESSAGE_CONTENT_INTENT = 1 << 15
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_endpoints() -> Iterator[None]:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


async def until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def help_interaction(emulator: DiscordEmulator) -> dict[str, object]:
    return obj.interaction(2, obj.command_data("rad", ["help"]), application_id=emulator.application_id,
                           user_data=obj.user(ADMIN_ID, "admin"), channel_id=CHANNEL_ID, guild_id=GUILD_ID)


async def test_the_client_connects_idles_resumes_and_answers(db: Database, config: Config) -> None:
    async with DiscordEmulator(heartbeat_interval_ms=100) as emulator:
        emulator.add_guild(GUILD_ID, [obj.text_channel(CHANNEL_ID, GUILD_ID)], [])
        runtime = make_runtime(discord_config(config, emulator), db)
        stop, clients = asyncio.Event(), list[RadDiscordClient]()
        task = asyncio.create_task(serve(runtime, stop, on_client=clients.append, guild_ready_timeout=0.05))
        await until(lambda: clients and clients[0].ready.is_set())
        client = clients[0]
        assert client.get_guild(int(GUILD_ID)) is not None
        identify = next(p for p in emulator.gateway.received if p["op"] == 2)
        assert identify["d"]["token"] == "test-bot-token"
        assert identify["d"]["intents"] & MESSAGE_CONTENT_INTENT

        await emulator.dispatch("INTERACTION_CREATE", help_interaction(emulator))
        [answer] = await emulator.wait_for("POST", r"/interactions/\d+/[^/]+/callback")
        assert "RAD commands" in answer.json["data"]["content"]
        await until(lambda: sum(p["op"] == 1 for p in emulator.gateway.received) >= 2)

        await emulator.gateway.request_reconnect()
        await until(lambda: any(p["op"] == 6 for p in emulator.gateway.received))
        await until(lambda: len(emulator.gateway.connected) == 1)
        await emulator.dispatch("INTERACTION_CREATE", help_interaction(emulator))
        await emulator.wait_for("POST", r"/interactions/\d+/[^/]+/callback", count=2)
        assert emulator.gateway.connections == 2 and len(emulator.gateway.sessions) == 1

        stop.set()
        await asyncio.wait_for(task, 10)
        assert client.is_closed()


async def test_without_a_gateway_url_the_api_names_the_gateway(db: Database, config: Config) -> None:
    async with DiscordEmulator() as emulator:
        settings = discord_config(config, emulator)
        runtime = make_runtime(replace(settings, discord_gateway_url=""), db)
        stop, clients = asyncio.Event(), list[RadDiscordClient]()
        task = asyncio.create_task(serve(runtime, stop, on_client=clients.append, guild_ready_timeout=0.05))
        await until(lambda: clients and clients[0].ready.is_set())
        assert emulator.find("GET", "/gateway/bot")
        stop.set()
        await asyncio.wait_for(task, 10)


def test_the_runner_and_the_messenger_from_worker_threads(db: Database, config: Config) -> None:
    emulator = DiscordEmulator().start_in_thread()
    try:
        runtime = make_runtime(discord_config(config, emulator), db)
        runner = DiscordRunner(runtime, guild_ready_timeout=0.05)
        runner.start(wait_ready=10)
        try:
            assert emulator.run_sync(emulator.dispatch("INTERACTION_CREATE", help_interaction(emulator))) == 1
            [answer] = emulator.wait_for_sync("POST", r"/interactions/\d+/[^/]+/callback")
            assert "RAD commands" in answer.json["data"]["content"]
            messenger = DiscordMessenger(runtime.config, runner.current)
            where = ConversationRef("discord", GUILD_ID, CHANNEL_ID)
            cancel = Button("Cancel", "deploy:cancel", "9")
            posted = messenger.post(where, Reply(text="Deploying *m1*…", actions=(cancel,)))
            [post] = emulator.wait_for_sync("POST", rf"/channels/{CHANNEL_ID}/messages")
            assert post.json["content"] == "Deploying **m1**…"
            assert post.json["components"][0]["components"][0]["custom_id"] == "rad|deploy:cancel|9"
            assert posted.message == post.response["id"] and posted.channel == CHANNEL_ID
            messenger.edit(posted, Reply(text="Deployed."))
            [edit] = emulator.wait_for_sync("PATCH", rf"/channels/{CHANNEL_ID}/messages/{posted.message}")
            assert edit.json["content"] == "Deployed." and edit.json["components"] == []
            for call in (post, edit):
                validate_call(call)
            assert len(emulator.find("GET", "/users/@me")) == 1, "the messenger used the client's session"
        finally:
            runner.stop()
        assert runner.client is not None and runner.client.is_closed()
    finally:
        emulator.stop_thread()


def test_the_messenger_alone_posts_over_rest_and_splits(db: Database, config: Config) -> None:
    emulator = DiscordEmulator().start_in_thread()
    messenger: Messenger = DiscordMessenger(discord_config(config, emulator))
    try:
        emulator.rate_limit("POST", r"/channels/\d+/messages", times=1, retry_after=0.05)
        thread = ConversationRef("discord", GUILD_ID, CHANNEL_ID, thread="800000000000000100")
        text = "\n".join(f"line {n} " + "x" * 90 for n in range(50))
        posted = messenger.post(thread, Reply(text=text))
        posts = emulator.wait_for_sync("POST", r"/channels/800000000000000100/messages", count=3)
        assert "\n".join(p.json["content"] for p in posts) == text
        assert posted.thread == thread.thread and posted.message == posts[0].response["id"]
        assert len(emulator.find("POST", r"/channels/\d+/messages", ok=False)) == 4
        assert emulator.find("GET", "/users/@me")
        for call in posts:
            validate_call(call)
    finally:
        assert isinstance(messenger, DiscordMessenger)
        messenger.close()
        emulator.stop_thread()


def test_run_discord_is_a_process_that_stops_on_sigterm(db: Database, config: Config, tmp_path: Path) -> None:
    emulator = DiscordEmulator().start_in_thread()
    env = {**os.environ, "DATABASE_URL": db.url, "RAD_DATA_DIR": str(tmp_path), "DISCORD_TOKEN": "test-bot-token",
           "DISCORD_API_URL": emulator.api_url, "DISCORD_GATEWAY_URL": emulator.gateway_url}
    script = ("from bot.discord.client import run_discord; from bot.runtime import build_runtime; "
              "from core.config import Config; run_discord(build_runtime(Config.from_env()))")
    process = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not emulator.gateway.sessions and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert emulator.gateway.sessions, process.stdout.read().decode() if process.stdout else ""
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert emulator.find("PUT", r"/applications/\d+/commands")
    finally:
        if process.poll() is None:
            process.kill()
        emulator.stop_thread()


def test_the_messenger_sends_direct_messages(db: Database, config: Config) -> None:
    emulator = DiscordEmulator().start_in_thread()
    messenger = DiscordMessenger(discord_config(config, emulator))
    try:
        messenger.notify(IdentityKey("discord", "", "300000000000000042"), Reply(text="You got 25 credits."))
        [opened] = emulator.wait_for_sync("POST", "/users/@me/channels")
        assert str(opened.json["recipient_id"]) == "300000000000000042"
        [sent] = emulator.wait_for_sync("POST", rf"/channels/{opened.response['id']}/messages")
        assert sent.json["content"] == "You got 25 credits."
        validate_call(sent)
    finally:
        messenger.close()
        emulator.stop_thread()
