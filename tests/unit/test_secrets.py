"""Secrets at rest: Fernet with rotation, a generated key file, only ciphertext in the database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from core import secrets
from core.errors import NotConfigured
from storage.db import Database
from storage.models import StoredSecret, utcnow

TOKEN = "ghp_" + "A1b2C3d4" * 4


def test_the_embedded_default_generates_a_private_key_file_once(tmp_path: Path) -> None:
    keys = secrets.load_keys((), tmp_path / "data")
    key_file = tmp_path / "data" / secrets.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert secrets.load_keys((), tmp_path / "data") == keys and len(keys) == 1
    box = secrets.SecretBox(keys)
    assert box.open(box.seal(TOKEN)) == TOKEN


def test_configured_keys_win_and_bad_keys_are_named_not_shown(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    assert secrets.load_keys((key,), tmp_path) == (key,) and not (tmp_path / secrets.KEY_FILE).exists()
    with pytest.raises(NotConfigured, match="Key number 2") as raised:
        secrets.SecretBox((key, "not-a-key-at-all"))
    assert "not-a-key-at-all" not in str(raised.value)
    assert key not in repr(secrets.SecretBox((key,)))


def test_rotation_reencrypts_everything_under_the_newest_key(db: Database) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with db.unit_of_work() as s:
        row = secrets.store(s, secrets.SecretBox((old,)), kind="github_token", plaintext=TOKEN, owner_id=None,
                            now=utcnow())
        assert TOKEN not in row.ciphertext and row.fingerprint == secrets.fingerprint(TOKEN)
    with db.unit_of_work() as s:
        assert secrets.rotate_all(s, secrets.SecretBox((new, old))) == 1
    with db.unit_of_work() as s:
        stored = s.scalars(select(StoredSecret)).one()
        assert secrets.reveal(secrets.SecretBox((new,)), stored) == TOKEN  # the old key is no longer needed
        with pytest.raises(secrets.SecretUnreadable, match="RAD_SECRET_KEY changed"):
            secrets.reveal(secrets.SecretBox((old,)), stored)
