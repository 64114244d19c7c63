"""The Discord test seam: a real RAD client logged in against the emulator, fed real gateway payloads.

All use of discord.py's private API lives here: ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``
(moved by ``build_client`` and restored here), and ``client._connection.parse_*`` to feed events
exactly as the gateway would. discord.py is pinned (~=2.7.1) for this reason.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.discord.client import RadDiscordClient, build_client
from bot.runtime import Runtime
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import Registry
from core.config import Config
from core.services import Services
from storage.db import Database
from tests.emulators import discord_objects as obj
from tests.emulators.discord import Call, DiscordEmulator
from tests.support.discord_spec import validate_call

ADMIN_ID = "900000000000000001"
USER_ID = "900000000000000002"
GUILD_ID = "800000000000000001"
CHANNEL_ID = "800000000000000002"
TOKEN = "test-bot-token"
USER_OPTION, INTEGER_OPTION = 6, 4


def discord_config(config: Config, emulator: DiscordEmulator) -> Config:
    """The test config with a Discord admin, pointed at the emulator."""
    return replace(config, admins=(f"discord:{ADMIN_ID}",), discord_token=TOKEN,
                   discord_api_url=emulator.api_url, discord_gateway_url=emulator.gateway_url)


def make_runtime(config: Config, db: Database, registry: Registry | None = None,
                 services: Services | None = None) -> Runtime:
    registry = registry or load_registry()
    return Runtime(config, db, registry, Dispatcher(registry, db, config, services=services))


class Harness:
    """One logged-in client (replaceable by ``restart``) and helpers to drive it through the emulator."""

    def __init__(self, emulator: DiscordEmulator, runtime: Runtime, **options: Any) -> None:
        self.emulator = emulator
        self.runtime = runtime
        self.options = {"sync_commands": True, **options}
        self.client: RadDiscordClient | None = None

    @property
    def bot(self) -> RadDiscordClient:
        assert self.client is not None
        return self.client

    async def start(self) -> Harness:
        self.client = build_client(self.runtime, **self.options)
        await self.client.login(self.runtime.config.discord_token)
        return self

    async def restart(self) -> RadDiscordClient:
        """A brand new client instance, as after a process restart."""
        await self.close()
        await self.start()
        return self.bot

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    # -- feeding events -----------------------------------------------------------------------------

    def feed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Hand an INTERACTION_CREATE payload to the client's gateway parser."""
        self.emulator.track(payload)
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        return payload

    def user(self, user_id: str = ADMIN_ID, name: str = "") -> dict[str, Any]:
        return obj.user(user_id, name or ("admin" if user_id == ADMIN_ID else f"user{user_id[-3:]}"))

    def slash(self, words: str, options: Mapping[str, Any] | None = None, *, user_id: str = ADMIN_ID,
              types: Mapping[str, int] | None = None, resolved: Sequence[dict[str, Any]] = (),
              interaction_id: str | None = None) -> dict[str, Any]:
        """``/rad <words> options…`` typed by ``user_id`` in the test guild."""
        data = obj.command_data(self.runtime.config.command, words.split(), options, types=types,
                                resolved_users=resolved)
        return self.feed(obj.interaction(2, data, application_id=self.emulator.application_id,
                                         user_data=self.user(user_id), channel_id=CHANNEL_ID, guild_id=GUILD_ID,
                                         interaction_id=interaction_id))

    def autocomplete(self, words: str, options: Mapping[str, Any], focused: str, *,
                     user_id: str = ADMIN_ID) -> dict[str, Any]:
        """``/rad <words> options…`` being typed, with the cursor in option ``focused`` (an autocomplete)."""
        data = obj.command_data(self.runtime.config.command, words.split(), options, focused=focused)
        return self.feed(obj.interaction(4, data, application_id=self.emulator.application_id,
                                         user_data=self.user(user_id), channel_id=CHANNEL_ID, guild_id=GUILD_ID))

    def click(self, message: dict[str, Any], custom_id: str, *, user_id: str = ADMIN_ID,
              component_type: int = 2, values: Sequence[str] = ()) -> dict[str, Any]:
        """A click on ``custom_id`` in ``message`` (a message object as Discord stored it)."""
        return self.feed(obj.interaction(3, obj.component_data(custom_id, component_type, values),
                                         application_id=self.emulator.application_id, user_data=self.user(user_id),
                                         channel_id=CHANNEL_ID, guild_id=GUILD_ID, message_data=message))

    def click_as_it_was(self, message_id: str, custom_id: str, *, edits_ago: int = 0,
                        user_id: str = ADMIN_ID) -> dict[str, Any]:
        """A click on ``custom_id`` in message ``message_id`` as it was before its edits (``edits_ago=0``: as
        first posted), from a copy the emulator took before the edit: a client still showing the old card."""
        earlier = self.emulator.earlier.get(message_id) or []
        assert earlier, f"message {message_id} was never edited"
        message = earlier[edits_ago]
        assert any(c.get("custom_id") == custom_id for c in components_of(message)), "not on the message then"
        return self.click(message, custom_id, user_id=user_id)

    def submit(self, custom_id: str, values: Mapping[str, str | list[str] | bool], *, user_id: str = ADMIN_ID,
               message: dict[str, Any] | None = None) -> dict[str, Any]:
        """A modal submission with values by input custom id; ``message`` when the modal was opened from a
        component of that message (Discord then sends the message along)."""
        return self.feed(obj.interaction(5, obj.modal_data(custom_id, values),
                                         application_id=self.emulator.application_id, user_data=self.user(user_id),
                                         channel_id=CHANNEL_ID, guild_id=GUILD_ID, message_data=message))

    def guild(self, threads: Sequence[dict[str, Any]] = ()) -> None:
        """GUILD_CREATE for the test guild with its channel and ``threads``, cached like on a real gateway."""
        channel = obj.text_channel(CHANNEL_ID, GUILD_ID)
        self.bot._connection.parse_guild_create(obj.guild(GUILD_ID, channels=[channel], threads=threads))

    def message(self, channel_id: str, content: str, *, user_id: str = USER_ID, bot: bool = False) -> dict[str, Any]:
        """MESSAGE_CREATE in ``channel_id`` (a channel or a thread)."""
        author = obj.user(user_id, "bot" if bot else f"user{user_id[-3:]}", bot=bot)
        payload = obj.message(obj.snowflake(), channel_id, author, content=content, guild_id=GUILD_ID)
        self.bot._connection.parse_message_create(payload)  # type: ignore[arg-type]
        return payload

    # -- reading what the bot sent ------------------------------------------------------------------

    async def callbacks(self, count: int = 1, timeout: float = 3.0) -> list[Call]:
        """The interaction callbacks so far (at least ``count``), each validated against the spec."""
        calls = await self.emulator.wait_for("POST", r"/interactions/\d+/[^/]+/callback", count=count,
                                             timeout=timeout)
        for call in calls:
            validate_call(call)
        return calls

    async def original_edits(self, interaction: Mapping[str, Any], count: int = 1,
                             timeout: float = 3.0) -> list[Call]:
        """The edits of ``interaction``'s original response (at least ``count``), validated.

        Matched by the interaction's token, not counted among all edits: an edit may already be recorded
        when the test sees the deferral that precedes it.
        """
        path = rf"/webhooks/\d+/{re.escape(str(interaction['token']))}/messages/@original"
        calls = await self.emulator.wait_for("PATCH", path, count=count, timeout=timeout)
        for call in calls:
            validate_call(call)
        return calls

    async def last_callback(self, count: int = 1) -> dict[str, Any]:
        calls = await self.callbacks(count)
        body: dict[str, Any] = calls[-1].json
        return body

    def validate_all(self) -> None:
        """Every successful call recorded so far, against its route's schema."""
        for call in self.emulator.find():
            validate_call(call)


@asynccontextmanager
async def running_bot(db: Database, config: Config, *, registry: Registry | None = None,
                      services: Services | None = None, **options: Any) -> AsyncIterator[Harness]:
    """An emulator plus a logged-in client; discord.py's global endpoints are restored afterwards."""
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with DiscordEmulator() as emulator:
        runtime = make_runtime(discord_config(config, emulator), db, registry, services)
        harness = Harness(emulator, runtime, **options)
        try:
            yield await harness.start()
        finally:
            await harness.close()
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def components_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every component (buttons, selects, inputs) in a callback or message body, rows unwrapped."""
    data = body.get("data", body)
    found: list[dict[str, Any]] = []
    for row in data.get("components") or []:
        found += [row.get("component")] if "component" in row else list(row.get("components") or [])
    return [c for c in found if c]


def custom_id_of(body: dict[str, Any], label: str) -> str:
    """The custom id of the button labelled ``label`` (or starting with it)."""
    for component in components_of(body):
        if str(component.get("label", "")).startswith(label):
            return str(component["custom_id"])
    raise AssertionError(f"no button {label!r} in {body}")
