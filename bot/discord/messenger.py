"""``DiscordMessenger``: background work posts and edits channel messages with the bot token.

Synchronous, callable from any worker thread. While a connected client is at hand (``client=`` a
client, or a function returning the current one, e.g. ``DiscordRunner.current``) the calls are
scheduled onto the client's loop with ``asyncio.run_coroutine_threadsafe`` and share its HTTP session
and rate-limit buckets. Otherwise (a worker or clock process, or the gateway is down) the messenger
logs in a plain discord.py ``HTTPClient`` on its own small loop thread: REST only, no gateway.

A reference whose ``thread`` is a message of ``channel`` (a reply "in the thread" of a message, as the
deploy worker makes) is a thread started from that message: Discord gives it the message's id. The
messenger starts it on first use (``POST /channels/{c}/messages/{m}/threads``) and then posts in it.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

import discord
from discord.http import HTTPClient, handle_message_parameters

from bot.discord.client import configure_endpoints
from bot.discord.render import OutMessage, render_reply
from bot.discord.text import shorten
from commands.ui.model import Reply
from core.accounts.identity import IdentityKey
from core.config import Config
from core.conversations import ConversationRef
from core.network import assert_no_transaction

T = TypeVar("T")
TIMEOUT = 60.0
THREAD_NAME_MAX = 100
THREAD_ARCHIVE_MINUTES: Final = 1440
THREAD_EXISTS = 160004
"""Discord's error code for "a thread has already been created for this message"."""
_MARKUP = re.compile(r"<[@#][!&]?\d+>|[*_`~|>]")


class DiscordMessenger:
    """The Messenger port for Discord: post to ``where.thread`` (or ``where.channel``), edit ``where.message``."""

    platform = "discord"

    def __init__(self, config: Config,
                 client: discord.Client | Callable[[], discord.Client | None] | None = None) -> None:
        self.config = config
        self._client = client
        self._own_loop: asyncio.AbstractEventLoop | None = None
        self._own_http: HTTPClient | None = None
        self._lock = threading.Lock()
        self._threads: set[str] = set()

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        """Post ``reply`` (several messages if it does not fit in one); the reference names the first."""
        assert_no_transaction("DiscordMessenger.post")
        messages = render_reply(reply)

        async def work(http: HTTPClient) -> list[str]:
            channel = await self._target(http, where, reply)
            return await _post(http, channel, messages)

        ids = self._run(work)
        return ConversationRef("discord", where.workspace, where.channel, where.thread, ids[0])

    def notify(self, user: IdentityKey, reply: Reply) -> ConversationRef:
        """A direct message: the DM channel with the user is opened (or found), then posted in; returns it."""
        assert_no_transaction("DiscordMessenger.notify")
        messages = render_reply(reply)
        opened: list[str] = []

        async def work(http: HTTPClient) -> list[str]:
            channel = await http.start_private_message(user.external_id)  # a snowflake, as a string
            opened.append(str(channel["id"]))
            return await _post(http, int(channel["id"]), messages)

        ids = self._run(work)
        return ConversationRef("discord", "", opened[0], "", ids[0])

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        """Replace ``where.message``; what does not fit in it is posted after it."""
        assert_no_transaction("DiscordMessenger.edit")
        channel = int(where.thread or where.channel)
        first, *rest = render_reply(reply)
        self._run(lambda http: _edit(http, channel, int(where.message), first))
        if rest:
            self._run(lambda http: _post(http, channel, rest))

    def close(self) -> None:
        """Log out the messenger's own HTTP client and stop its loop (nothing to do with a client)."""
        loop, http = self._own_loop, self._own_http
        if loop is not None and http is not None:
            asyncio.run_coroutine_threadsafe(http.close(), loop).result(TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
        self._own_loop = self._own_http = None

    # -- machinery ----------------------------------------------------------------------------------

    async def _target(self, http: HTTPClient, where: ConversationRef, reply: Reply) -> int:
        """The channel to post in: ``where.thread``, else the channel.

        A thread not started yet is started from its message first.
        """
        if not where.thread or where.thread == where.channel or where.thread in self._threads:
            return int(where.thread or where.channel)
        try:
            await http.get_channel(int(where.thread))
        except discord.NotFound:
            try:
                await http.start_thread_with_message(int(where.channel), int(where.thread), name=thread_name(reply),
                                                     auto_archive_duration=THREAD_ARCHIVE_MINUTES)
            except discord.HTTPException as error:
                if error.code != THREAD_EXISTS:  # another post started it meanwhile
                    raise
        self._threads.add(where.thread)
        return int(where.thread)

    def _live_client(self) -> discord.Client | None:
        client = self._client if isinstance(self._client, discord.Client) or self._client is None else self._client()
        # READY came once (discord.Client's own is_ready): REST works while a shard resumes.
        return client if client is not None and discord.Client.is_ready(client) and not client.is_closed() else None

    def _run(self, work: Callable[[HTTPClient], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` with the client's HTTP session on its loop, or with our own REST client."""
        client = self._live_client()
        loop = client.loop if client is not None else self._loop()
        if _running_loop() is loop:
            raise RuntimeError("DiscordMessenger is synchronous: call it from a worker thread, not the event loop")

        async def call() -> T:
            return await work(client.http if client is not None else await self._own_login())

        return asyncio.run_coroutine_threadsafe(call(), loop).result(TIMEOUT)

    async def _own_login(self) -> HTTPClient:
        assert self._own_http is not None
        if self._own_http.token is None:
            await self._own_http.static_login(self.config.discord_token)
        return self._own_http

    def _loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._own_loop is None:
                configure_endpoints(self.config)
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="discord-messenger", daemon=True).start()
                self._own_http = HTTPClient(loop)
                self._own_loop = loop
            return self._own_loop


async def _post(http: HTTPClient, channel: int, messages: list[OutMessage]) -> list[str]:
    ids = []
    for message in messages:
        with handle_message_parameters(**message.send_kwargs()) as params:
            data = await http.send_message(channel, params=params)
        ids.append(str(data["id"]))
    return ids


async def _edit(http: HTTPClient, channel: int, message_id: int, message: OutMessage) -> None:
    with handle_message_parameters(**message.edit_kwargs()) as params:
        await http.edit_message(channel, message_id, params=params)


def thread_name(reply: Reply) -> str:
    """A thread's name from the reply that starts it: its first line without mentions or markup."""
    first = next((line for line in (reply.text or "").splitlines() if line.strip()), "")
    if not first and reply.cards:
        first = reply.cards[0].title
    name = " ".join(_MARKUP.sub("", first).split())
    return shorten(name or "Details", THREAD_NAME_MAX)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
