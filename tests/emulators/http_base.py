"""What the GitHub and Jules emulators share: a threaded HTTP server started and stopped from tests,
a quiet request handler, the list of recorded calls and the queue of injected faults.

A concrete emulator is a dataclass subclassing ``HttpEmulator[CallType, FaultType]`` that sets
``handler_class`` (a ``QuietHandler`` subclass implementing ``_serve``) and ``thread_name``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

Json = dict[str, Any]


class Recorded(Protocol):
    """What ``calls()`` filters recorded calls by."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


class Fault(Protocol):
    """An injected fault: answers the next ``remaining`` requests whose path starts with ``path``."""

    path: str
    remaining: int


CallT = TypeVar("CallT", bound=Recorded)
FaultT = TypeVar("FaultT", bound=Fault)


class QuietHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 handler sending every method to ``_serve``; it logs nothing (tests read recorded calls)."""

    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        raise NotImplementedError

    def read_request(self) -> tuple[dict[str, str], bytes]:
        """The request headers (lower-case names) and body."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return {k.lower(): v for k, v in self.headers.items()}, raw

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded calls instead."""


def serve_in_thread(server: ThreadingHTTPServer, emulator: object, name: str) -> threading.Thread:
    """Serve ``server`` for ``emulator`` (handlers find it as ``server.emulator``) in a daemon thread."""
    server.daemon_threads = True
    server.emulator = emulator  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    return thread


def stop_serving(server: ThreadingHTTPServer | None, thread: threading.Thread | None) -> None:
    """Shut a server down and wait for its thread."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)


@dataclass
class HttpEmulator(Generic[CallT, FaultT]):
    """``start()`` serves in a daemon thread, ``stop()`` shuts it down; also a context manager."""

    handler_class: ClassVar[type[QuietHandler]]
    thread_name: ClassVar[str]

    host: str = "127.0.0.1"
    port: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _calls: list[CallT] = field(default_factory=list, init=False, repr=False)
    _faults: list[FaultT] = field(default_factory=list, init=False, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> Self:
        server = ThreadingHTTPServer((self.host, self.port), self.handler_class)
        self._server, self.port = server, server.server_address[1]
        self._thread = serve_in_thread(server, self, self.thread_name)
        return self

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- recorded calls -----------------------------------------------------------------------------

    def calls(self, path: str | None = None, method: str | None = None) -> list[CallT]:
        """Recorded calls, optionally only those whose path starts with ``path`` and of ``method``."""
        with self._lock:
            return [c for c in self._calls
                    if (path is None or c.path.startswith(path)) and (method is None or c.method == method)]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- fault queue --------------------------------------------------------------------------------

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> FaultT | None:
        """The first queued fault matching ``path``, used up once (dropped when none remain)."""
        fault = next((f for f in self._faults if path.startswith(f.path)), None)
        if fault is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
        return fault
