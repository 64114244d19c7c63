"""``python -m bot run`` as a real process: Slack (HTTP mode) and Discord against their emulators."""

from __future__ import annotations

import signal
from pathlib import Path

from storage.db import Database
from tests.support.processes import bot_run, json_body, wait_until


def test_run_serves_both_front_doors_and_stops_cleanly(tmp_path: Path, db: Database, database_url: str) -> None:
    """(``db`` empties the tables afterwards, on PostgreSQL the process writes to the test database.)"""
    with bot_run(tmp_path / "data", database_url=database_url if "postgresql" in database_url else "") as bot:
        status, body = bot.get("/healthz")
        health = json_body(body)
        assert status == 200 and health["status"] == "ok" and health["database"] == "ok"
        both = {"discord": "ok", "slack": "ok"}  # the front doors of this process (Discord once its client is ready)
        wait_until(lambda: json_body(bot.get("/healthz")[1]).get("front_doors") == both, 30, "both front doors")
        assert bot.slash("help") == 200
        hook = bot.slack.wait_for("/webhook/process", timeout=10)
        assert "RAD commands you can use" in str(hook[0].body)
        assert bot.discord.find("PUT", r"/applications/\d+/commands")  # the /rad tree was synced
        metrics = bot.get("/metrics")[1].decode()
        assert 'rad_requests_total{kind="command",outcome="ok"}' in metrics
        bot.process.send_signal(signal.SIGTERM)
        wait_until(lambda: bot.process.poll() is not None, 30, "the process to stop")
        assert bot.process.returncode == 0, bot.output()
