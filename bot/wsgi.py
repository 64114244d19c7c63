"""Small WSGI helpers shared by the HTTP routes: JSON answers, and request bodies read under a limit."""

from __future__ import annotations

import json
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

MAX_BODY_BYTES = 1024 * 1024
"""The largest request body any route accepts (1 MiB); Slack and Stripe payloads are a few kilobytes."""
READ_CHUNK = 64 * 1024


class BodyRefused(Exception):
    """A request body that is not read: too large (413) or with an unreadable length (400)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(environ: WSGIEnvironment, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, never reading more than ``limit + 1`` bytes.

    A declared ``Content-Length`` over the limit is refused before anything is read; without one (a chunked
    body on a server that passes it through) or when it lies, reading stops one byte past the limit.

    Raises:
        BodyRefused: the body is larger than ``limit``, or ``Content-Length`` is not a number.
    """
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if declared and not declared.isdigit():
        raise BodyRefused("400 Bad Request", "Content-Length is not a number")
    if declared and int(declared) > limit:
        raise too_large(limit)
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    wanted = int(declared) if declared else limit + 1
    chunks: list[bytes] = []
    size = 0
    while size < wanted:
        chunk = stream.read(min(READ_CHUNK, wanted - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise too_large(limit)
    return b"".join(chunks)


def too_large(limit: int) -> BodyRefused:
    """The refusal of a body over ``limit`` bytes (413)."""
    return BodyRefused("413 Content Too Large", f"the request body is larger than {limit:,} bytes")


def respond_json(start_response: StartResponse, status: str, data: object,
                 headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    """Answer ``data`` as JSON with ``status`` (``"200 OK"``) and any extra headers."""
    body = json.dumps(data).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]


def refuse(start_response: StartResponse, refused: BodyRefused) -> list[bytes]:
    """Answer a refused body with its status and a short JSON error."""
    return respond_json(start_response, refused.status, {"error": refused.message})
