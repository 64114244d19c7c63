"""The bot added to a Discord server or removed from one (GUILD_CREATE after READY, GUILD_DELETE).

Added: logged and audited. Removed: logged, audited, the revenue digests of that server stopped
(``core.workspaces``) and whoever set each one told in a direct message. A server that is only
unavailable (a Discord outage: GUILD_DELETE with ``unavailable``) is neither: its digests keep going.
A removal while the bot was not connected has no event: once every shard is READY, a server with digests
that is on one of this client's shards but not among its servers was left meanwhile (``removed_meanwhile``).
The database work runs in a worker thread, so the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

import discord

from bot.runtime import Runtime
from bot.workspace_removal import record_removed
from core import workspaces

log = logging.getLogger(__name__)
PLATFORM = "discord"


async def guild_added(runtime: Runtime, guild: discord.Guild) -> None:
    """The bot was added to ``guild``."""
    log.info("discord server added", extra={"guild": guild.id, "guild_name": guild.name, "shard": guild.shard_id})
    await asyncio.to_thread(_record_added, runtime, str(guild.id), guild.name)


async def guild_removed(runtime: Runtime, guild: discord.Guild) -> int:
    """The bot was removed from ``guild``; returns how many digest targets were stopped."""
    stopped = await asyncio.to_thread(_record_removed, runtime, str(guild.id), guild.name)
    log.info("discord server removed", extra={"guild": guild.id, "guild_name": guild.name, "shard": guild.shard_id,
                                              "digests_stopped": stopped})
    return stopped


async def removed_meanwhile(runtime: Runtime, present: Collection[int], on_my_shards: Callable[[int], bool]) -> int:
    """Stop the digests of servers on this client's shards that it is no longer in; returns how many were."""
    stopped = await asyncio.to_thread(_record_removed_meanwhile, runtime, set(present), on_my_shards)
    if stopped:
        log.info("discord servers left while disconnected", extra={"digests_stopped": stopped})
    return stopped


def _record_removed_meanwhile(runtime: Runtime, present: set[int], on_my_shards: Callable[[int], bool]) -> int:
    with runtime.db.read() as session:
        known = workspaces.digest_workspaces(session, PLATFORM)
    gone = [w for w in known if w.isdigit() and int(w) not in present and on_my_shards(int(w))]
    return sum(_record_removed(runtime, guild_id, "") for guild_id in gone)


def _record_added(runtime: Runtime, guild_id: str, name: str) -> None:
    with runtime.db.unit_of_work() as session:
        workspaces.bot_added(session, PLATFORM, guild_id, name)


def _record_removed(runtime: Runtime, guild_id: str, name: str) -> int:
    return record_removed(runtime, PLATFORM, guild_id, name)
