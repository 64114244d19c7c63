"""A local Discord REST + gateway emulator for tests, benchmarks and demos (DESIGN.md section 6).

It records every REST call (method, path below ``/api/v10``, query, headers, JSON body or multipart parts
with ``payload_json`` parsed) and answers like Discord: login, command sync, interaction callbacks (with
``?with_response=1`` bodies), webhook follow-ups and ``@original`` edits, channel messages, threads.
Every JSON answer carries ``Content-Type: application/json`` exactly (discord.py parses nothing else).
``rate_limit`` makes the next calls of a route answer 429 with ``retry_after``.

The gateway (``tests.emulators.discord_gateway``) serves any number of shards; ``GET /gateway/bot`` recommends
``recommended_shards`` and counts ``session_start_limit.remaining`` down from ``session_starts`` with each
IDENTIFY (``reset_after_ms`` is when it would be full again). ``join_guild`` and
``leave_guild`` send GUILD_CREATE / GUILD_DELETE to the guild's shard as Discord does when the bot is added to
a server or removed from it (``guild_outage`` sends the GUILD_DELETE of an outage: ``unavailable: true``).

In a test: ``async with DiscordEmulator() as emu: ...``. From sync code: ``emu.start_in_thread()``
(its own loop in a daemon thread) and ``emu.stop_thread()``. Standalone:
``python -m tests.emulators.discord --port 8790 [--shards 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.emulators import discord_objects as obj
from tests.emulators.discord_gateway import Gateway, Session

API_PREFIX = re.compile(r"^/api(?:/v\d+)?")
EPHEMERAL = 64
SESSION_STARTS = 1000
"""``session_start_limit.total`` by default: IDENTIFYs allowed a day."""


@dataclass(frozen=True)
class FilePart:
    name: str
    filename: str
    content_type: str
    content: bytes


@dataclass
class Call:
    """One recorded REST call; ``json`` is the JSON body or a multipart body's ``payload_json``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    files: list[FilePart] = field(default_factory=list)
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    response: Any = None
    at: float = field(default_factory=time.monotonic)
    """When the emulator received the call (``time.monotonic``)."""

    @property
    def message(self) -> dict[str, Any] | None:
        """The message object this call created or edited, as the emulator stored it."""
        body = self.response
        if isinstance(body, dict) and "resource" in body:
            body = body["resource"].get("message")
        return body if isinstance(body, dict) and "channel_id" in body else None

    def __repr__(self) -> str:
        return f"<Call {self.method} {self.path} {self.status}>"


@dataclass
class RateLimit:
    method: str
    path: re.Pattern[str]
    remaining: int
    retry_after: float


Handler = Callable[[Call, re.Match[str]], tuple[int, Any]]


