"""A minimal Discord gateway websocket: enough for a real ``discord.Client`` to connect, idle and resume.

HELLO → IDENTIFY → READY (+ GUILD_CREATE for configured guilds), HEARTBEAT → HEARTBEAT_ACK, RESUME →
replay of missed events + RESUMED (or INVALID_SESSION for an unknown session). ``dispatch`` pushes an
event (e.g. INTERACTION_CREATE) to every identified connection. Frames are uncompressed JSON text.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

REPLAY_MAX = 1000
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 7, 9, 10, 11


@dataclass
class Session:
    """One gateway session: its sequence, the events sent, and the socket currently attached."""

    session_id: str
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    socket: web.WebSocketResponse | None = None
    identify: dict[str, Any] = field(default_factory=dict)


class Gateway:
    """The websocket side of the emulator; ``ready_payload`` builds READY for a session."""

    def __init__(self, ready_payload: Callable[[Session], dict[str, Any]],
                 guilds: Callable[[], list[dict[str, Any]]], heartbeat_interval_ms: int = 41250) -> None:
        self.ready_payload = ready_payload
        self.guilds = guilds
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.received: list[dict[str, Any]] = []
        self.connections = 0

    @property
    def connected(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.socket is not None and not s.socket.closed]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one websocket connection until it closes."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        await ws.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        session: Session | None = None
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            self.received.append(payload)
            session = await self._on_payload(ws, payload, session)
        if session is not None and session.socket is ws:
            session.socket = None
        return ws

    async def _on_payload(self, ws: web.WebSocketResponse, payload: dict[str, Any],
                          session: Session | None) -> Session | None:
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            await ws.send_str(json.dumps({"op": HEARTBEAT_ACK}))
        elif op == IDENTIFY:
            session = Session(secrets.token_hex(16), socket=ws, identify=dict(data or {}))
            self.sessions[session.session_id] = session
            await self._send(session, "READY", self.ready_payload(session))
            for guild in self.guilds():
                await self._send(session, "GUILD_CREATE", guild)
        elif op == RESUME:
            session = self._resume(data or {})
            if session is None:
                await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
                return None
            session.socket = ws
            after = int((data or {}).get("seq") or 0)
            for event in session.events:
                if event["s"] > after:
                    await ws.send_str(json.dumps(event))
            await self._send(session, "RESUMED", {})
        return session

    def _resume(self, data: dict[str, Any]) -> Session | None:
        return self.sessions.get(str(data.get("session_id")))

    async def _send(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        del session.events[:-REPLAY_MAX]
        if session.socket is not None and not session.socket.closed:
            await session.socket.send_str(json.dumps(frame))

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send a dispatch event to every connected session; returns how many got it."""
        targets = self.connected
        for session in targets:
            await self._send(session, event, data)
        return len(targets)

    async def request_reconnect(self) -> None:
        """Ask every client to reconnect (op 7); they come back with RESUME."""
        for session in self.connected:
            assert session.socket is not None
            await session.socket.send_str(json.dumps({"op": RECONNECT, "d": None}))

    async def close(self) -> None:
        for session in self.connected:
            assert session.socket is not None
            await session.socket.close()
