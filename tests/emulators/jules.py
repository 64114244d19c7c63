"""A Jules REST API (v1alpha) emulator on 127.0.0.1, following shared/reference/jules_api.md.

Sources and API keys are set up from Python; sessions follow a scripted lifecycle that tests advance
step by step (``advance``/``run``): QUEUED -> PLANNING -> AWAITING_PLAN_APPROVAL -> IN_PROGRESS ->
[AWAITING_USER_FEEDBACK] -> COMPLETED with a pull request. JSON follows the proto3 mapping (defaults
omitted), errors the ``google.rpc.Status`` envelope; faults: 429 with retry info, 5xx, 404 right after
create, revoked keys. Outside pytest: ``python -m tests.emulators.jules --port 8903 --key AIza-demo``.

This module is the server (API keys, faults, recording, CLI); the REST methods and request validation
are in ``jules_api``, sessions and the scripted lifecycle in ``jules_state``. Their public names are
re-exported here.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.emulators.http_base import HttpEmulator, Json, QuietHandler
from tests.emulators.jules_api import (
    LIST_PARAMS,
    NOT_FOUND,
    SESSION_INPUT,
    SESSION_OUTPUT,
    STATUS,
    HtmlNotFound,
    JulesApi,
    Method,
    RpcError,
    find_method,
)
from tests.emulators.jules_state import PATCH, WAITING, Script, Session, Source

__all__ = [
    "BAD_KEY", "GLOBAL_PARAMS", "LIST_PARAMS", "NOT_FOUND", "NO_KEY", "PATCH", "PREFIX", "SESSION_INPUT",
    "SESSION_OUTPUT", "STATUS", "WAITING", "Call", "Json", "JulesEmulator", "Method", "RpcError", "Script", "Session",
    "Source", "main", "running",
]

PREFIX = "/v1alpha"
GLOBAL_PARAMS = {"key", "alt", "prettyPrint", "fields", "$.xgafv"}
BAD_KEY = "API key not valid. Please pass a valid API key."
NO_KEY = ("API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials "
          "that assert a principal. See https://cloud.google.com/docs/authentication")


@dataclass(frozen=True)
class Call:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    api_key: str = field(repr=False)
    at: float


@dataclass
class _Fault:
    """A queued fault: 429 (with retry info) or a 5xx status."""

    status: int
    remaining: int
    path: str
    retry_delay: float | None = None
    retry_after_header: bool = False


class _Handler(QuietHandler):
    """Hands each request to ``JulesEmulator.respond``; answers CORS preflights itself."""

    def do_OPTIONS(self) -> None:
        """CORS preflight: no key needed."""
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "content-type,x-goog-api-key")
        self.send_header("Access-Control-Allow-Methods", "GET,POST,DELETE,OPTIONS")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self) -> None:
        emulator: JulesEmulator = self.server.emulator  # type: ignore[attr-defined]
        headers, raw = self.read_request()
        status, extra, payload = emulator.respond(self.command, self.path, headers, raw)
        self.send_response(status)
        self.send_header("Content-Type", extra.pop("Content-Type", "application/json; charset=UTF-8"))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Vary", "Origin, X-Origin, Referer")
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@dataclass
class JulesEmulator(HttpEmulator[Call, _Fault], JulesApi):
    """The emulator; ``start()`` serves in a daemon thread, ``stop()`` shuts it down.

    ``lag_after_create`` makes each new session answer 404 to its first N reads (eventual consistency);
    ``script`` is the default script of new sessions; ``on_pull_request`` may rewrite the pull request
    output of a completing session (e.g. to open a real one in the GitHub emulator). Recorded call paths
    are relative to ``/v1alpha``.
    """

    seed: int | None = None
    lag_after_create: int = 0
    script: Script = field(default_factory=Script)
    on_pull_request: Callable[[Session, Json], Json] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    """What "now" is for activity and session times (a benchmark runs the emulator on simulated time)."""
    _keys: dict[str, bool] = field(default_factory=dict, init=False, repr=False)
    _sources: dict[str, Source] = field(default_factory=dict, init=False, repr=False)
    _sessions: dict[str, Session] = field(default_factory=dict, init=False, repr=False)
    _last_time: datetime = field(default_factory=lambda: datetime.fromtimestamp(0, UTC), init=False, repr=False)
    _random: random.Random = field(default_factory=random.Random, init=False, repr=False)

    handler_class = _Handler
    thread_name = "jules-emulator"

    def __post_init__(self) -> None:
        """Seed the ids, keys and timestamps (``seed=None``: random)."""
        self._random.seed(self.seed)

    @property
    def url(self) -> str:
        """The API base URL, for ``JULES_API_URL``."""
        return f"http://{self.host}:{self.port}{PREFIX}"

    # -- state --------------------------------------------------------------------------------------

    def add_key(self, key: str | None = None) -> str:
        """A valid API key (generated in Google's ``AIza...`` shape unless given)."""
        with self._lock:
            value = key or "AIza" + "".join(self._random.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk0123456789_-",
                                                                 k=35))
            self._keys[value] = True
            return value

    def revoke_key(self, key: str) -> None:
        """From now on ``key`` gets 401 UNAUTHENTICATED."""
        with self._lock:
            self._keys[key] = False

    def add_source(self, full_name: str, *, private: bool = True, default_branch: str = "main",
                   branches: tuple[str, ...] = ()) -> Source:
        """A GitHub repository the Jules app is installed on (``owner/repo``)."""
        owner, repo = full_name.split("/")
        with self._lock:
            source = Source(owner, repo, private, default_branch, branches or (default_branch,))
            self._sources[source.name] = source
            return source

    # -- fault switches -----------------------------------------------------------------------------

    def rate_limit(self, times: int = 1, retry_delay: float | None = 1.0, retry_after_header: bool = False,
                   path: str = "") -> None:
        """Answer the next ``times`` requests with 429 RESOURCE_EXHAUSTED (with a ``RetryInfo`` detail)."""
        with self._lock:
            self._faults.append(_Fault(429, times, path, retry_delay, retry_after_header))

    def fail(self, times: int = 1, status: int = 503, path: str = "") -> None:
        """Answer the next ``times`` requests (whose path starts with ``path``) with a 5xx status."""
        with self._lock:
            self._faults.append(_Fault(status, times, path))

    # -- request handling ---------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, Json, bytes]:
        """Answer one HTTP request (``headers`` with lower-case names) and record it."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path.removeprefix(PREFIX)
        key = headers.get("x-goog-api-key") or query.get("key", "")
        with self._lock:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                body = None
            try:
                status, out, data = 200, {}, self._dispatch(method, parts.path, path, query, key, body)
                payload = json.dumps(data).encode()
            except RpcError as error:
                status, out, payload = error.code, error.headers, json.dumps(error.body).encode()
            except HtmlNotFound:
                status, out = 404, {"Content-Type": "text/html; charset=UTF-8"}
                payload = (f"<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> "
                           f"<ins>That's an error.</ins><p>The requested URL <code>{parts.path}</code> was not found "
                           "on this server.  <ins>That's all we know.</ins>").encode()
            self._calls.append(Call(method, path, query, body, status, key, time.monotonic()))
            return status, out, payload

    def _dispatch(self, method: str, full_path: str, path: str, query: dict[str, str], key: str, body: Any) -> Json:
        """Check the key, faults, body and query parameters, then call the route's method."""
        if not full_path.startswith(PREFIX + "/"):
            raise HtmlNotFound
        if not key:
            raise RpcError(401, NO_KEY, reason="CREDENTIALS_MISSING")
        if key not in self._keys:
            raise RpcError(400, BAD_KEY, reason="API_KEY_INVALID")
        if not self._keys[key]:
            raise RpcError(401, NO_KEY, reason="CREDENTIALS_MISSING")
        fault = self._take_fault(path)
        if fault is not None:
            raise _fault_error(fault)
        if body is None:
            raise RpcError(400, "Invalid JSON payload received. Unexpected token.")
        handler, args, allowed = find_method(method, path)
        if handler is None:
            raise HtmlNotFound
        unknown = sorted(set(query) - allowed - GLOBAL_PARAMS)
        if unknown:
            raise RpcError(400, f"Invalid JSON payload received. Unknown name \"{unknown[0]}\": Cannot bind query "
                                f"parameter. Field '{unknown[0]}' could not be found in request message.")
        return handler(self, query, body, *args)


