"""Production Slack HTTP mode as real processes: ``gunicorn -c python:bot.prefork`` acks, ``bot worker`` answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from storage.db import Database
from tests.emulators.slack import SlackEmulator
from tests.support.processes import ROOT, SIGNING_SECRET, BotProcess, free_port, started, wait_until


def healthy(bot: BotProcess) -> bool:
    try:
        return bot.get("/healthz")[0] == 200
    except TimeoutError:  # a busy machine: ask again
        return False


def test_two_web_processes_ack_and_a_worker_answers(tmp_path: Path, db: Database, database_url: str) -> None:
    """(``db`` empties the tables afterwards, on PostgreSQL the processes write to the test database.)"""
    with SlackEmulator() as slack:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RAD_", "DATABASE_", "DISCORD_"))}
        env.update({"RAD_DATA_DIR": str(tmp_path / "data"), "RAD_ADMINS": "slack:T1:UADMIN", "PORT": str(port),
                    "SLACK_BOT_TOKEN": "xoxb-process-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": slack.url, "WEB_CONCURRENCY": "2", "RAD_WEB_THREADS": "2",
                    "RAD_SECRET_KEY": Fernet.generate_key().decode()})
        if "postgresql" in database_url:
            env["DATABASE_URL"] = database_url
        subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        with started([sys.executable, "-m", "gunicorn", "-c", "python:bot.prefork"], env) as web:
            bot = BotProcess(web, port, slack, None)  # type: ignore[arg-type]
            wait_until(lambda: web.poll() is not None or healthy(bot), 60, "/healthz")
            assert web.poll() is None, bot.output()
            assert bot.slash("help") == 200  # acked with no worker running: the request waits as a job
            assert slack.calls("/webhook/process") == []
            with started([sys.executable, "-m", "bot", "worker"], env):
                hook = slack.wait_for("/webhook/process", timeout=30)
            assert "RAD commands you can use" in str(hook[0].body)
            web.send_signal(signal.SIGTERM)
            wait_until(lambda: web.poll() is not None, 30, "gunicorn to stop")
            assert web.returncode == 0
        slack.check()
