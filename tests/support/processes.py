"""A real ``python -m bot run`` process wired to the Slack and Discord emulators (tests and benchmarks)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.emulators.discord import DiscordEmulator
from tests.emulators.slack import SlackEmulator

ROOT = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "process-test-signing-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BotProcess:
    """The running process, its HTTP port and the emulators it talks to."""

    process: subprocess.Popen[bytes]
    port: int
    slack: SlackEmulator
    discord: DiscordEmulator

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (urllib.error.URLError, ConnectionError):
            return 0, b""  # not listening yet

    def slash(self, text: str, user: str = "UADMIN", response_url: str = "") -> int:
        """POST a signed slash command to ``/slack/events``; returns the HTTP status."""
        body = urllib.parse.urlencode({
            "command": "/rad", "text": text, "team_id": "T1", "user_id": user, "user_name": user.lower(),
            "channel_id": "C1", "trigger_id": f"trig-{time.monotonic_ns()}",
            "response_url": response_url or self.slack.webhook_url("process"),
        }).encode()
        stamp = str(int(time.time()))
        signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body,
                                     hashlib.sha256).hexdigest()
        request = urllib.request.Request(self.url + "/slack/events", data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)

    def rss_kib(self) -> int:
        """Resident memory of the process, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def output(self) -> str:
        return self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""


@contextmanager
def started(args: list[str], env: dict[str, str], *, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A child process run from the repository (its output in the file ``log``, else a pipe), stopped with
    SIGTERM on exit and killed if it has not stopped within 30 seconds."""
    with open(log, "wb") if log is not None else contextlib.nullcontext() as out:
        child = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out if out is not None else subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            stop(child)


def stop(child: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM ``child`` if it still runs, and kill it if it has not stopped within ``timeout`` seconds."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


@contextmanager
def bot_run(data_dir: Path, *, database_url: str = "", admins: str = "slack:T1:UADMIN") -> Iterator[BotProcess]:
    """Start ``python -m bot run`` with Slack (HTTP mode) and Discord on emulators; stop it with SIGTERM."""
    with SlackEmulator() as slack:
        discord = DiscordEmulator().start_in_thread()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "RAD_", "DATABASE_"))}
        env.update({
            "RAD_DATA_DIR": str(data_dir), "RAD_ADMINS": admins, "PORT": str(port),
            "SLACK_BOT_TOKEN": "xoxb-process-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url, "DISCORD_TOKEN": "process-test-token",
            "DISCORD_API_URL": discord.api_url, "DISCORD_GATEWAY_URL": discord.gateway_url,
        })
        if database_url:
            env["DATABASE_URL"] = database_url
        process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        bot = BotProcess(process, port, slack, discord)
        try:
            wait_until(lambda: process.poll() is not None or bot.get("/healthz")[0] == 200, 60, "/healthz")
            if process.poll() is not None:
                raise RuntimeError(f"bot exited early:\n{bot.output()}")
            wait_until(lambda: bool(discord.gateway.sessions), 30, "the Discord gateway session")
            yield bot
            slack.check()
        finally:
            stop(process)
            discord.stop_thread()


def json_body(raw: bytes) -> dict[str, object]:
    data = json.loads(raw)
    assert isinstance(data, dict)
    return data