class DiscordEmulator:
    """The emulator. ``api_url`` is what ``DISCORD_API_URL`` / ``Route.BASE`` should point at."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, application_id: str = "",
                 bot_name: str = "RAD", heartbeat_interval_ms: int = 41250, recommended_shards: int = 1,
                 max_concurrency: int = 1, session_starts: int = SESSION_STARTS,
                 reset_after_ms: int = 86_400_000) -> None:
        self.host, self.port = host, port
        self.recommended_shards = recommended_shards
        self.max_concurrency = max_concurrency
        self.session_starts, self.reset_after_ms = session_starts, reset_after_ms
        self.application_id = application_id or obj.snowflake()
        self.bot_user = obj.user(obj.snowflake(), bot_name, bot=True)
        self.guilds: list[dict[str, Any]] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.earlier: dict[str, list[dict[str, Any]]] = {}
        """Message id -> copies of the message as it was before each of its edits, oldest first (a client that has
        not refreshed still shows one, and a click on it carries that copy)."""
        self.channels: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.originals: dict[str, str] = {}
        self.interactions: dict[str, dict[str, Any]] = {}
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._limits: list[RateLimit] = []
        self.forbidden: set[str] = set()
        """Channels the bot may not post in: creating a message there answers 403 Missing Access."""
        self.gateway = Gateway(self._ready, lambda: list(self.guilds), heartbeat_interval_ms)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/users/@me"), lambda c, m: (200, self.bot_user)),
            ("GET", re.compile(r"/oauth2/applications/@me"), lambda c, m: (200, self._application())),
            ("GET", re.compile(r"/gateway(/bot)?"), lambda c, m: (200, self._gateway_info())),
            ("PUT", re.compile(r"/applications/(\d+)(?:/guilds/(\d+))?/commands"), self._sync_commands),
            ("GET", re.compile(r"/applications/(\d+)(?:/guilds/(\d+))?/commands"),
             lambda c, m: (200, self.commands.get(m.group(2) or "global", []))),
            ("POST", re.compile(r"/interactions/(\d+)/([^/]+)/callback"), self._callback),
            ("POST", re.compile(r"/webhooks/(\d+)/([^/]+)"), self._followup),
            ("GET", re.compile(r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)"), self._webhook_get),
            ("PATCH", re.compile(r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)"), self._webhook_edit),
            ("DELETE", re.compile(r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)"), lambda c, m: (204, None)),
            ("POST", re.compile(r"/channels/(\d+)/messages"), self._create_message),
            ("PATCH", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._edit_message),
            ("GET", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._get_message),
            ("DELETE", re.compile(r"/channels/(\d+)/messages/(\d+)"),
             lambda c, m: (204, self.messages.pop(m.group(2), None) and None)),
            ("POST", re.compile(r"/channels/(\d+)/messages/(\d+)/threads"), self._create_thread),
            ("POST", re.compile(r"/channels/(\d+)/threads"), self._create_thread),
            ("GET", re.compile(r"/channels/(\d+)"), self._get_channel),
            ("POST", re.compile(r"/users/@me/channels"), self._open_dm),
        ]

    # -- addresses ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> DiscordEmulator:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> DiscordEmulator:
        """Run the emulator on its own event loop in a daemon thread (for sync callers)."""
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=serve, name="discord-emulator", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the Discord emulator did not start")
        return self

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    def run_sync(self, coro: Any) -> Any:
        """Run a coroutine (e.g. ``gateway.dispatch(...)``) on the emulator's thread loop."""
        if self._loop is None:
            raise RuntimeError("the emulator is not running in a thread")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- recording ----------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def find(self, method: str | None = None, path: str | None = None, *, ok: bool = True) -> list[Call]:
        """Recorded calls by method and a regex matched against the whole path; ``ok`` skips 4xx/5xx."""
        pattern = re.compile(path) if path else None
        return [c for c in self.calls
                if (method is None or c.method == method)
                and (pattern is None or pattern.fullmatch(c.path))
                and (not ok or c.status < 400)]

    async def wait_for(self, method: str | None = None, path: str | None = None, *, count: int = 1,
                       timeout: float = 2.0, ok: bool = True) -> list[Call]:
        """Poll until ``count`` matching calls were recorded; fails with the calls seen so far."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(method, path, ok=ok)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} x {method} {path}, recorded: {self.calls}")
            await asyncio.sleep(0.01)

    def wait_for_sync(self, method: str | None = None, path: str | None = None, *, count: int = 1,
                      timeout: float = 5.0, ok: bool = True) -> list[Call]:
        """``wait_for`` for threads that have no event loop."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(method, path, ok=ok)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} x {method} {path}, recorded: {self.calls}")
            time.sleep(0.01)

    def rate_limit(self, method: str, path: str, *, times: int = 1, retry_after: float = 0.05) -> None:
        """Answer the next ``times`` calls of ``method`` + ``path`` (a regex) with 429."""
        self._limits.append(RateLimit(method, re.compile(path), times, retry_after))

    # -- HTTP ---------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = API_PREFIX.sub("", request.path) or "/"
        call = Call(request.method, path, dict(request.query), headers=dict(request.headers))
        await self._read_body(request, call)
        with self._lock:
            self._calls.append(call)
        limited = self._limited(call)
        if limited is not None:
            call.status = 429
            body = {"message": "You are being rate limited.", "retry_after": limited, "global": False}
            return _json(429, body, {"Retry-After": str(limited), "Via": "1.1 google",
                                     "X-RateLimit-Scope": "user", "X-RateLimit-Remaining": "0"})
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if method == request.method and match:
                call.status, call.response = handler(call, match)
                return _json(call.status, call.response)
        call.status = 404
        return _json(404, {"message": "Unknown route (emulator)", "code": 0})

    @staticmethod
    async def _read_body(request: web.Request, call: Call) -> None:
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                name, data = part.name or "", await part.read()
                if name == "payload_json":
                    call.json = json.loads(data)
                else:
                    call.files.append(FilePart(name, part.filename or "", part.headers.get("Content-Type", ""),
                                               bytes(data)))
        elif request.can_read_body:
            raw = await request.read()
            call.json = json.loads(raw) if raw else None

    def _limited(self, call: Call) -> float | None:
        for limit in self._limits:
            if limit.remaining > 0 and limit.method == call.method and limit.path.fullmatch(call.path):
                limit.remaining -= 1
                return limit.retry_after
        return None

    # -- answers ------------------------------------------------------------------------------------

    def _application(self) -> dict[str, Any]:
        return {"id": self.application_id, "name": "RAD", "icon": None, "description": "", "bot_public": True,
                "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 0, "team": None,
                "owner": obj.user(obj.snowflake(), "owner"), "bot": self.bot_user}

    def _gateway_info(self) -> dict[str, Any]:
        remaining = max(self.session_starts - len(self.gateway.identified), 0)
        return {"url": self.gateway_url, "shards": self.recommended_shards,
                "session_start_limit": {"total": self.session_starts, "remaining": remaining,
                                        "reset_after": self.reset_after_ms,
                                        "max_concurrency": self.max_concurrency}}

    def _ready(self, session: Session) -> dict[str, Any]:
        guilds = [{"id": g["id"], "unavailable": True} for g in self.guilds if session.serves(str(g["id"]))]
        return {"v": 10, "user": self.bot_user, "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url, "application": {"id": self.application_id, "flags": 0},
                "guilds": guilds, "private_channels": [], "relationships": [], "shard": list(session.shard)}

    def _sync_commands(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        key = match.group(2) or "global"
        created = []
        for item in call.json or []:
            created.append({"id": obj.snowflake(), "application_id": match.group(1), "version": obj.snowflake(),
                            "type": 1, "default_member_permissions": None, "dm_permission": True, "nsfw": False,
                            "options": [], **item, **({"guild_id": key} if key != "global" else {})})
        self.commands[key] = created
        return 200, created

    def _new_message(self, channel_id: str, body: dict[str, Any], call: Call, *, webhook: bool) -> dict[str, Any]:
        attachments = [obj.attachment(f.filename, len(f.content), f.content_type) for f in call.files]
        channel = self.channels.get(channel_id, {})
        message = obj.message(obj.snowflake(), channel_id, self.bot_user, content=body.get("content") or "",
                              embeds=body.get("embeds") or [], components=body.get("components") or [],
                              attachments=attachments, flags=int(body.get("flags") or 0),
                              guild_id=channel.get("guild_id"),
                              webhook_id=self.application_id if webhook else None)
        self.messages[message["id"]] = message
        return message

    def _callback(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        interaction_id, token = match.group(1), match.group(2)
        body = call.json or {}
        kind, data = body.get("type"), body.get("data") or {}
        resource: dict[str, Any] = {"type": kind}
        info: dict[str, Any] = {"id": interaction_id, "type": 2}
        if kind in (4, 5):
            message = self._new_message(self._channel_of(token), data, call, webhook=True)
            self.originals[token] = message["id"]
            resource["message"] = message
            info.update(response_message_id=message["id"], response_message_loading=kind == 5,
                        response_message_ephemeral=bool(int(data.get("flags") or 0) & EPHEMERAL))
        source = (self.interactions.get(token) or {}).get("message") or {}
        if kind in (6, 7) and source.get("id"):
            message = self.messages.setdefault(source["id"], dict(source))
            self.originals[token] = message["id"]
            if kind == 7:
                self._apply_edit(message, Call(call.method, call.path, call.query, data, call.files))
                resource["message"] = message
        if call.query.get("with_response") in ("1", "true", "True"):
            return 200, {"interaction": info, "resource": resource}
        return 204, None

    def _channel_of(self, token: str) -> str:
        return str(self.interactions.get(token, {}).get("channel_id", "0"))

    def _followup(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        message = self._new_message(self._channel_of(match.group(2)), call.json or {}, call, webhook=True)
        return 200, message

    def _webhook_message(self, match: re.Match[str]) -> dict[str, Any] | None:
        message_id = match.group(3)
        if message_id == "@original":
            message_id = self.originals.get(match.group(2), "")
        return self.messages.get(message_id)

    def _webhook_get(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        message = self._webhook_message(match)
        return (200, message) if message else (404, {"message": "Unknown Message", "code": 10008})

    def _webhook_edit(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        message = self._webhook_message(match)
        if message is None:
            message = self._new_message("0", {}, call, webhook=True)
            self.originals[match.group(2)] = message["id"]
        return 200, self._apply_edit(message, call)

    def _apply_edit(self, message: dict[str, Any], call: Call) -> dict[str, Any]:
        if "id" in message:
            self.earlier.setdefault(str(message["id"]), []).append(copy.deepcopy(message))
        body = call.json or {}
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if call.files or "attachments" in body:
            message["attachments"] = [obj.attachment(f.filename, len(f.content), f.content_type)
                                      for f in call.files]
        message["edited_timestamp"] = obj.now_iso()
        return message

    @staticmethod
    def dm_channel_id(user_id: str) -> str:
        """The id of the DM channel with a user (the same each time, as on Discord)."""
        return str(900_000_000_000_000_000 + int(user_id) % 10**17)

    def _open_dm(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        """The DM channel with a user (one per user, like Discord)."""
        recipient = str((call.json or {}).get("recipient_id", ""))
        if not recipient.isdigit():
            return 400, {"message": "Invalid Form Body", "code": 50035}
        channel = self.dm_channel_id(recipient)
        return 200, {"id": channel, "type": 1, "last_message_id": None,
                     "recipients": [{"id": recipient, "username": f"user{recipient[-4:]}", "discriminator": "0",
                                     "avatar": None, "global_name": None}]}

    def _create_message(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        if match.group(1) in self.forbidden:
            return 403, {"message": "Missing Access", "code": 50001}
        return 200, self._new_message(match.group(1), call.json or {}, call, webhook=False)

    def _edit_message(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        message = self.messages.get(match.group(2))
        if message is None:
            return 404, {"message": "Unknown Message", "code": 10008}
        return 200, self._apply_edit(message, call)

    def _get_message(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        message = self.messages.get(match.group(2))
        return (200, message) if message else (404, {"message": "Unknown Message", "code": 10008})

    def _create_thread(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        parent = self.channels.get(match.group(1)) or {}
        guild_id = parent.get("guild_id") or (self.guilds[0]["id"] if self.guilds else "0")
        body = call.json or {}
        thread_id = match.group(2) if match.lastindex and match.lastindex >= 2 else obj.snowflake()
        thread = obj.thread_channel(thread_id, match.group(1), guild_id, name=body.get("name") or "thread",
                                    owner_id=self.bot_user["id"])
        self.channels[thread_id] = thread
        return 201, thread

    def _get_channel(self, call: Call, match: re.Match[str]) -> tuple[int, Any]:
        channel = self.channels.get(match.group(1))
        return (200, channel) if channel else (404, {"message": "Unknown Channel", "code": 10003})

    # -- gateway helpers ----------------------------------------------------------------------------

    def track(self, interaction: dict[str, Any]) -> dict[str, Any]:
        """Remember an interaction payload, so its responses land in its channel; returns it."""
        self.interactions[interaction["token"]] = interaction
        return interaction

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Push a gateway event to the shard of its guild; returns how many sessions got it (kept for a RESUME
        when the shard's socket is down)."""
        if event == "INTERACTION_CREATE":
            self.track(data)
        return await self.gateway.dispatch(event, data)

    def add_guild(self, guild_id: str, channels: list[dict[str, Any]], threads: list[dict[str, Any]],
                  *, name: str = "RAD test") -> dict[str, Any]:
        """A guild sent as GUILD_CREATE on its shard's IDENTIFY; its channels and threads answer GET /channels/{id}."""
        guild = obj.guild(guild_id, name=name, channels=channels, threads=threads)
        self.guilds.append(guild)
        for channel in [*channels, *threads]:
            self.channels[channel["id"]] = channel
        return guild

    async def join_guild(self, guild_id: str, channels: list[dict[str, Any]], *, name: str = "RAD test") -> int:
        """The bot is added to a server: GUILD_CREATE to its shard, without ``unavailable`` (a join, not a
        recovery); returns how many sessions got it."""
        guild = self.add_guild(guild_id, channels, [], name=name)
        return await self.gateway.dispatch("GUILD_CREATE", {k: v for k, v in guild.items() if k != "unavailable"})

    async def leave_guild(self, guild_id: str) -> int:
        """The bot is removed from (or leaves) a server: GUILD_DELETE without ``unavailable``."""
        self.guilds = [g for g in self.guilds if str(g["id"]) != guild_id]
        return await self.gateway.dispatch("GUILD_DELETE", {"id": guild_id})

    async def guild_outage(self, guild_id: str) -> int:
        """A server becomes unavailable (a Discord outage): GUILD_DELETE with ``unavailable: true``."""
        return await self.gateway.dispatch("GUILD_DELETE", {"id": guild_id, "unavailable": True})


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if status == 204 or body is None:
        return web.Response(status=204, headers=headers)
    return web.Response(status=status, body=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json", **(headers or {})})


def main(argv: list[str] | None = None) -> None:
    """Run the emulator until interrupted and print its URLs."""
    parser = argparse.ArgumentParser(description="Discord REST + gateway emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--shards", type=int, default=1, help="the shard count GET /gateway/bot recommends")
    args = parser.parse_args(argv)

    async def serve() -> None:
        emulator = await DiscordEmulator(host=args.host, port=args.port, recommended_shards=args.shards).start()
        print(f"DISCORD_API_URL={emulator.api_url}", flush=True)
        print(f"DISCORD_GATEWAY_URL={emulator.gateway_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await emulator.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