# -- helpers -------------------------------------------------------------------------------------------------

def _fault_error(fault: _Fault) -> RpcError:
    """The error an injected fault answers with."""
    if fault.status == 429:
        details = [] if fault.retry_delay is None else [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fault.retry_delay:g}s"}]
        headers = {"Retry-After": str(max(1, round(fault.retry_delay or 1)))} if fault.retry_after_header else {}
        return RpcError(429, "Resource has been exhausted (e.g. check quota).", details=details, headers=headers)
    messages = {500: "Internal error encountered.", 502: "Bad Gateway", 503: "The service is currently unavailable.",
                504: "Deadline expired before operation could complete."}
    return RpcError(fault.status, messages.get(fault.status, "Internal error encountered."))


@contextmanager
def running(port: int = 0, **options: Any) -> Iterator[JulesEmulator]:
    """A started emulator, stopped on exit."""
    emulator = JulesEmulator(port=port, **options).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """The CLI: serve until interrupted, optionally advancing every session every ``--auto`` seconds."""
    parser = argparse.ArgumentParser(description="Run the Jules API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", action="append", default=[], help="a valid API key (repeatable)")
    parser.add_argument("--source", action="append", default=[], metavar="OWNER/REPO", help="a source (repeatable)")
    parser.add_argument("--auto", type=float, default=0.0, metavar="SECONDS",
                        help="advance every live session every SECONDS (0: never)")
    args = parser.parse_args(argv)
    emulator = JulesEmulator(host=args.host, port=args.port).start()
    for key in args.key:
        emulator.add_key(key)
    for source in args.source:
        emulator.add_source(source)
    print(f"Jules emulator: JULES_API_URL={emulator.url}", flush=True)
    try:
        while True:
            time.sleep(args.auto or 3600)
            for session in emulator.sessions() if args.auto else []:
                emulator.advance(session.id)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
