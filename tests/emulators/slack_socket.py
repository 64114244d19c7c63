"""The Socket Mode side of the Slack emulator: a minimal WebSocket server (RFC 6455) for ``/socket-mode``.

It answers the handshake, says ``hello``, pushes envelopes the test queues, answers pings, and records each
acknowledgement the app sends back as a call to ``/socket-mode/ack``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def handshake(sock: socket.socket, key: str) -> None:
    sock.sendall((
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode())


def send_frame(sock: socket.socket, opcode: int, payload: bytes) -> None:
    """A server frame: final, unmasked."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    sock.sendall(header + payload)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("socket closed")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One client frame (masked, as clients must send them): its opcode and payload."""
    first, second = _read_exactly(sock, 2)
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", _read_exactly(sock, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", _read_exactly(sock, 8))[0]
    mask = _read_exactly(sock, 4) if second & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exactly(sock, size)))
    return first & 0x0F, payload


def run_session(sock: socket.socket, outbox: queue.Queue[dict[str, Any]],
                record: Callable[[dict[str, Any]], None], alive: Callable[[], bool]) -> None:
    """Serve one Socket Mode connection until the client closes it or the emulator stops."""
    hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
             "debug_info": {"host": "emulator", "approximate_connection_time": 3600}}
    send_frame(sock, TEXT, json.dumps(hello).encode())
    while alive():
        try:
            while not outbox.empty():
                send_frame(sock, TEXT, json.dumps(outbox.get_nowait()).encode())
            readable, _, _ = select.select([sock], [], [], 0.02)
            if not readable:
                continue
            opcode, payload = read_frame(sock)
        except (ConnectionError, OSError):
            return
        if opcode == PING:
            send_frame(sock, PONG, payload)
        elif opcode == TEXT:
            record(json.loads(payload or b"{}"))
        elif opcode == CLOSE:
            send_frame(sock, CLOSE, payload[:2])
            return


def envelope(kind: str, payload: dict[str, Any], *, envelope_id: str = "", retry: int = 0) -> dict[str, Any]:
    """A Socket Mode envelope as Slack sends it (``slash_commands``, ``interactive``, ``events_api``)."""
    return {"envelope_id": envelope_id or f"env-{time.monotonic_ns()}", "type": kind, "payload": payload,
            "accepts_response_payload": kind != "events_api", "retry_attempt": retry,
            "retry_reason": "timeout" if retry else ""}
