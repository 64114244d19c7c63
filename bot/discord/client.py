"""The RAD Discord client: slash commands from the registry, persistent components, thread messages.

``build_client(runtime)`` makes the client; ``run_discord(runtime)`` runs it until stopped (the
``discord`` process); ``DiscordRunner`` runs it on its own loop in a thread (the all-in-one ``run``).
``DISCORD_API_URL`` moves ``discord.http.Route.BASE``; ``DISCORD_GATEWAY_URL`` (else the URL that API's
``GET /gateway/bot`` names) moves the gateway the client connects to.

The client is sharded (``discord.AutoShardedClient``): ``DISCORD_SHARD_COUNT`` shards, or as many as
Discord recommends, all in this process; each guild's events come on its shard, a shard that drops
resumes on its own (``bot.discord.shards`` paces the IDENTIFYs). ``is_ready()`` is true while every shard
is connected, so ``/healthz`` reports Discord down while any shard is. Being added to a server or removed
from one is handled in ``bot.discord.guilds``. REST 429s are honoured by discord.py itself (it waits
``Retry-After`` and retries the same request).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord import guilds
from bot.discord.drafts import DraftStore
from bot.discord.front import Front, front_of
from bot.discord.items import ActionButton, ActionSelect, SearchButton
from bot.discord.render import notice
from bot.discord.shards import IDENTIFY_WINDOW, IdentifyPacer, plan_shards
from bot.discord.tree import build_group
from bot.runtime import Runtime
from core.config import Config
from core.conversations import ConversationRef

log = logging.getLogger(__name__)
CHANNEL_CACHE_MAX = 2_000


def default_intents(*, message_content: bool = True) -> discord.Intents:
    """Guilds and messages; message content for thread chat (a privileged intent, see ``run_discord``)."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    return intents


def configure_endpoints(config: Config) -> None:
    """Point discord.py's REST base and (when given) its gateway at the configured URLs."""
    Route.BASE = config.discord_api_url.rstrip("/")
    if config.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.discord_gateway_url)


