"""Slack ack latency: the real front door against a bare Bolt app, same server stack, same run.

Run: ``.venv/bin/python bench/slack_ack.py [--requests 500]``. Both apps sit behind ``bot.web`` on waitress
and answer signed ``/rad help`` requests; requests alternate between them so noise hits both alike. Prints
median and p99 ack latency of each and their ratio (goal: ≤ 1.5), plus the time until our real reply
reached the response_url. No assertions.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from waitress.server import create_server

from bot.runtime import Runtime
from bot.slack.app import build_app, make_client
from bot.web import SERVER_THREADS, BackgroundServer, WebApp, start_background
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from core.config import Config
from storage.db import Database
from storage.migrate import upgrade
from tests.emulators.slack import SlackEmulator

SECRET = "bench-signing-secret"
WARMUP = 20


class Client:
    """Signed ``/rad help`` requests over one keep-alive connection to one server."""

    def __init__(self, server: BackgroundServer, emulator: SlackEmulator) -> None:
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        self.emulator = emulator
        self.verifier = SignatureVerifier(SECRET)
        self.latencies: list[float] = []
        self.sent: dict[str, float] = {}

    def send(self, user: str, *, record: bool = True) -> None:
        hook = uuid.uuid4().hex[:12]
        body = urllib.parse.urlencode({
            "token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": user, "user_name": user,
            "command": "/rad", "text": "help", "response_url": self.emulator.webhook_url(hook),
            "trigger_id": f"trig.{uuid.uuid4().hex}",
        })
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": self.verifier.generate_signature(timestamp=stamp, body=body) or ""}
        started, sent_at = time.perf_counter(), time.monotonic()
        self.connection.request("POST", "/slack/events", body=body, headers=headers)
        answer = self.connection.getresponse()
        answer.read()
        elapsed = time.perf_counter() - started
        if answer.status != 200:
            raise RuntimeError(f"ack failed with HTTP {answer.status}")
        if record:
            self.latencies.append(elapsed)
            self.sent[f"/webhook/{hook}"] = sent_at


def bare_app(config: Config) -> App:
    """A Bolt app whose ``/rad`` handler only acks."""
    app = App(name="bare", client=make_client(config), signing_secret=SECRET)

    def ack_only(ack: Ack) -> None:
        ack()

    app.command("/rad")(ack_only)
    return app


def bare_server(runtime: Runtime, config: Config) -> BackgroundServer:
    """The same waitress + ``bot.web`` stack, with the bare app behind Bolt's own WSGI adapter."""
    app = WebApp(runtime)
    app.add_route("POST", "/slack/events", SlackRequestHandler(bare_app(config), path="/slack/events"))
    server = create_server(app, host="127.0.0.1", port=0, threads=SERVER_THREADS)
    thread = threading.Thread(target=server.run, name="bare-web", daemon=True)
    thread.start()
    return BackgroundServer(server, thread, "127.0.0.1")


def summary(name: str, seconds: list[float]) -> tuple[float, float]:
    ms = [s * 1000 for s in seconds]
    median, p99 = statistics.median(ms), statistics.quantiles(ms, n=100)[98]
    print(f"{name:<22} n={len(ms):<5} median {median:7.2f} ms   p99 {p99:7.2f} ms   max {max(ms):7.2f} ms")
    return median, p99


def reply_latencies(client: Client, emulator: SlackEmulator, timeout: float = 60.0) -> list[float]:
    """Seconds from each recorded request to its reply reaching the response_url."""
    deadline = time.monotonic() + timeout
    arrived: dict[str, float] = {}
    while time.monotonic() < deadline and len(arrived) < len(client.sent):
        arrived = {c.path: c.at for c in emulator.calls() if c.path in client.sent}
        time.sleep(0.05)
    return [arrived[path] - client.sent[path] for path in arrived]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per app (default 500)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with SlackEmulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        config = Config(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/rad.db", slack_bot_token="xoxb-bench",
                        slack_signing_secret=SECRET, slack_api_url=emulator.url)
        db = Database(config.effective_database_url)
        upgrade(db.engine)
        registry = load_registry()
        runtime = Runtime(config, db, registry, Dispatcher(registry, db, config))
        servers = {"rad front door": start_background(runtime, build_app(runtime)),
                   "bare Bolt app": bare_server(runtime, config)}
        clients = {name: Client(server, emulator) for name, server in servers.items()}
        try:
            for n in range(WARMUP):
                for client in clients.values():
                    client.send(f"UWARM{n % 5}", record=False)
            pair = list(clients.values())
            for n in range(args.requests):
                for client in pair if n % 2 == 0 else reversed(pair):
                    client.send(f"U{n % 50:03d}")
            print(f"Slack ack latency, {args.requests} signed `/rad help` requests per app, alternating "
                  f"(waitress + bot.web + Bolt, SQLite)")
            ours = summary("rad front door", clients["rad front door"].latencies)
            bare = summary("bare Bolt app", clients["bare Bolt app"].latencies)
            print(f"{'ratio rad/bare':<22} median {ours[0] / bare[0]:7.2f}      p99 {ours[1] / bare[1]:7.2f}"
                  "      (goal: median ≤ 1.5)")
            replies = reply_latencies(clients["rad front door"], emulator)
            print(f"replies delivered: {len(replies)}/{args.requests} via response_url")
            if len(replies) > 1:
                summary("full reply (rad)", replies)
        finally:
            for server in servers.values():
                server.stop()
            db.dispose()


if __name__ == "__main__":
    main()
