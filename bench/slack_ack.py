"""Slack ack latency: the real front door against a bare Bolt app, same run.

One at a time: ``.venv/bin/python bench/slack_ack.py [--requests 500]``. Both apps sit behind ``bot.web`` on
waitress in this process and answer signed ``/rad help`` requests; requests alternate between them so noise hits
both alike. Prints median and p99 ack latency of each and their ratio (goal: ≤ 1.5), plus the time until our
real reply reached the response_url (the harness's job runner stands in for the worker).

Under load: ``.venv/bin/python bench/slack_ack.py --load --database-url postgresql://...`` (a database of its
own; it is migrated). The bot runs as the README says for production, as processes: ``gunicorn -c
python:bot.prefork`` and ``nice python -m bot worker``; the bare Bolt app (acks only) runs in a process of its
own on waitress. A fixed-rate (open-loop) sender signs requests as Slack does and sends ``/rad help`` and a
button click at each of ``--rates`` per second for ``--seconds`` each, to the bot then to the bare app; a
latency counts from the moment the request was due, so a stalled server cannot hide its queue. Prints ack p50,
p99 and the count over 3 s side by side, then a burst (``--burst`` clicks in one second) and how many of the
acked requests were stored as jobs and how many the worker has answered. No assertions.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import re
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
from slack_sdk import WebClient
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


def serve_bare(port: int) -> None:
    """The bare Bolt app (acks ``/rad`` and every click, nothing else) on waitress, in this process, until killed."""
    app = App(name="bare", client=WebClient(token="xoxb-bare", base_url=os.environ["SLACK_API_URL"]),
              signing_secret=SECRET)  # auth.test once, on the emulator, as ours

    def ack_only(ack: Ack) -> None:
        ack()

    app.command("/rad")(ack_only)
    app.action(re.compile(".+"))(ack_only)
    handler = SlackRequestHandler(app, path="/slack/events")
    create_server(handler, host="127.0.0.1", port=port, threads=SERVER_THREADS).run()


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
    parser.add_argument("--load", action="store_true", help="open-loop load against the production processes")
    parser.add_argument("--database-url", default="", help="PostgreSQL database of the load run (migrated)")
    parser.add_argument("--rates", default="50,100,200,400", help="requests per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds at each rate (default 20)")
    parser.add_argument("--burst", type=int, default=1000, help="clicks sent within one second at the end")
    parser.add_argument("--web-workers", type=int, default=0, help="gunicorn workers (default: bot.prefork's)")
    parser.add_argument("--serve-bare", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.load:
        from slack_load import run_load  # bench/slack_load.py

        run_load(args)
        return
    from bot.slack import queued
    from tests.support.slack_support import JobRunner, TrackingExecutor
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
        executor = TrackingExecutor()
        runner = JobRunner(runtime, executor).start()  # stands in for `python -m bot worker`
        assert queued.KINDS
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
            runner.stop()
            executor.shutdown(wait=True)
            db.dispose()


if __name__ == "__main__":
    main()
