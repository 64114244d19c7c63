"""End to end, through every front door: messages in a bound thread reach its thread handler, and the
answer goes to the thread; bots, other threads and the channel itself get no answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from commands import load_registry
from commands.framework.context import Context
from commands.framework.registry import Registry, ThreadMessage
from commands.ui.model import Reply
from core.config import Config
from core.conversations import ConversationRef, bind_thread
from storage.db import Database
from tests.emulators import discord_objects as obj
from tests.emulators.slack import SlackEmulator
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.front_door import FrontDoor, Person, door
from tests.support.slack_support import emulator, harness, slack_runtime, texts

__all__ = ["door", "emulator", "harness", "slack_runtime"]

HEARD: list[str] = []
PAT = Person("pat")


@pytest.fixture
def door_registry() -> Registry:
    """The real registry plus an ``echo`` thread handler that remembers what it heard."""
    registry = load_registry().copy()
    HEARD.clear()

    @registry.thread("echo")
    def echo(ctx: Context, message: ThreadMessage) -> Reply:
        HEARD.append(message.text)
        return Reply(text=f"*echo* {message.text} (about {message.subject}, from {ctx.actor.display_name})",
                     ephemeral=False)

    return registry


@pytest.fixture
def bound(door: FrontDoor, db: Database) -> FrontDoor:
    """The door with its test thread bound to ``echo`` about ``module-x``."""
    with db.unit_of_work() as session:
        door.bind_thread(session, "echo", "module-x")
    return door


async def test_a_thread_message_is_answered_in_the_thread(bound: FrontDoor) -> None:
    bound.say("hello there", user=PAT)
    [answer] = await bound.thread_replies(1)
    assert answer.startswith("echo hello there (about module-x, from ") and HEARD == ["hello there"]


async def test_a_mention_of_the_bot_is_left_out_of_the_text(bound: FrontDoor) -> None:
    bound.say("status?", user=PAT, mention_bot=True)
    [answer] = await bound.thread_replies(1)
    assert answer.startswith("echo status? (") and HEARD == ["status?"]


async def test_bots_other_threads_and_the_channel_get_no_answer(bound: FrontDoor) -> None:
    bound.say("from a bot", user=Person("robot"), from_bot=True)
    bound.say("nobody listens here", user=PAT, where="other")
    bound.say("a plain channel message", user=PAT, where="channel")
    await bound.posted_nothing()
    assert HEARD == []


# -- Slack only --------------------------------------------------------------------------------------------

@pytest.fixture
def slack_echo(door_registry: Registry, config: Config, db: Database,
               emulator: SlackEmulator) -> Iterator[sh.Harness]:
    runtime = sh.runtime_with(door_registry, db, sh.slack_config(config, emulator))
    with db.unit_of_work() as session:
        bind_thread(session, ConversationRef("slack", sh.TEAM, sh.CHANNEL, thread=sh.THREAD), "echo", "module net")
    with sh.running_harness(runtime, emulator) as running:
        yield running


def test_slack_a_retried_message_event_runs_the_thread_handler_once(slack_echo: sh.Harness) -> None:
    body = slack_echo.event_body("plan it", event_id="Ev123")
    assert slack_echo.event(body).status == 200
    retry = slack_echo.event(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status == 200
    slack_echo.settle()
    assert HEARD == ["plan it"]
    (posted,) = slack_echo.emulator.wait_for("chat.postMessage")
    assert posted.body["thread_ts"] == sh.THREAD and posted.body["channel"] == sh.CHANNEL
    assert "*echo* plan it (about module net" in texts(posted.body)


def test_slack_edits_and_top_level_messages_are_ignored(slack_echo: sh.Harness) -> None:
    slack_echo.event(slack_echo.event_body("edited", subtype="message_changed"))
    slack_echo.event(slack_echo.event_body("top level", thread=""))
    slack_echo.settle()
    assert HEARD == [] and slack_echo.emulator.calls("chat.postMessage") == []


# -- Discord only ------------------------------------------------------------------------------------------

UNCACHED_THREAD_ID = "800000000000000200"


@pytest.fixture
async def bot(door_registry: Registry, db: Database, config: Config) -> AsyncIterator[dh.Harness]:
    async with dh.running_bot(db, config, registry=door_registry) as running:
        with db.unit_of_work() as session:
            for thread in ("800000000000000100", UNCACHED_THREAD_ID):
                bind_thread(session, ConversationRef("discord", dh.GUILD_ID, dh.CHANNEL_ID, thread), "echo",
                            "module-x")
        yield running
        running.validate_all()


async def test_discord_the_answer_names_the_sender_in_markdown(bot: dh.Harness) -> None:
    bot.guild(threads=[obj.thread_channel("800000000000000100", dh.CHANNEL_ID, dh.GUILD_ID)])
    bot.message("800000000000000100", "hello there")
    [post] = await bot.emulator.wait_for("POST", r"/channels/800000000000000100/messages")
    assert post.json["content"] == "**echo** hello there (about module-x, from user002)"


async def test_discord_an_uncached_thread_is_looked_up_once(bot: dh.Harness) -> None:
    bot.emulator.channels[UNCACHED_THREAD_ID] = obj.thread_channel(UNCACHED_THREAD_ID, dh.CHANNEL_ID, dh.GUILD_ID)
    bot.message(UNCACHED_THREAD_ID, "first")
    await bot.emulator.wait_for("POST", rf"/channels/{UNCACHED_THREAD_ID}/messages")
    bot.message(UNCACHED_THREAD_ID, "second")
    bot.message(UNCACHED_THREAD_ID, "third")
    posts = await bot.emulator.wait_for("POST", rf"/channels/{UNCACHED_THREAD_ID}/messages", count=3)
    assert sorted(p.json["content"].split()[1] for p in posts) == ["first", "second", "third"]
    assert len(bot.emulator.find("GET", rf"/channels/{UNCACHED_THREAD_ID}")) == 1


async def test_discord_the_bot_ignores_itself(bot: dh.Harness) -> None:
    bot.guild(threads=[obj.thread_channel("800000000000000100", dh.CHANNEL_ID, dh.GUILD_ID)])
    bot.message("800000000000000100", "from myself", user_id=bot.emulator.bot_user["id"], bot=True)
    bot.message("800000000000000100", "from another bot", user_id="700000000000000001", bot=True)
    await asyncio.sleep(0.3)
    assert bot.emulator.find("POST", r"/channels/\d+/messages") == [] and HEARD == []
