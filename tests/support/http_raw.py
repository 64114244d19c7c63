"""Raw HTTP/1.1 over a socket, for requests urllib will not send: lying lengths, endless chunked bodies."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class RawAnswer:
    status: int
    body: bytes
    sent: int
    """Body bytes the server took before it answered (or closed)."""


def exchange(url: str, head: str, body: Iterable[bytes] = (), timeout: float = 10.0) -> RawAnswer:
    """Send ``head`` (request line and headers, without the blank line), then ``body`` piece by piece until the
    server stops reading; return the server's answer."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname or "127.0.0.1", where.port or 80), timeout=timeout) as conn:
        conn.sendall(head.encode("latin-1") + b"\r\n\r\n")
        sent = 0
        for piece in body:
            try:
                conn.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        received = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received and content_complete(received):
                break
    head_part, _, answer_body = received.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1]) if head_part else 0
    return RawAnswer(status, answer_body, sent)


def content_complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def chunked(piece: bytes, count: int) -> Iterable[bytes]:
    """``count`` chunks of ``piece`` in chunked transfer encoding, then the last chunk."""
    for _ in range(count):
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"
