"""The process entry points, run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from core.config import Config
from storage.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]


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
    assert migrated.returncode == 0 and f"migrated to revision {head_revision()}" in migrated.stdout
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


def test_rotate_secrets_reencrypts_under_the_newest_key(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    from core import secrets
    from storage.db import Database
    from storage.models import StoredSecret, utcnow

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'rad.db'}", "RAD_SECRET_KEY": old}
    assert rad("migrate", env=env).returncode == 0
    db = Database(env["DATABASE_URL"])
    with db.unit_of_work() as s:
        secrets.store(s, secrets.SecretBox((old,)), kind="jules_key", plaintext="jules-key-123", owner_id=None,
                      now=utcnow())
    result = rad("rotate-secrets", env={**env, "RAD_SECRET_KEY": f"{new},{old}"})
    assert result.returncode == 0 and "Re-encrypted 1 secret" in result.stdout
    with db.unit_of_work() as s:
        assert secrets.reveal(secrets.SecretBox((new,)), s.scalars(select(StoredSecret)).one()) == "jules-key-123"
    db.dispose()
