"""A Slack Web API emulator on 127.0.0.1: canned realistic answers, recorded calls, fault switches.

Point a ``WebClient`` (or ``SLACK_API_URL``) at ``emulator.url``; ``response_url`` values point at
``emulator.webhook_url(...)``. Usable outside pytest: ``python -m tests.emulators.slack --port 8901``.

Every Block Kit payload it receives (messages, ``response_url`` posts, views) is validated with ``slack_sdk``'s
models (``tests.emulators.slack_validate``); a refused payload is answered as Slack answers it
(``invalid_blocks`` with the errors) and kept in ``failures``. It keeps the messages it was sent: ``chat.update``
or ``chat.delete`` of an unknown ``ts`` fails with ``message_not_found``, ``views.update`` of an unknown view
with ``not_found`` (``hash_conflict`` on a stale hash), and ``response_url`` posts replace or delete the
message they belong to. ``views.publish`` takes only Home views and keeps each user's Home (``home(user)``).

It is also Slack's OAuth side (``slack_oauth``): ``GET /oauth/v2/authorize`` (``authorize_url``) installs the app
in the workspace set with ``install_into`` and sends the browser back to the redirect URL with a code;
``oauth.v2.access`` checks the client id and secret, takes each code once and answers a bot token of that
workspace (with ``token_rotation``: an expiring one and a refresh token, which ``grant_type=refresh_token``
exchanges once). Tokens it issued answer ``auth.test`` for their own workspace, and once revoked
(``revoke_workspace``) every method refuses them with ``token_revoked``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.emulators import slack_oauth, slack_socket
from tests.emulators.http_base import serve_in_thread, stop_serving
from tests.emulators.slack_answers import RESPONDERS, Answer
from tests.emulators.slack_validate import message_errors

JSON_FIELDS = ("blocks", "view", "files", "attachments", "metadata", "users")


@dataclass(frozen=True)
class Call:
    """One request the emulator received."""

    path: str
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes = b""
    at: float = 0.0

    @property
    def token(self) -> str:
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ").strip() or str(self.body.get("token", ""))


@dataclass(frozen=True)
class Failure:
    """A payload the emulator refused, as Slack would have: the method, Slack's errors, what was sent."""

    method: str
    errors: tuple[str, ...]
    body: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method}: " + "; ".join(self.errors)


@dataclass
class Hook:
    """A ``response_url``: the message it belongs to (a stored one, or what was posted through it)."""

    channel: str = ""
    ts: str = ""
    posted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any] | None:
        """What the user sees now of the message this ``response_url`` answers (None once deleted)."""
        return self.posted[-1] if self.posted else None


@dataclass
class _Fault:
    status: int
    error: str
    remaining: int | None
    retry_after: int = 0


