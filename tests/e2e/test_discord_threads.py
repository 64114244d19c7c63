"""End to end on Discord: messages in a bound thread reach its thread handler, answers go to the thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from commands import load_registry
from commands.framework.context import Context
from commands.framework.registry import Registry, ThreadMessage
from commands.ui.model import Reply
from core.config import Config
from core.conversations import ConversationRef, bind_thread
from storage.db import Database
from tests.emulators import discord_objects as obj
from tests.support.discord_harness import CHANNEL_ID, GUILD_ID, USER_ID, Harness, running_bot

THREAD_ID = "800000000000000100"
UNCACHED_THREAD_ID = "800000000000000200"


def echo_registry() -> Registry:
    base = load_registry()
    registry = replace(base, threads=dict(base.threads))

    @registry.thread("echo")
    def echo(ctx: Context, message: ThreadMessage) -> Reply:
        return Reply(text=f"*echo* {message.text} (about {message.subject}, from {ctx.actor.display_name})")

    return registry


@pytest.fixture
async def bot(db: Database, config: Config) -> AsyncIterator[Harness]:
    async with running_bot(db, config, registry=echo_registry()) as harness:
        with db.unit_of_work() as session:
            for thread in (THREAD_ID, UNCACHED_THREAD_ID):
                bind_thread(session, ConversationRef("discord", GUILD_ID, CHANNEL_ID, thread), "echo", "module-x")
        yield harness


async def test_a_thread_message_is_answered_in_the_thread(bot: Harness) -> None:
    bot.guild(threads=[obj.thread_channel(THREAD_ID, CHANNEL_ID, GUILD_ID)])
    bot.message(THREAD_ID, "hello there")
    [post] = await bot.emulator.wait_for("POST", rf"/channels/{THREAD_ID}/messages")
    assert post.json["content"] == "**echo** hello there (about module-x, from user002)"
    bot.validate_all()


async def test_an_uncached_thread_is_looked_up_once(bot: Harness) -> None:
    bot.emulator.channels[UNCACHED_THREAD_ID] = obj.thread_channel(UNCACHED_THREAD_ID, CHANNEL_ID, GUILD_ID)
    bot.message(UNCACHED_THREAD_ID, "first")
    await bot.emulator.wait_for("POST", rf"/channels/{UNCACHED_THREAD_ID}/messages")
    bot.message(UNCACHED_THREAD_ID, "second")
    bot.message(UNCACHED_THREAD_ID, "third")
    posts = await bot.emulator.wait_for("POST", rf"/channels/{UNCACHED_THREAD_ID}/messages", count=3)
    assert sorted(p.json["content"].split()[1] for p in posts) == ["first", "second", "third"]
    assert len(bot.emulator.find("GET", rf"/channels/{UNCACHED_THREAD_ID}")) == 1


async def test_bots_unbound_threads_and_channels_get_no_answer(bot: Harness) -> None:
    other_thread = "800000000000000300"
    bot.guild(threads=[obj.thread_channel(THREAD_ID, CHANNEL_ID, GUILD_ID),
                       obj.thread_channel(other_thread, CHANNEL_ID, GUILD_ID)])
    bot.message(THREAD_ID, "from myself", user_id=bot.emulator.bot_user["id"], bot=True)
    bot.message(THREAD_ID, "from another bot", user_id="700000000000000001", bot=True)
    bot.message(other_thread, "nobody listens here", user_id=USER_ID)
    bot.message(CHANNEL_ID, "a plain channel message", user_id=USER_ID)
    await asyncio.sleep(0.3)
    assert bot.emulator.find("POST", r"/channels/\d+/messages") == []


async def test_a_mention_of_the_bot_is_left_out_of_the_text(bot: Harness) -> None:
    bot.guild(threads=[obj.thread_channel(THREAD_ID, CHANNEL_ID, GUILD_ID)])
    bot.message(THREAD_ID, f"<@{bot.emulator.bot_user['id']}> status?")
    [post] = await bot.emulator.wait_for("POST", rf"/channels/{THREAD_ID}/messages")
    assert post.json["content"].startswith("**echo** status? (")
