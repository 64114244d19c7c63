"""A Discord gateway websocket for tests: connect, idle, resume, and serve several shards.

HELLO → IDENTIFY → READY (+ GUILD_CREATE for the guilds of the shard), HEARTBEAT → HEARTBEAT_ACK, RESUME →
replay of the events after the client's sequence + RESUMED (or INVALID_SESSION for a session that is gone).

Sharding as Discord does it: IDENTIFY carries ``shard: [shard_id, shard_count]`` (``[0, 1]`` when absent), a
guild belongs to shard ``(guild_id >> 22) % shard_count``, and every guild event goes to that shard's session
only; events without a guild (direct messages) go to shard 0. A shard id outside its count is closed with
4010 (Invalid shard), and one asking for an intent in ``disallowed_intents`` (a privileged intent the
app is not approved for) with 4014. The latest session of each shard receives its events even while its socket is down:
they are kept, and a RESUME replays them, so a shard that reconnects loses nothing. A client closing with
1000 or 1001 ends its session (Discord's rule); any other close leaves it resumable.

``drop(shard_id)`` closes one shard's socket from the server side (``forget=True`` also forgets its session,
so the client must IDENTIFY again). Frames are uncompressed JSON text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

REPLAY_MAX = 1000
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 7, 9, 10, 11
INVALID_SHARD, DISALLOWED_INTENTS = 4010, 4014
SESSION_ENDING_CLOSES = (1000, 1001)
GUILD_EVENTS_BY_ID = ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE")
"""Events whose ``d.id`` is the guild (the others carry ``d.guild_id``)."""


def shard_of(guild_id: int | str, shard_count: int) -> int:
    """The shard a guild belongs to (Discord's formula)."""
    return (int(guild_id) >> 22) % shard_count


def guild_of(event: str, data: dict[str, Any]) -> str | None:
    """The guild an event belongs to, or None (a direct message, a user event)."""
    if event in GUILD_EVENTS_BY_ID:
        return str(data["id"])
    guild_id = data.get("guild_id")
    return str(guild_id) if guild_id else None


@dataclass
class Session:
    """One gateway session of one shard: its sequence, the events sent, and the socket attached now."""

    session_id: str
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    socket: web.WebSocketResponse | None = None
    identify: dict[str, Any] = field(default_factory=dict)
    shard: tuple[int, int] = (0, 1)
    resumes: int = 0

    @property
    def shard_id(self) -> int:
        return self.shard[0]

    @property
    def shard_count(self) -> int:
        return self.shard[1]

    def serves(self, guild_id: str | None) -> bool:
        """Whether this session's shard receives the events of ``guild_id`` (None: shard 0)."""
        if guild_id is None:
            return self.shard_id == 0
        return shard_of(guild_id, self.shard_count) == self.shard_id


class Gateway:
    """The websocket side of the emulator; ``ready_payload`` builds READY for a session."""

    def __init__(self, ready_payload: Callable[[Session], dict[str, Any]],
                 guilds: Callable[[], list[dict[str, Any]]], heartbeat_interval_ms: int = 41250) -> None:
        self.ready_payload = ready_payload
        self.guilds = guilds
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.shards: dict[int, Session] = {}
        """The latest session of each shard id: the one that gets the shard's events."""
        self.received: list[dict[str, Any]] = []
        self.identified: list[tuple[int, float]] = []
        """(shard id, ``time.monotonic()``) of every IDENTIFY, in order."""
        self.connections = 0
        self.disallowed_intents = 0
        """Intent bits an IDENTIFY may not ask for (e.g. ``1 << 15``, MESSAGE_CONTENT, not approved): closed 4014."""

    @property
    def connected(self) -> list[Session]:
        return [s for s in self.shards.values() if s.socket is not None and not s.socket.closed]

    def shard(self, shard_id: int) -> Session | None:
        """The current session of ``shard_id``."""
        return self.shards.get(shard_id)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one websocket connection until it closes."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        await ws.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        session: Session | None = None
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                self.received.append(payload)
                session = await self._on_payload(ws, payload, session)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        if session is not None and session.socket is ws:
            session.socket = None
            if ws.close_code in SESSION_ENDING_CLOSES:
                self._end(session)
        return ws

    async def _on_payload(self, ws: web.WebSocketResponse, payload: dict[str, Any],
                          session: Session | None) -> Session | None:
        op, data = payload.get("op"), payload.get("d") or {}
        if op == HEARTBEAT:
            await ws.send_str(json.dumps({"op": HEARTBEAT_ACK}))
        elif op == IDENTIFY:
            return await self._identify(ws, data)
        elif op == RESUME:
            return await self._resume(ws, data)
        return session

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        shard_id, shard_count = (int(n) for n in (data.get("shard") or (0, 1)))
        if not 0 <= shard_id < shard_count:
            await ws.close(code=INVALID_SHARD, message=b"Invalid shard")
            return None
        if int(data.get("intents") or 0) & self.disallowed_intents:
            await ws.close(code=DISALLOWED_INTENTS, message=b"Disallowed intent(s)")
            return None
        session = Session(secrets.token_hex(16), socket=ws, identify=dict(data), shard=(shard_id, shard_count))
        self.sessions[session.session_id] = session
        previous = self.shards.get(shard_id)
        self.shards[shard_id] = session
        if previous is not None:
            self._end(previous)
        self.identified.append((shard_id, time.monotonic()))
        await self._send(session, "READY", self.ready_payload(session))
        for guild in self.guilds():
            if session.serves(str(guild["id"])):
                await self._send(session, "GUILD_CREATE", guild)
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
            return None
        if session.socket is not None and session.socket is not ws and not session.socket.closed:
            await session.socket.close(code=4000)
        session.socket = ws
        session.resumes += 1
        after = int(data.get("seq") or 0)
        for event in session.events:
            if event["s"] > after:
                await ws.send_str(json.dumps(event))
        await self._send(session, "RESUMED", {})
        return session

    def _end(self, session: Session) -> None:
        """The session is over: a RESUME of it gets INVALID_SESSION."""
        self.sessions.pop(session.session_id, None)
        if self.shards.get(session.shard_id) is session:
            del self.shards[session.shard_id]

    async def _send(self, session: Session, event: str, data: dict[str, Any]) -> None:
        """Number and keep the event; send it now if the session's socket is up (else a RESUME replays it)."""
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        del session.events[:-REPLAY_MAX]
        socket = session.socket
        if socket is not None and not socket.closed:
            try:
                await socket.send_str(json.dumps(frame))
            except (ConnectionResetError, RuntimeError):
                log.debug("event kept for replay", extra={"shard": session.shard_id, "seq": session.seq})

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send an event to the shard of its guild (shard 0 without one); returns how many sessions got it.

        A session whose socket is down keeps the event for its RESUME.
        """
        guild_id = guild_of(event, data)
        targets = [s for s in self.shards.values() if s.serves(guild_id)]
        for session in targets:
            await self._send(session, event, data)
        return len(targets)

    async def request_reconnect(self, shard_id: int | None = None) -> None:
        """Ask every client (or one shard) to reconnect (op 7); they come back with RESUME."""
        for session in self.connected:
            if shard_id is None or session.shard_id == shard_id:
                assert session.socket is not None
                await session.socket.send_str(json.dumps({"op": RECONNECT, "d": None}))

    async def drop(self, shard_id: int, *, code: int = 4000, forget: bool = False,
                   meanwhile: Sequence[tuple[str, dict[str, Any]]] = ()) -> None:
        """Close one shard's socket from the server side (code 4000: "reconnect").

        ``meanwhile``: events that happen once the socket is gone and before the client can be back (kept
        for its RESUME). ``forget`` ends the session too, so its RESUME is refused and it must IDENTIFY again.
        """
        session = self.shards.get(shard_id)
        if session is None:
            raise KeyError(f"no session for shard {shard_id}")
        socket, session.socket = session.socket, None
        for event, data in meanwhile:
            await self._send(session, event, data)
        if forget:
            self._end(session)
        if socket is not None and not socket.closed:
            await socket.close(code=code, message=b"dropped by the emulator")

    async def close(self) -> None:
        for session in self.connected:
            assert session.socket is not None
            await session.socket.close()
