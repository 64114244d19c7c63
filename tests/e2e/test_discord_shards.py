"""Discord at scale: the sharded client over the emulator's gateway, shards that drop, servers that come and go,
and REST 429s.

Guilds are placed on shards by Discord's formula ``(guild_id >> 22) % shard_count``: with two shards, GUILD_A is on
shard 0 and GUILD_B on shard 1 (GUILD_C too, with a channel of its own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from sqlalchemy import select

from bot.discord.client import RadDiscordClient, serve
from bot.discord.messenger import DiscordMessenger
from commands.ui.model import Reply
from core.config import Config
from core.conversations import ConversationRef
from storage.db import Database
from storage.models import AuditEvent, DigestTarget, DigestTargetStatus, Job
from tests.emulators import discord_objects as obj
from tests.emulators.discord import Call, DiscordEmulator
from tests.emulators.discord_gateway import shard_of
from tests.support.discord_harness import ADMIN_ID, discord_config, make_runtime
from tests.support.discord_spec import validate_call
from tests.support.processes import bot_run, json_body, wait_until

GUILD_A, CHANNEL_A = str(4_000_000 << 22), "810000000000000001"
GUILD_B, CHANNEL_B = str((4_000_001 << 22) + 7), "810000000000000002"
GUILD_C, CHANNEL_C = str((4_000_003 << 22) + 9), "810000000000000003"
CALLBACK = r"/interactions/\d+/[^/]+/callback"
IDENTIFY, RESUME = 2, 6
MESSAGE_CONTENT = 1 << 15


@pytest.fixture(autouse=True)
def restore_endpoints() -> Iterator[None]:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


async def until(condition: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def guild_with_channel(emulator: DiscordEmulator, guild_id: str, channel_id: str, name: str) -> None:
    emulator.add_guild(guild_id, [obj.text_channel(channel_id, guild_id)], [], name=name)


@asynccontextmanager
async def sharded_bot(db: Database, config: Config, emulator: DiscordEmulator, *, shard_count: int | None = None,
                      **options: Any) -> AsyncIterator[RadDiscordClient]:
    """The RAD client running over the emulator's gateway until the block ends (then stopped cleanly)."""
    runtime = make_runtime(replace(discord_config(config, emulator), discord_shard_count=shard_count), db)
    stop, clients = asyncio.Event(), list[RadDiscordClient]()
    task = asyncio.create_task(serve(runtime, stop, on_client=clients.append, guild_ready_timeout=0.05,
                                     **{"identify_window": 0.2, **options}))
    try:
        await until(lambda: (clients and clients[-1].ready.is_set()) or task.done(), 10, "READY on every shard")
        assert not task.done(), task.exception()
        yield clients[-1]  # the last: a client refused an intent is replaced by one without it
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def slash(emulator: DiscordEmulator, guild_id: str, channel_id: str, words: str = "help",
          options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``/rad <words>`` typed by the admin in ``channel_id`` of ``guild_id`` (tracked by the emulator)."""
    data = obj.command_data("rad", words.split(), options)
    return emulator.track(obj.interaction(2, data, application_id=emulator.application_id,
                                          user_data=obj.user(ADMIN_ID, "admin"), channel_id=channel_id,
                                          guild_id=guild_id))


def answers(emulator: DiscordEmulator, interaction: dict[str, Any]) -> list[Call]:
    """The callbacks answering ``interaction`` (by its id and token)."""
    return emulator.find("POST", rf"/interactions/{interaction['id']}/{interaction['token']}/callback")


async def answered_once(emulator: DiscordEmulator, interaction: dict[str, Any]) -> Call:
    await until(lambda: answers(emulator, interaction), 5, f"an answer to {interaction['id']}")
    await asyncio.sleep(0.1)  # a second answer would come now
    [answer] = answers(emulator, interaction)
    validate_call(answer)
    return answer


def validate_all(emulator: DiscordEmulator) -> None:
    """Every successful call the bot made: a route Discord has, with a body its description allows."""
    for call in emulator.find():
        validate_call(call)


def carried_by(emulator: DiscordEmulator, interaction: dict[str, Any]) -> list[int]:
    """The shards whose sessions carried ``interaction``."""
    return [shard for shard, session in emulator.gateway.shards.items()
            if any(e["t"] == "INTERACTION_CREATE" and e["d"]["id"] == interaction["id"] for e in session.events)]


async def test_each_guild_is_answered_once_through_its_own_shard(db: Database, config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        guild_with_channel(emulator, GUILD_B, CHANNEL_B, "Beta")
        assert (shard_of(GUILD_A, 2), shard_of(GUILD_B, 2)) == (0, 1)
        async with sharded_bot(db, config, emulator) as client:  # DISCORD_SHARD_COUNT unset: Discord's 2
            assert len(emulator.find("GET", "/gateway/bot")) == 1
            identifies = [p["d"] for p in emulator.gateway.received if p["op"] == IDENTIFY]
            assert [d["shard"] for d in identifies] == [[0, 2], [1, 2]]
            [(_, first), (_, second)] = emulator.gateway.identified
            assert second - first >= 0.19, "one rate-limit key (max_concurrency 1): IDENTIFYs 0.2 s apart"
            for shard, guild in ((0, GUILD_A), (1, GUILD_B)):
                ready = emulator.gateway.shards[shard].events[0]
                assert ready["t"] == "READY" and [g["id"] for g in ready["d"]["guilds"]] == [guild]
            assert client.shard_count == 2 and client.shard_states() == {0: True, 1: True} and client.is_ready()
            guild_a, guild_b = client.get_guild(int(GUILD_A)), client.get_guild(int(GUILD_B))
            assert guild_a is not None and guild_b is not None
            assert (guild_a.shard_id, guild_b.shard_id) == (0, 1)

            in_a, in_b = slash(emulator, GUILD_A, CHANNEL_A), slash(emulator, GUILD_B, CHANNEL_B)
            assert await emulator.dispatch("INTERACTION_CREATE", in_a) == 1
            assert await emulator.dispatch("INTERACTION_CREATE", in_b) == 1
            for interaction in (in_a, in_b):
                answer = await answered_once(emulator, interaction)
                assert "RAD commands" in answer.json["data"]["content"]
            assert (carried_by(emulator, in_a), carried_by(emulator, in_b)) == ([0], [1])

            in_dm = emulator.track(obj.interaction(2, obj.command_data("rad", ["help"]),
                                                   application_id=emulator.application_id,
                                                   user_data=obj.user(ADMIN_ID, "admin"),
                                                   channel_id="870000000000000001"))
            assert await emulator.dispatch("INTERACTION_CREATE", in_dm) == 1
            await answered_once(emulator, in_dm)
            assert carried_by(emulator, in_dm) == [0], "direct messages come on shard 0"
            validate_all(emulator)


async def test_the_configured_shard_count_wins_and_shards_of_separate_keys_identify_together(
        db: Database, config: Config) -> None:
    async with DiscordEmulator(recommended_shards=1, max_concurrency=16) as emulator:
        guild_with_channel(emulator, GUILD_C, CHANNEL_C, "Gamma")
        async with sharded_bot(db, config, emulator, shard_count=3, identify_window=5.0) as client:
            assert [p["d"]["shard"] for p in emulator.gateway.received if p["op"] == IDENTIFY] == \
                   [[0, 3], [1, 3], [2, 3]]
            times = [at for _, at in emulator.gateway.identified]
            assert times[-1] - times[0] < 2.0, "three keys: no 5-second wait between them"
            assert client.shard_count == 3 and sorted(client.shard_states()) == [0, 1, 2]
            in_c = slash(emulator, GUILD_C, CHANNEL_C)
            await emulator.dispatch("INTERACTION_CREATE", in_c)
            await answered_once(emulator, in_c)
            assert carried_by(emulator, in_c) == [shard_of(GUILD_C, 3)]


async def test_without_the_message_content_intent_every_shard_connects_without_it(db: Database,
                                                                                  config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        guild_with_channel(emulator, GUILD_B, CHANNEL_B, "Beta")
        emulator.gateway.disallowed_intents = MESSAGE_CONTENT
        async with sharded_bot(db, config, emulator) as client:
            asked = [p["d"]["intents"] & MESSAGE_CONTENT for p in emulator.gateway.received if p["op"] == IDENTIFY]
            assert asked[0] and asked[-2:] == [0, 0], "refused (4014), then both shards without it"
            assert client.shard_states() == {0: True, 1: True}
            in_b = slash(emulator, GUILD_B, CHANNEL_B)
            await emulator.dispatch("INTERACTION_CREATE", in_b)
            await answered_once(emulator, in_b)


async def test_with_too_few_session_starts_left_the_start_waits_for_the_reset(db: Database,
                                                                              config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2, session_starts=1, reset_after_ms=400) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        async with sharded_bot(db, config, emulator):
            [asked] = emulator.find("GET", "/gateway/bot")
            [(_, first), _] = emulator.gateway.identified
            assert first - asked.at >= 0.4, "1 start left for 2 shards: wait reset_after before identifying"


async def test_a_dropped_shard_resumes_and_loses_nothing(db: Database, config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2, heartbeat_interval_ms=200) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        guild_with_channel(emulator, GUILD_B, CHANNEL_B, "Beta")
        async with sharded_bot(db, config, emulator) as client:
            session_0, session_1 = emulator.gateway.shards[0], emulator.gateway.shards[1]
            during = slash(emulator, GUILD_B, CHANNEL_B)
            await emulator.gateway.drop(1, meanwhile=[("INTERACTION_CREATE", during)])
            await until(lambda: session_1.resumes == 1 and client.is_ready(), 5, "shard 1 to resume")
            [resume] = [p["d"] for p in emulator.gateway.received if p["op"] == RESUME]
            [carried] = [e for e in session_1.events if e["t"] == "INTERACTION_CREATE"]
            assert resume["session_id"] == session_1.session_id and resume["seq"] < carried["s"], "replayed"
            await answered_once(emulator, during)

            after, other = slash(emulator, GUILD_B, CHANNEL_B), slash(emulator, GUILD_A, CHANNEL_A)
            await emulator.dispatch("INTERACTION_CREATE", after)
            await emulator.dispatch("INTERACTION_CREATE", other)
            for interaction in (after, other):
                await answered_once(emulator, interaction)
            assert emulator.gateway.shards == {0: session_0, 1: session_1}, "both sessions lived on"
            assert (session_0.resumes, emulator.gateway.connections) == (0, 3)
            assert len(emulator.find("POST", CALLBACK)) == 3
            validate_all(emulator)


async def test_a_shard_whose_session_is_gone_identifies_again_and_is_down_meanwhile(
        db: Database, config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        guild_with_channel(emulator, GUILD_B, CHANNEL_B, "Beta")
        async with sharded_bot(db, config, emulator, identify_window=1.0) as client:
            old = emulator.gateway.shards[1]
            await emulator.gateway.drop(1, forget=True)
            await until(lambda: not client.is_ready(), 2, "the client to report a shard down")
            assert client.shard_states()[0] is True and client.health() == "down (shard 1 of 2)"  # /healthz's text
            await until(lambda: client.is_ready(), 5, "shard 1 to identify again")
            assert client.health() == "ok"
            new = emulator.gateway.shards[1]
            assert new is not old and new.shard == (1, 2) and len(emulator.gateway.identified) == 3
            assert [p["d"]["session_id"] for p in emulator.gateway.received if p["op"] == RESUME] == [old.session_id]
            guild_b = client.get_guild(int(GUILD_B))
            assert guild_b is not None and guild_b.shard_id == 1
            later = slash(emulator, GUILD_B, CHANNEL_B)
            assert await emulator.dispatch("INTERACTION_CREATE", later) == 1
            await answered_once(emulator, later)
            assert carried_by(emulator, later) == [1]


def audits(db: Database, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(target, platform, detail) of the audit events of ``action``, oldest first."""
    with db.read() as session:
        return [(e.target, e.platform, dict(e.detail)) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def targets(db: Database) -> dict[str, tuple[DigestTargetStatus, str]]:
    """Each digest target's (status, broken reason), by guild."""
    with db.read() as session:
        return {t.workspace: (t.status, t.broken_reason) for t in session.scalars(select(DigestTarget))}


async def test_servers_added_and_removed_and_an_outage_that_is_neither(db: Database, config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        guild_with_channel(emulator, GUILD_C, CHANNEL_C, "Gamma")
        async with sharded_bot(db, config, emulator) as client:
            for guild, channel in ((GUILD_A, CHANNEL_A), (GUILD_C, CHANNEL_C)):
                here = slash(emulator, guild, channel, "admin digest", {"what": "here", "cadence": "weekly"})
                await emulator.dispatch("INTERACTION_CREATE", here)
                assert "revenue digest" in (await answered_once(emulator, here)).json["data"]["content"]
            assert audits(db, "workspace.added") == [], "servers seen at start are not joins"

            assert await emulator.join_guild(GUILD_B, [obj.text_channel(CHANNEL_B, GUILD_B)], name="Beta") == 1
            await until(lambda: audits(db, "workspace.added"), 5, "the join to be audited")
            assert audits(db, "workspace.added") == [(f"workspace:discord:{GUILD_B}", "discord", {"name": "Beta"})]
            guild_b = client.get_guild(int(GUILD_B))
            assert guild_b is not None and guild_b.shard_id == 1
            in_b = slash(emulator, GUILD_B, CHANNEL_B)
            await emulator.dispatch("INTERACTION_CREATE", in_b)
            await answered_once(emulator, in_b)

            await emulator.guild_outage(GUILD_C)
            await until(lambda: (g := client.get_guild(int(GUILD_C))) is not None and g.unavailable, 5, "outage")
            assert await emulator.leave_guild(GUILD_A) == 1
            await until(lambda: audits(db, "workspace.removed"), 5, "the removal to be audited")
            assert audits(db, "workspace.removed") == [(f"workspace:discord:{GUILD_A}", "discord",
                                                        {"name": "Alpha", "digests_stopped": 1})]
            assert client.get_guild(int(GUILD_A)) is None
            assert targets(db) == {GUILD_A: (DigestTargetStatus.BROKEN, "the bot was removed from Alpha"),
                                   GUILD_C: (DigestTargetStatus.ACTIVE, "")}, "an outage stops nothing"
            with db.read() as session:
                told = [j.payload for j in session.scalars(select(Job).where(Job.kind == "chat.post"))]
            assert [t["user"]["external_id"] for t in told] == [ADMIN_ID]
            assert f"<#{CHANNEL_A}>" in told[0]["text"] and "*Alpha*" in told[0]["text"]
            assert "/rad admin digest here weekly" in told[0]["text"]

            assert await emulator.leave_guild(GUILD_A) == 1  # a repeated GUILD_DELETE: nothing more
            await asyncio.sleep(0.2)
            assert len(audits(db, "workspace.removed")) == 1 and len(audits(db, "digest.broken")) == 1
            validate_all(emulator)


async def test_a_server_left_while_the_bot_was_down_stops_its_digests_when_it_is_back(db: Database,
                                                                                      config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        guild_with_channel(emulator, GUILD_B, CHANNEL_B, "Beta")
        async with sharded_bot(db, config, emulator):
            for guild, channel in ((GUILD_A, CHANNEL_A), (GUILD_B, CHANNEL_B)):
                here = slash(emulator, guild, channel, "admin digest", {"what": "here", "cadence": "daily"})
                await emulator.dispatch("INTERACTION_CREATE", here)
                await answered_once(emulator, here)
        assert emulator.gateway.shards == {}, "a client that closes ends its sessions"
        assert await emulator.leave_guild(GUILD_B) == 0, "nobody connected to tell"
        async with sharded_bot(db, config, emulator) as client:
            assert client.get_guild(int(GUILD_B)) is None
            await until(lambda: audits(db, "workspace.removed"), 5, "the removal to be found")
            assert audits(db, "workspace.removed") == [(f"workspace:discord:{GUILD_B}", "discord",
                                                        {"name": "", "digests_stopped": 1})]
            assert targets(db) == {GUILD_A: (DigestTargetStatus.ACTIVE, ""),
                                   GUILD_B: (DigestTargetStatus.BROKEN, f"the bot was removed from {GUILD_B}")}
            with db.read() as session:
                [told] = [j.payload["text"] for j in session.scalars(select(Job).where(Job.kind == "chat.post"))]
            assert told.startswith("RAD was removed from a Discord server, so the daily revenue digest in "
                                   f"<#{CHANNEL_B}> is stopped.")


async def test_a_client_running_some_shards_leaves_the_other_shards_servers_alone(db: Database,
                                                                                 config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        guild_with_channel(emulator, GUILD_B, CHANNEL_B, "Beta")
        async with sharded_bot(db, config, emulator):
            for guild, channel in ((GUILD_A, CHANNEL_A), (GUILD_B, CHANNEL_B)):
                here = slash(emulator, guild, channel, "admin digest", {"what": "here", "cadence": "daily"})
                await emulator.dispatch("INTERACTION_CREATE", here)
                await answered_once(emulator, here)
        async with sharded_bot(db, config, emulator, shard_count=2, shard_ids=[0]) as client:
            assert sorted(client.shard_states()) == [0] and [g.id for g in client.guilds] == [int(GUILD_A)]
            await asyncio.sleep(0.2)
            assert audits(db, "workspace.removed") == [], "Beta is on shard 1, which another process runs"
            assert {w: status for w, (status, _) in targets(db).items()} == {
                GUILD_A: DigestTargetStatus.ACTIVE, GUILD_B: DigestTargetStatus.ACTIVE}


async def test_rest_429s_are_waited_out_and_retried_once(db: Database, config: Config) -> None:
    async with DiscordEmulator(recommended_shards=2) as emulator:
        guild_with_channel(emulator, GUILD_A, CHANNEL_A, "Alpha")
        async with sharded_bot(db, config, emulator) as client:
            emulator.rate_limit("POST", rf"/channels/{CHANNEL_A}/messages", times=1, retry_after=0.4)
            messenger = DiscordMessenger(client.runtime.config, lambda: client)
            where = ConversationRef("discord", GUILD_A, CHANNEL_A)
            posted = await asyncio.to_thread(messenger.post, where, Reply(text="Deployed *m1*."))
            limited, sent = emulator.find("POST", rf"/channels/{CHANNEL_A}/messages", ok=False)
            assert (limited.status, sent.status) == (429, 200)
            assert sent.at - limited.at >= 0.4, "Retry-After was honoured"
            stored = [m for m in emulator.messages.values() if m["channel_id"] == CHANNEL_A]
            assert [m["content"] for m in stored] == ["Deployed **m1**."] and posted.message == stored[0]["id"]
            validate_call(sent)

            emulator.rate_limit("POST", CALLBACK, times=1, retry_after=0.3)
            help_a = slash(emulator, GUILD_A, CHANNEL_A)
            await emulator.dispatch("INTERACTION_CREATE", help_a)
            await answered_once(emulator, help_a)
            limited, sent = [c for c in emulator.find("POST", CALLBACK, ok=False) if c.path.startswith(
                f"/interactions/{help_a['id']}/")]
            assert (limited.status, sent.status) == (429, 200) and sent.at - limited.at >= 0.3
            followups = emulator.find("POST", rf"/webhooks/\d+/{help_a['token']}")
            contents = [m["content"] for m in emulator.messages.values() if m["channel_id"] == CHANNEL_A]
            assert len(contents) == 2 + len(followups) == len(set(contents)), "no message twice"
            validate_all(emulator)


def test_healthz_of_the_run_process_says_discord_is_down_while_a_shard_is(tmp_path: Path, db: Database,
                                                                          database_url: str) -> None:
    """``python -m bot run`` with Discord's own 5-second IDENTIFY window: a shard whose session is gone twice in
    a row waits for the window before it may IDENTIFY again, and ``/healthz`` says so meanwhile."""
    with bot_run(tmp_path / "data", database_url=database_url if "postgresql" in database_url else "") as bot:
        gateway = bot.discord.gateway

        def discord_health() -> tuple[int, object]:
            status, body = bot.get("/healthz")
            doors = json_body(body).get("front_doors")
            return status, doors.get("discord") if isinstance(doors, dict) else None

        wait_until(lambda: discord_health() == (200, "ok"), 30, "Discord ready")
        for _ in range(2):
            identified = len(gateway.identified)
            bot.discord.run_sync(gateway.drop(0, forget=True))
            wait_until(lambda: discord_health() == (503, "down"), 5, "/healthz to say Discord is down")
            wait_until(lambda: discord_health() == (200, "ok"), 15, "Discord back")
            assert len(gateway.identified) == identified + 1
        (_, first), (_, second) = gateway.identified[-2:]
        assert second - first >= 5.0, "one IDENTIFY per 5 seconds"
