"""The load mode of ``bench/slack_ack.py``: open-loop signed requests against the production processes.

Run through ``bench/slack_ack.py --load`` (its docstring says what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"
LIMIT = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


def command_body(hook_base: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": "T1", "channel_id": "C1", "user_id": f"U{uuid.uuid4().int % 50:03d}",
        "user_name": "bench", "command": "/rad", "text": "help", "api_app_id": "A1",
        "response_url": f"{hook_base}/webhook/load-{uuid.uuid4().hex[:12]}", "trigger_id": f"trig.{uuid.uuid4().hex}",
    })


def click_body(hook_base: str) -> str:
    user = f"U{uuid.uuid4().int % 50:03d}"
    payload = {"type": "block_actions", "team": {"id": "T1", "domain": "rad"}, "api_app_id": "A1", "token": "legacy",
               "user": {"id": user, "username": "bench", "name": "bench", "team_id": "T1"},
               "trigger_id": f"trig.{uuid.uuid4().hex}", "channel": {"id": "C1", "name": "general"},
               "container": {"type": "message", "message_ts": "1700000005.000100", "channel_id": "C1",
                             "is_ephemeral": True},
               "response_url": f"{hook_base}/webhook/load-{uuid.uuid4().hex[:12]}",
               "actions": [{"type": "button", "action_id": "home:open", "block_id": "b1", "value": "",
                            "text": {"type": "plain_text", "text": "Home"}, "action_ts": f"{time.time():.6f}"}]}
    return "payload=" + urllib.parse.quote(json.dumps(payload))


def signed_request(body: str, host: str) -> bytes:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    raw = body.encode()
    return (f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(raw)}\r\nX-Slack-Request-Timestamp: {stamp}\r\nX-Slack-Signature: v0={digest}\r\n"
            "Connection: keep-alive\r\n\r\n").encode() + raw


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    acked: int = 0

    def line(self) -> str:
        if not self.latencies:
            return f"{'-':>8} {'-':>8} {'-':>6} {self.errors:>5}"
        ms = sorted(x * 1000 for x in self.latencies)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        over = sum(1 for x in self.latencies if x > LIMIT)
        return f"{statistics.median(ms):8.1f} {p99:8.1f} {over:6d} {self.errors:5d}"

    def p99(self) -> float:
        ms = sorted(self.latencies)
        return ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan")


class Sender:
    """Open loop: request i is due at start + i / rate whatever the server does; idle connections are reused."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def one(self, due: float, body: str, result: Result) -> None:
        try:
            reused = bool(self.idle)
            reader, writer = self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            request = signed_request(body, f"{self.host}:{self.port}")
            writer.write(request)
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            except (asyncio.IncompleteReadError, ConnectionError):
                if not reused:
                    raise
                writer.close()  # the server closed an idle keep-alive connection: a client sends again
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            result.latencies.append(time.monotonic() - due)
            if status == 200:
                result.acked += 1
            else:
                result.errors += 1
            if b"connection: close" in head.lower():
                writer.close()
            else:
                self.idle.append((reader, writer))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            result.errors += 1

    async def run(self, rate: float, seconds: float, make_body: object, hook_base: str) -> Result:
        result, tasks = Result(), []
        count = int(rate * seconds)
        start = time.monotonic() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(due, make_body(hook_base), result)))  # type: ignore[operator]
        await asyncio.gather(*tasks)
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()
        return result


