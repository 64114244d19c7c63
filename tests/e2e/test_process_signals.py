"""A real ``python -m bot worker``: SIGTERM stops it cleanly (exit 0), and ``RAD_LOG_FORMAT=json`` logs JSON lines."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.logs import JsonFormatter, formatter
from core.config import Config
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_stops_a_worker_with_exit_0_and_json_logs(config: Config, db: Database, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": config.effective_database_url,
           "RAD_DATA_DIR": str(tmp_path / "worker"), "RAD_LOG_LEVEL": "INFO", "RAD_LOG_FORMAT": "json",
           "RAD_SANDBOX_NETWORK": "off", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "bot", "worker", "--threads", "2"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(line.decode() for line in process.stderr or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while sum('"worker started"' in line for line in said) < 2 and process.poll() is None:
            assert time.monotonic() < deadline, "".join(said)
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)  # both job loops are polling the queue
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    assert process.returncode == 0, "".join(said)
    lines = [json.loads(line) for line in said if line.strip()]  # every line is one JSON object
    stopped = [entry for entry in lines if entry["message"] == "worker stopped"]
    assert len(stopped) == 2 and all(e["level"] == "INFO" and e["logger"] == "bot.worker" for e in stopped)
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)


def logged(fmt: logging.Formatter, message: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(fmt)
    log = logging.getLogger("rad.test.logs")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise RuntimeError("failed with token=hunter2secret")
        except RuntimeError:
            log.warning(message, *args, extra=extra, exc_info=True)
    finally:
        log.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_redact_secrets_in_the_message_extras_and_traceback() -> None:
    slack, github = "xoxb-1234567890-abcdefghij", "ghp_" + "a1B2" * 9
    out = logged(formatter("json"), "posting with %s", slack, header=f"Bearer {github}", status=403)
    assert out.count("\n") == 1  # one line, the traceback's newlines escaped
    entry = json.loads(out)
    assert entry["message"] == "posting with [redacted]" and entry["header"] == "Bearer [redacted]"
    assert entry["status"] == 403 and "token=[redacted]" in entry["exception"]
    assert slack not in out and github not in out and "hunter2secret" not in out


def test_text_lines_redact_secrets_too() -> None:
    out = logged(formatter("text"), "key %s", "sk_live_" + "x" * 24, url="https://h/?api_key=abcdef123",
                 refresh="xoxe-1-abcdefghijklmn")
    assert "sk_live_" not in out and "abcdef123" not in out and "xoxe-1" not in out and out.count("[redacted]") >= 4
    assert isinstance(formatter("json"), JsonFormatter) and not isinstance(formatter("text"), JsonFormatter)
