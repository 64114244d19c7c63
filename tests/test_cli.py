"""The process entry points, run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config

ROOT = Path(__file__).resolve().parents[1]


def rad(*args: str, env: dict[str, str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SLACK_", "DISCORD_", "RAD_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**clean, **env}, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_an_unmigrated_database_names_the_migrate_command(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    result = rad("console", "--as", "ada", env=env, stdin="whoami\n")
    assert result.returncode == 2
    assert "not migrated" in result.stderr and "python -m bot migrate" in result.stderr
    migrated = rad("migrate", env=env)
    assert migrated.returncode == 0 and "migrated to revision 0001" in migrated.stdout
    after = rad("console", "--as", "ada", env=env, stdin="whoami\nquit\n")
    assert after.returncode == 0 and "ada (user 1)" in after.stdout


def test_run_without_chat_credentials_says_what_to_set(tmp_path: Path) -> None:
    result = rad("run", env={"RAD_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    for variable in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        assert variable in result.stderr
    assert "python -m bot console" in result.stderr


def test_console_demo_on_the_embedded_default(tmp_path: Path) -> None:
    env = {"RAD_DATA_DIR": str(tmp_path / "data"), "RAD_ADMINS": ""}
    result = rad("console", "--demo", "--as", "newcomer", env=env, stdin="admin users\n\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "Pat Partner" in result.stdout and (tmp_path / "data" / "rad.db").exists()


def test_config_reads_the_documented_variables(tmp_path: Path) -> None:
    config = Config.from_env({
        "RAD_DATA_DIR": str(tmp_path), "RAD_ADMINS": "slack:T1:U1, discord:42", "RAD_COMMAND": "/ops",
        "SLACK_BOT_TOKEN": "xoxb-secret", "PORT": "8080", "DISCORD_API_URL": "http://127.0.0.1:1/api/v10/",
    })
    assert config.admins == ("slack:T1:U1", "discord:42") and config.command == "ops" and config.port == 8080
    assert config.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'rad.db'}"
    assert config.discord_api_url == "http://127.0.0.1:1/api/v10"
    assert "xoxb-secret" not in repr(config)
    with pytest.raises(ValueError, match="PORT"):
        Config.from_env({"PORT": "eighty"})
