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
from commands.handlers.notify import notify_later
from core import workspaces
from storage.models import DigestTarget, User

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
    with runtime.db.unit_of_work() as session:
        stopped = workspaces.bot_removed(session, PLATFORM, guild_id, name)
        for target in stopped:
            setter = session.get(User, target.set_by_id) if target.set_by_id is not None else None
            if setter is not None:
                notify_later(session, setter, removed_notice(target, name, runtime.config.command))
        return len(stopped)


def removed_notice(target: DigestTarget, server: str, command: str) -> str:
    """The direct message to whoever set a digest the removal stopped (``server``: its name, if known)."""
    named = f"the Discord server *{server}*" if server else "a Discord server"
    return (f"RAD was removed from {named}, so the {target.cadence.value} revenue digest in "
            f"<#{target.channel}> is stopped. Add the bot back and run `/{command} admin digest here "
            f"{target.cadence.value}` in that channel to start it again, or choose another channel.")