@dataclass
class SlackEmulator:
    """The emulator; ``start()`` serves in a daemon thread, ``stop()`` shuts it down."""

    host: str = "127.0.0.1"
    port: int = 0
    team_id: str = "T1"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    _calls: list[Call] = field(default_factory=list, init=False, repr=False)
    _faults: dict[str, list[_Fault]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False, repr=False)
    _outboxes: list[queue.Queue[dict[str, Any]]] = field(default_factory=list, init=False, repr=False)
    _messages: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, init=False, repr=False)
    _ephemeral: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list, init=False, repr=False)
    _views: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _homes: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _hooks: dict[str, Hook] = field(default_factory=dict, init=False, repr=False)
    status_refusal: str = ""
    """Set to an error (``missing_scope``, ``access_denied``...) to refuse ``assistant.threads.setStatus`` as a
    workspace or app that does not allow it does; empty: allowed."""
    _statuses: dict[tuple[str, str], list[str]] = field(default_factory=dict, init=False, repr=False)
    failures: list[Failure] = field(default_factory=list, init=False, repr=False)
    oauth: slack_oauth.OAuthSide = field(default_factory=slack_oauth.OAuthSide, init=False, repr=False)
    """The OAuth side: the app's credentials, codes, tokens per workspace (see ``tests.emulators.slack_oauth``)."""
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        server = _Server((self.host, self.port), _Handler)
        self._server, self.port = server, server.server_address[1]
        self._thread = serve_in_thread(server, self, "slack-emulator")
        return self

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The Web API base URL (ends with a slash), for ``WebClient(base_url=...)``."""
        return f"http://{self.host}:{self.port}/api/"

    @property
    def running(self) -> bool:
        return self._server is not None

    def socket_send(self, envelope: dict[str, Any], timeout: float = 2.0) -> None:
        """Push a Socket Mode envelope to the connected app (waits for a connection)."""
        deadline = time.monotonic() + timeout
        while not self._outboxes:
            if time.monotonic() > deadline:
                raise AssertionError("no Socket Mode connection to send to")
            time.sleep(0.01)
        self._outboxes[-1].put(envelope)

    @property
    def authorize_url(self) -> str:
        """Slack's authorize page (where ``/slack/install`` sends the browser): beside the Web API, as on Slack."""
        return f"http://{self.host}:{self.port}/oauth/v2/authorize"

    def install_into(self, team_id: str, team_name: str = "", installer: str = "UINSTALLER",
                     enterprise_id: str = "") -> None:
        """The workspace the next visit of the authorize page installs the app in (of an Enterprise Grid
        organisation with ``enterprise_id``), and who installs it."""
        self.oauth.install_into(team_id, team_name or f"Team {team_id}", installer, enterprise_id)

    def revoke_workspace(self, team_id: str) -> None:
        """Revoke every token issued for ``team_id`` (the app was uninstalled there, or an admin revoked them)."""
        self.oauth.revoke(team_id)

    def webhook_url(self, name: str = "hook") -> str:
        """A ``response_url`` that records what is posted to it."""
        return f"http://{self.host}:{self.port}/webhook/{name}"

    # -- recorded calls -----------------------------------------------------------------------------

    def calls(self, path: str | None = None) -> list[Call]:
        """Recorded calls, optionally only those to ``path`` (``chat.postMessage`` or ``/webhook/x``)."""
        with self._lock:
            return [c for c in self._calls if path is None or _matches(c.path, path)]

    def wait_for(self, path: str, count: int = 1, timeout: float = 2.0) -> list[Call]:
        """Wait until ``count`` calls to ``path`` arrived; returns them, or raises AssertionError."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self._calls if _matches(c.path, path)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    break
                self._lock.wait(min(left, 0.05))
        if len(found) < count:
            seen = ", ".join(c.path for c in self.calls()) or "nothing"
            raise AssertionError(f"expected {count} call(s) to {path} within {timeout}s, got {len(found)}; saw {seen}")
        return found

    # -- what Slack keeps ---------------------------------------------------------------------------

    def record_failure(self, method: str, errors: list[str], body: dict[str, Any]) -> None:
        """Keep a refused payload: ``check()`` (called by the test fixtures) fails on it."""
        with self._lock:
            self.failures.append(Failure(method, tuple(errors), body))

    def take_failures(self) -> list[Failure]:
        """The refused payloads so far, forgotten (for tests that send invalid payloads on purpose)."""
        with self._lock:
            taken, self.failures = self.failures, []
        return taken

    def check(self) -> None:
        """Raise AssertionError if any payload was refused."""
        if self.failures:
            lines = "\n".join(f"  {f}" for f in self.failures[:10])
            raise AssertionError(f"Slack refused {len(self.failures)} payload(s) the bot sent:\n{lines}")

    def store_message(self, channel: str, message: dict[str, Any]) -> None:
        with self._lock:
            self._messages.setdefault(channel, {})[str(message["ts"])] = message

    def set_thread_status(self, channel: str, thread_ts: str, status: str) -> None:
        """Record the bot's status in a thread (an empty status clears it)."""
        with self._lock:
            self._statuses.setdefault((channel, thread_ts), []).append(status)

    def thread_status(self, channel: str, thread_ts: str) -> str:
        """The status the thread shows now ("" when none)."""
        with self._lock:
            return (self._statuses.get((channel, thread_ts)) or [""])[-1]

    def thread_statuses(self, channel: str, thread_ts: str) -> list[str]:
        """Every status set in the thread, in order (including the clearing ones, and the bot's replies' "")."""
        with self._lock:
            return list(self._statuses.get((channel, thread_ts), []))

    def store_ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> None:
        with self._lock:
            self._ephemeral.append((channel, user, message))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The stored message ``ts`` of ``channel`` as it is now (after updates), or None."""
        with self._lock:
            return self._messages.get(channel, {}).get(ts)

    def delete_message(self, channel: str, ts: str) -> bool:
        with self._lock:
            return self._messages.get(channel, {}).pop(ts, None) is not None

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored (non-ephemeral) messages, oldest first, of ``channel`` or of every channel."""
        with self._lock:
            found = [m for c, by_ts in self._messages.items() if channel in (None, c) for m in by_ts.values()]
        return sorted(found, key=lambda m: float(m["ts"]))

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages posted with ``chat.postEphemeral`` (to ``user``), oldest first."""
        with self._lock:
            return [m for _, u, m in self._ephemeral if user in (None, u)]

    def store_view(self, view: dict[str, Any]) -> None:
        with self._lock:
            self._views[str(view["id"])] = view

    def view(self, view_id: str, external_id: str = "") -> dict[str, Any] | None:
        """The open view ``view_id`` (or with ``external_id``), or None."""
        with self._lock:
            if view_id:
                return self._views.get(view_id)
            return next((v for v in self._views.values() if external_id and v.get("external_id") == external_id),
                        None)

    def store_home(self, user: str, view: dict[str, Any]) -> None:
        """Make ``view`` (already stored) the Home tab ``user`` sees."""
        with self._lock:
            self._homes[user] = str(view["id"])

    def home(self, user: str) -> dict[str, Any] | None:
        """The Home tab ``user`` sees now (the last view published for them), or None."""
        with self._lock:
            view_id = self._homes.get(user)
            return self._views.get(view_id) if view_id else None

    def views(self) -> list[dict[str, Any]]:
        """Every view opened, pushed, updated or published, as it is now."""
        with self._lock:
            return list(self._views.values())

    def bind_hook(self, name: str, channel: str = "", ts: str = "", message: dict[str, Any] | None = None) -> str:
        """Make ``response_url`` ``name`` belong to message ``ts`` of ``channel`` (or to ``message``)."""
        with self._lock:
            hook = self._hooks.setdefault(name, Hook())
            hook.channel, hook.ts = channel, ts
            if message is not None and not ts:
                hook.posted = [message]
        return self.webhook_url(name)

    def hook(self, name: str) -> Hook:
        """What response_url ``name`` (``"x"`` or ``"/webhook/x"``) shows now."""
        with self._lock:
            return self._hooks.setdefault(name.rsplit("/", 1)[-1], Hook())

    def _webhook(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """A ``response_url`` post: validated, then a new message, or one replacing/deleting the original."""
        errors = message_errors(body)
        if errors:
            self.record_failure(f"/webhook/{name}", errors, body)
            return 400, {"Content-Type": "text/plain"}, b"invalid_blocks"
        if not body.get("delete_original") and not any(body.get(k) for k in ("text", "blocks", "attachments")):
            self.record_failure(f"/webhook/{name}", ["no text, blocks or attachments"], body)
            return 400, {"Content-Type": "text/plain"}, b"no_text"
        with self._lock:
            hook = self._hooks.setdefault(name, Hook())
            if hook.ts and (body.get("replace_original") or body.get("delete_original")):
                if body.get("delete_original"):
                    self._messages.get(hook.channel, {}).pop(hook.ts, None)
                    return 200, {"Content-Type": "text/plain"}, b"ok"
                stored = self._messages.get(hook.channel, {}).get(hook.ts)
                if stored is None:
                    return 404, {"Content-Type": "text/plain"}, b"message_not_found"
                self._messages[hook.channel][hook.ts] = {**stored, "text": body.get("text", ""),
                                                         "blocks": body.get("blocks") or []}
                return 200, {"Content-Type": "text/plain"}, b"ok"
            if body.get("delete_original"):
                hook.posted.clear()
            elif body.get("replace_original") and hook.posted:
                hook.posted[-1] = body
            else:
                hook.posted.append(body)
        return 200, {"Content-Type": "text/plain"}, b"ok"

    def reset(self) -> None:
        """Forget recorded calls and faults."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()

    # -- fault switches -----------------------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        self._add_fault(method, _Fault(429, "ratelimited", times, retry_after))

    def fail(self, method: str, error: str = "internal_error", times: int | None = None) -> None:
        """Answer ``method`` with ``ok: false`` and ``error`` (the next ``times`` calls, or until cleared)."""
        self._add_fault(method, _Fault(200, error, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, method: str, fault: _Fault) -> None:
        with self._lock:
            self._faults.setdefault(method.strip("/"), []).append(fault)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method, [])
            if not queue:
                return None
            fault = queue[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.pop(0)
            return fault

    # -- request handling (called from the handler threads) -----------------------------------------

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            self._lock.notify_all()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def next_ts(self) -> str:
        """A fresh message timestamp, increasing like Slack's."""
        n = self.next_id()
        return f"{1_700_000_000 + n}.{n:06d}"

    def answer(self, call: Call) -> tuple[int, dict[str, str], bytes]:
        """The HTTP status, headers and body for a recorded call."""
        if call.path.startswith("/webhook/"):
            return self._webhook(call.path.removeprefix("/webhook/"), call.body)
        if call.path.startswith("/upload/"):
            return 200, {"Content-Type": "text/plain"}, f"OK - {len(call.raw)}".encode()
        if call.path == "/oauth/v2/authorize":
            return self.oauth.authorize(call.body)
        method = call.path.strip("/")
        fault = self._take_fault(method)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
            return fault.status, headers, _json({"ok": False, "error": fault.error})
        if method == "oauth.v2.access":
            return 200, {}, _json(self.oauth.access(call.body, call.headers.get("authorization", "")))
        if method not in RESPONDERS:
            return 404, {}, _json({"ok": False, "error": "unknown_method"})
        token = call.token
        if not token:
            return 200, {}, _json({"ok": False, "error": "not_authed"})
        issued = self.oauth.token(token)
        if issued is not None and issued.refusal():
            return 200, {}, _json({"ok": False, "error": issued.refusal()})
        bare = token.removeprefix("xoxe.")
        if issued is None and not bare.startswith(("xoxb-", "xoxp-", "xapp-")):
            return 200, {}, _json({"ok": False, "error": "invalid_auth"})
        body = {**call.body, "_token_kind": bare.split("-")[0]}
        if issued is not None:
            body.update(_team_id=issued.team_id, _team_name=issued.team_name, _bot_user_id=issued.bot_user_id,
                        _bot_id=issued.bot_id)
        return 200, {}, _json(RESPONDERS[method](self, body))


def _matches(recorded: str, wanted: str) -> bool:
    return recorded.strip("/") == wanted.strip("/")


def _json(data: Answer) -> bytes:
    return json.dumps(data).encode()


# -- HTTP plumbing ------------------------------------------------------------------------------------

def parse_body(content_type: str, raw: bytes, query: str = "") -> dict[str, Any]:
    """Form or JSON arguments as a dict; JSON-valued form fields (``blocks``, ``view``...) are decoded."""
    body: dict[str, Any] = dict(parse_qsl(query))
    if "json" in content_type:
        loaded = json.loads(raw or b"{}")
        body.update(loaded if isinstance(loaded, dict) else {"json": loaded})
    elif "x-www-form-urlencoded" in content_type:
        body.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    for name in JSON_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value[:1] in "[{":
            with suppress(ValueError):
                body[name] = json.loads(value)
    return body


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # bursts of lazy replies and benchmarks must not be refused


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        emulator: SlackEmulator = self.server.emulator  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        path = parts.path.removeprefix("/api")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        is_upload = path.startswith("/upload/")
        try:
            body = {} if is_upload else parse_body(headers.get("content-type", ""), raw, parts.query)
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        call = Call(path=path, method=self.command, body=body, headers=headers, raw=raw, at=time.monotonic())
        if path == "/socket-mode" and headers.get("upgrade", "").lower() == "websocket":
            emulator._record(call)
            self._socket_mode(emulator, headers.get("sec-websocket-key", ""))
            return
        status, extra, payload = emulator.answer(call)
        emulator._record(call)  # after its effect: whoever waits for the call sees the message it posted or replaced
        self.send_response(status)
        self.send_header("Content-Type", extra.pop("Content-Type", "application/json; charset=utf-8"))
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _socket_mode(self, emulator: SlackEmulator, key: str) -> None:
        outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        slack_socket.handshake(self.connection, key)
        emulator._outboxes.append(outbox)

        def record(ack: dict[str, Any]) -> None:
            emulator._record(Call(path="/socket-mode/ack", method="WS", body=ack, headers={}, at=time.monotonic()))

        try:
            slack_socket.run_session(self.connection, outbox, record, lambda: emulator.running)
        finally:
            emulator._outboxes.remove(outbox)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded calls instead."""


@contextmanager
def running(port: int = 0) -> Iterator[SlackEmulator]:
    """A started emulator, stopped on exit."""
    emulator = SlackEmulator(port=port).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Slack Web API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    emulator = SlackEmulator(host=args.host, port=args.port).start()
    print(f"Slack emulator: SLACK_API_URL={emulator.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
