"""Terraform's ``http`` state backend, served by the worker on a Unix socket that only one run's sandbox sees.

Why this way: Terraform considers its state written only when the backend has answered, and this backend
answers only after the state is committed to the database (through :class:`StateStore`). So whatever Terraform
has written (after an apply, after a failed apply, or at its periodic persistence during a long apply) is
already in the database when a worker is killed; nothing of the state ever touches the disk. The socket lives
in a private directory bound into that run's sandbox alone; every request must carry the run's password.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import secrets
import shutil
import socketserver
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

MAX_STATE_BYTES = 64 * 1024 * 1024
"""A state over this size is refused (Terraform reports the failed write and keeps ``errored.tfstate``)."""
SOCKET_NAME = "state.sock"
USERNAME = "rad"


class StateStore(Protocol):
    """Where one deployment's state is kept (the database, sealed like every secret)."""

    def load(self) -> bytes | None:
        """The current state, or None when there is none yet."""

    def save(self, state: bytes) -> None:
        """Replace the state; raise when it could not be stored (Terraform then keeps trying, then reports it)."""


@dataclass
class MemoryStateStore:
    """A state store in memory (benchmarks, and tests of the runner without a database)."""

    state: bytes | None = None
    writes: int = 0

    def load(self) -> bytes | None:
        """The state kept, or None when there is none yet."""
        return self.state

    def save(self, state: bytes) -> None:
        """Keep ``state`` and count the write."""
        self.state, self.writes = state, self.writes + 1


def check_state(body: bytes) -> None:
    """Raise ValueError unless ``body`` looks like a Terraform state (a JSON object with a version and serial)."""
    data = json.loads(body)
    if not isinstance(data, dict) or "version" not in data or "serial" not in data:
        raise ValueError("not a Terraform state")


@dataclass
class StateServer:
    """The backend for one run: a Unix socket in a private directory, and the password its requests must carry."""

    store: StateStore
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rad-state-")))
    on_error: Callable[[str], None] | None = None
    _server: socketserver.UnixStreamServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def socket_path(self) -> Path:
        """The Unix socket the backend listens on, in its private directory."""
        return self.directory / SOCKET_NAME

    def environment(self, port: int) -> dict[str, str]:
        """What Terraform needs to use this backend through the relay on ``127.0.0.1:port``."""
        return {
            "TF_HTTP_ADDRESS": f"http://127.0.0.1:{port}/state",
            "TF_HTTP_USERNAME": USERNAME,
            "TF_HTTP_PASSWORD": self.password,
            "TF_HTTP_RETRY_MAX": "4",
            "TF_HTTP_RETRY_WAIT_MIN": "1",
            "TF_HTTP_RETRY_WAIT_MAX": "5",
        }

    def start(self) -> StateServer:
        """Listen on the socket (owner only) in a background thread; returns the server."""
        os.chmod(self.directory, 0o700)
        server = _Server(str(self.socket_path), _Handler)
        server.state_server = self
        os.chmod(self.socket_path, 0o600)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="rad-state", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and delete the private directory with the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> StateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorised(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries this run's user name and password."""
        expected = base64.b64encode(f"{USERNAME}:{self.password}".encode()).decode()
        return header is not None and hmac.compare_digest(header.encode(), f"Basic {expected}".encode())


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    state_server: StateServer

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("state backend: a request failed")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:
        return "sandbox"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("state backend: " + format, *args)

    def _answer(self, status: HTTPStatus, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if body:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _allowed(self) -> bool:
        if self.path.split("?", 1)[0] != "/state":
            self._answer(HTTPStatus.NOT_FOUND)
            return False
        if not self.server.state_server.authorised(self.headers.get("Authorization")):
            self._answer(HTTPStatus.UNAUTHORIZED)
            return False
        return True

    def do_GET(self) -> None:
        if not self._allowed():
            return
        try:
            state = self.server.state_server.store.load()
        except Exception as error:
            log.warning("state backend: could not read the state", extra={"error": type(error).__name__})
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE)
            return
        if state is None:
            self._answer(HTTPStatus.NOT_FOUND)
        else:
            self._answer(HTTPStatus.OK, state)

    def do_POST(self) -> None:
        if not self._allowed():
            return
        owner = self.server.state_server
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_STATE_BYTES:
            self._fail(owner, HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length > 0 else HTTPStatus.LENGTH_REQUIRED,
                       f"a state of {length} bytes was refused (the limit is {MAX_STATE_BYTES} bytes)")
            return
        body = self.rfile.read(length)
        try:
            check_state(body)
        except ValueError:
            self._fail(owner, HTTPStatus.BAD_REQUEST, "Terraform sent something that is not a state")
            return
        try:
            owner.store.save(body)
        except Exception as error:
            log.warning("state backend: could not store the state", extra={"error": type(error).__name__})
            self._fail(owner, HTTPStatus.SERVICE_UNAVAILABLE, "the state could not be stored in the database")
            return
        self._answer(HTTPStatus.OK)

    def do_DELETE(self) -> None:
        if self._allowed():
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED)

    def _fail(self, owner: StateServer, status: HTTPStatus, why: str) -> None:
        if owner.on_error is not None:
            owner.on_error(why)
        self._answer(status)