def slack_jobs(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT status, count(*) FROM jobs WHERE kind LIKE 'slack.%' GROUP BY status"))
        found = {str(status): int(n) for status, n in rows}
    engine.dispose()
    return found


def run_load(args: argparse.Namespace) -> None:
    url = args.database_url or os.environ.get("RAD_BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("--load needs --database-url postgresql://... (a database of its own: it is migrated and used)")
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        slack_port, bot_port, bare_port = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RAD_", "DATABASE_", "DISCORD_"))}
        env.update({"PYTHONPATH": str(ROOT), "RAD_DATA_DIR": str(logs / "data"), "DATABASE_URL": url,
                    "RAD_SECRET_KEY": Fernet.generate_key().decode(), "SLACK_BOT_TOKEN": "xoxb-bench",
                    "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
                    "PORT": str(bot_port), "RAD_LOG_LEVEL": "WARNING"})
        if args.web_workers:
            env["WEB_CONCURRENCY"] = str(args.web_workers)
        py = sys.executable
        subprocess.run([py, "-m", "bot", "migrate"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        hook_base = f"http://127.0.0.1:{slack_port}"
        with process(["nice", "-n", "10", py, "-m", "tests.emulators.slack", "--port", str(slack_port)], env,
                     logs / "slack.log"), \
             process([py, "-m", "gunicorn", "-c", "python:bot.prefork"], env, logs / "web.log"), \
             process(["nice", "-n", "10", py, "-m", "bot", "worker", "--threads", "4"], env, logs / "worker.log"), \
             process([py, str(ROOT / "bench" / "slack_ack.py"), "--serve-bare", str(bare_port)], env,
                     logs / "bare.log"):
            wait_http(f"{hook_base}/api/api.test")
            wait_http(f"http://127.0.0.1:{bot_port}/healthz")
            wait_http(f"http://127.0.0.1:{bare_port}/slack/events")
            for port in (bot_port, bare_port):  # warm up: every process has imported and connected
                for make in (command_body, click_body):
                    asyncio.run(Sender("127.0.0.1", port).run(20, 2.0, make, hook_base))
            time.sleep(5)
            before = slack_jobs(url)
            workers = env.get("WEB_CONCURRENCY") or f"{2 * (os.cpu_count() or 1)} (2 per core)"
            print(f"Slack ack under open-loop load, {args.seconds:g} s at each rate; machine: {os.cpu_count()} cores "
                  "shared with other work. rad = gunicorn -c python:bot.prefork "
                  f"({workers} workers x 4 threads) + nice python -m bot worker --threads 4, PostgreSQL; "
                  "bare = a Bolt app that only acks, one waitress process (8 threads). "
                  "The Slack emulator (Slack's side, "
                  "validating every reply) runs niced too.")
            print(f"{'rate/s':>6} {'request':<8} | {'rad p50':>8} {'p99 ms':>8} {'>3s':>6} {'err':>5} | "
                  f"{'bare p50':>8} {'p99 ms':>8} {'>3s':>6} {'err':>5} | p99 rad/bare")
            sent_to_bot = acked_by_bot = 0
            for rate in rates:
                for name, make in (("help", command_body), ("click", click_body)):
                    ours = asyncio.run(Sender("127.0.0.1", bot_port).run(rate, args.seconds, make, hook_base))
                    bare = asyncio.run(Sender("127.0.0.1", bare_port).run(rate, args.seconds, make, hook_base))
                    sent_to_bot += int(rate * args.seconds)
                    acked_by_bot += ours.acked
                    print(f"{rate:6.0f} {name:<8} | {ours.line()} | {bare.line()} | {ours.p99() / bare.p99():6.2f}",
                          flush=True)
            if args.burst:
                ours = asyncio.run(Sender("127.0.0.1", bot_port).run(args.burst, 1.0, click_body, hook_base))
                bare = asyncio.run(Sender("127.0.0.1", bare_port).run(args.burst, 1.0, click_body, hook_base))
                sent_to_bot += args.burst
                acked_by_bot += ours.acked
                print(f"{'burst':>6} {args.burst:<8} | {ours.line()} | {bare.line()} | "
                      f"{ours.p99() / bare.p99():6.2f}   ({args.burst} clicks within one second)")
            after = slack_jobs(url)
            stored = sum(after.values()) - sum(before.values())
            print(f"bot: {sent_to_bot} sent, {acked_by_bot} acked 200, {stored} stored as jobs "
                  f"(lost: {acked_by_bot - stored}); jobs now {after}")
            left = after.get("queued", 0) + after.get("running", 0)
            started, later = time.monotonic(), after
            while left and time.monotonic() - started < 180:
                time.sleep(0.5)
                later = slack_jobs(url)
                left = later.get("queued", 0) + later.get("running", 0)
            waited = time.monotonic() - started
            answered = later.get("done", 0) - after.get("done", 0)
            print(f"after the load the worker answered the {answered} jobs still queued in {waited:.1f} s "
                  f"({answered / max(waited, 0.001):.0f}/s); left: {left}; jobs now {later}")