class RadTree(app_commands.CommandTree[discord.AutoShardedClient]):
    """The command tree; option errors become an ephemeral message, other errors an error id."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        """An invalid option value gets an ephemeral hint; any other error is reported with an error id."""
        front = front_of(self.client)
        if isinstance(error, app_commands.TransformerError):
            text = f":warning: `{error.value}` is not a valid value here. Run `/{front.runtime.config.command} help`."
            await front.send(interaction, [notice(text)], ephemeral=True)
            return
        await front.fail(interaction, error.original if isinstance(error, app_commands.CommandInvokeError) else error)


class RadDiscordClient(discord.AutoShardedClient):
    """An ``AutoShardedClient`` with the ``/rad`` tree, the dynamic items, the thread and server listeners.

    ``identify_window``: seconds between two IDENTIFYs of one rate-limit key (Discord's 5; tests shorten it).
    """

    def __init__(self, runtime: Runtime, *, sync_commands: bool = True, defer_after: float = 2.0,
                 intents: discord.Intents | None = None, identify_window: float = IDENTIFY_WINDOW,
                 **options: Any) -> None:
        options.setdefault("shard_count", runtime.config.discord_shard_count)
        super().__init__(intents=intents or default_intents(), **options)
        self.runtime = runtime
        self.pacer = IdentifyPacer(identify_window)
        self._live: dict[int, bool] = {}
        """Each shard: True from its READY or RESUMED to its next disconnect."""
        self.front = Front(runtime, DraftStore(runtime.db), defer_after=defer_after)
        self.tree = RadTree(self)
        self.tree.add_command(build_group(runtime.registry, runtime.config.command, self.front.command,
                                          self.front.complete))
        self.sync_commands = sync_commands
        self.ready = threading.Event()
        self._parents: OrderedDict[int, asyncio.Future[int | None]] = OrderedDict()

    async def setup_hook(self) -> None:
        """Register the dynamic items and sync the tree if asked."""
        self.add_dynamic_items(ActionButton, ActionSelect, SearchButton)
        if self.sync_commands:
            await self.tree.sync()

    async def launch_shards(self) -> None:
        """Start every shard: the configured count or Discord's recommendation, within the session start limit.

        They connect to the configured gateway, else to the one ``GET /gateway/bot`` names.
        """
        if self.is_closed():
            return
        recommended, url, limits = await self.http.get_bot_gateway()
        plan = plan_shards(self.shard_count, recommended, url, dict(limits), self.runtime.config.discord_gateway_url)
        gateway = DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(plan.gateway)  # re-IDENTIFYs go there too
        self.shard_count = self._connection.shard_count = plan.count
        shard_ids = self.shard_ids or range(plan.count)
        self._connection.shard_ids = shard_ids
        self.pacer.max_concurrency = plan.max_concurrency
        log.info("discord shards starting", extra={"shards": plan.count, "shard_ids": list(shard_ids),
                                                   "max_concurrency": plan.max_concurrency})
        if plan.wait_first:
            await asyncio.sleep(plan.wait_first)
        for shard_id in shard_ids:
            await self.launch_shard(gateway, shard_id, initial=shard_id == shard_ids[0])

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait until this shard may IDENTIFY (Discord's per-key limit; discord.py's own waits 5 s always)."""
        await self.pacer.wait(shard_id)

    def shard_states(self) -> dict[int, bool]:
        """Each shard started so far: whether it is connected now.

        Connected: its session READY or RESUMED since it last disconnected, and its socket open.
        """
        return {shard_id: self._live.get(shard_id, False) and not info.is_closed()
                for shard_id, info in sorted(self.shards.items())}

    def is_ready(self) -> bool:
        """READY came on every shard and every shard is connected now (one reconnecting is not)."""
        states = self.shard_states()
        return super().is_ready() and len(states) == len(self._connection.shard_ids) and all(states.values())

    def health(self) -> str:
        """``ok`` while every shard is connected, else ``down`` naming the shards that are not (``/healthz``)."""
        if self.is_ready() and not self.is_closed():
            return "ok"
        states, count = self.shard_states(), len(self._connection.shard_ids or ())
        missing = [str(shard) for shard in (self._connection.shard_ids or ()) if not states.get(shard, False)]
        return f"down (shard {', '.join(missing)} of {count})" if missing and count > 1 else "down"

    async def on_ready(self) -> None:
        """Log the connection, set ``ready``, and stop the digests of servers left while disconnected."""
        log.info("discord connected", extra={"user": str(self.user), "guilds": len(self.guilds),
                                             "shards": self.shard_count})
        self.ready.set()
        await guilds.removed_meanwhile(self.runtime, {guild.id for guild in self.guilds}, self.on_my_shards)

    def on_my_shards(self, guild_id: int) -> bool:
        """Whether ``guild_id``'s events come to this client (its shard is one of ours)."""
        count = self.shard_count or 1
        return (guild_id >> 22) % count in self._connection.shard_ids

    async def on_shard_connect(self, shard_id: int) -> None:
        """A shard's session is READY."""
        self._live[shard_id] = True

    async def on_shard_disconnect(self, shard_id: int) -> None:
        """A shard lost its connection (it reconnects by itself); logged."""
        self._live[shard_id] = False
        if not self.is_closed():
            log.warning("discord shard disconnected", extra={"shard": shard_id})

    async def on_shard_resumed(self, shard_id: int) -> None:
        """A shard's session is resumed; logged."""
        self._live[shard_id] = True
        log.info("discord shard resumed", extra={"shard": shard_id})

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """The bot was added to a server."""
        await guilds.guild_added(self.runtime, guild)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from a server (not an outage: that is ``on_guild_unavailable``)."""
        await guilds.guild_removed(self.runtime, guild)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Hand the interaction to the front; an unexpected error is reported with an error id."""
        try:
            await self.front.on_interaction(interaction)
        except Exception as error:
            await self.front.fail(interaction, error)

    async def on_message(self, message: discord.Message) -> None:
        """A message in a thread goes to the thread's handler; the bot's own (and bots') are ignored."""
        if message.author.bot or message.webhook_id is not None or self.user is None:
            return
        where = await self._thread_of(message)
        text = re.sub(rf"<@!?{self.user.id}>", "", message.content).strip()
        if where is not None and text:
            await self.front.thread_message(message, where, text)

    async def _thread_of(self, message: discord.Message) -> ConversationRef | None:
        channel = message.channel
        guild_id = message.guild.id if message.guild is not None else getattr(channel, "guild_id", None)
        if isinstance(channel, discord.Thread):
            parent: int | None = channel.parent_id
        elif isinstance(channel, discord.PartialMessageable) and guild_id is not None:
            parent = await self._parent_of(channel.id)
        else:
            return None
        if parent is None:
            return None
        return ConversationRef("discord", str(guild_id or ""), str(parent), str(channel.id), str(message.id))

    async def _parent_of(self, channel_id: int) -> int | None:
        """The parent of an uncached thread (None for a channel), fetched once and remembered."""
        lookup = self._parents.get(channel_id)
        if lookup is None:
            lookup = self._parents[channel_id] = asyncio.ensure_future(self._fetch_parent(channel_id))
            while len(self._parents) > CHANNEL_CACHE_MAX:
                self._parents.popitem(last=False)
        try:
            return await lookup
        except discord.HTTPException:
            self._parents.pop(channel_id, None)
            return None

    async def _fetch_parent(self, channel_id: int) -> int | None:
        fetched = await self.fetch_channel(channel_id)
        return fetched.parent_id if isinstance(fetched, discord.Thread) else None


def build_client(runtime: Runtime, **options: Any) -> RadDiscordClient:
    """The client for ``runtime``, with discord.py pointed at the configured endpoints."""
    configure_endpoints(runtime.config)
    return RadDiscordClient(runtime, **options)


async def serve(runtime: Runtime, stop: asyncio.Event, *,
                on_client: Callable[[RadDiscordClient], None] | None = None, **options: Any) -> None:
    """Run a client until ``stop`` is set (or it fails); without message content if that is not approved."""
    client = build_client(runtime, **options)
    if on_client is not None:
        on_client(client)
    try:
        await _run_until(client, stop)
    except discord.PrivilegedIntentsRequired:
        log.warning("MESSAGE_CONTENT intent not approved; thread chat needs the bot to be mentioned")
        options["intents"] = default_intents(message_content=False)
        await serve(runtime, stop, on_client=on_client, **options)


async def _run_until(client: RadDiscordClient, stop: asyncio.Event) -> None:
    async with client:
        runner = asyncio.create_task(client.start(client.runtime.config.discord_token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if runner not in done:
            await client.close()
        await runner


def run_discord(runtime: Runtime, **options: Any) -> None:
    """The ``discord`` process: run until SIGINT/SIGTERM."""
    if not runtime.config.discord_token:
        raise RuntimeError("DISCORD_TOKEN is not set")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(runtime, stop, **options)

    asyncio.run(main())


class DiscordRunner:
    """The Discord front door on its own event loop in a daemon thread: ``start()``, then ``stop()``."""

    def __init__(self, runtime: Runtime, **options: Any) -> None:
        self.runtime = runtime
        self.options = options
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: RadDiscordClient | None = None
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    def start(self, *, wait_ready: float = 30.0) -> None:
        """Start the thread; wait up to ``wait_ready`` seconds for the gateway's READY (0: don't wait)."""
        self._thread = threading.Thread(target=self._main, name="discord", daemon=True)
        self._thread.start()
        self._started.wait(10)
        if wait_ready and not self._wait_ready(wait_ready):
            raise RuntimeError(f"Discord did not become ready: {self.error!r}")

    def current(self) -> RadDiscordClient | None:
        """The client running now (it is replaced if it had to reconnect without message content)."""
        return self.client

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread is not None and self._thread.is_alive():
            client = self.client
            if client is not None and client.ready.wait(0.05):
                return True
        return False

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self._stop = asyncio.Event()

        def attach(client: RadDiscordClient) -> None:
            self.client = client
            self._started.set()

        try:
            self.loop.run_until_complete(serve(self.runtime, self._stop, on_client=attach, **self.options))
        except BaseException as error:
            self.error = error
            log.exception("the Discord front door stopped")
        finally:
            self.loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the gateway connection and wait for the thread."""
        if self.loop is not None and self._stop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stop.set)
            self._started.clear()
        if self._thread is not None:
            self._thread.join(timeout)
