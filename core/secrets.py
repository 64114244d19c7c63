"""Secrets at rest: Fernet encryption with several keys for rotation (newest first).

A secret is sealed the moment it arrives and opened only at the moment of use; the database holds
only ciphertext and a short fingerprint that identifies a secret without revealing it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotConfigured, RadError
from storage.models import StoredSecret

KEY_FILE = "secret.key"


class SecretUnreadable(RadError):
    """A stored secret cannot be decrypted with any configured key."""

    def __init__(self) -> None:
        super().__init__(
            "A stored secret can no longer be decrypted.",
            hint="RAD_SECRET_KEY changed without keeping the old key; add the old key after the new one, "
                 "or connect again.",
        )


class SecretBox:
    """Seals and opens secrets; the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise NotConfigured("No secret key is configured.", hint="Set RAD_SECRET_KEY.")
        fernets = []
        for position, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                raise NotConfigured(
                    f"Key number {position} in RAD_SECRET_KEY is not a Fernet key.",
                    hint="Each key is 32 url-safe base64-encoded bytes; make one with "
                         "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`.",
                ) from None
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def seal(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` under the newest key."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        """Decrypt ``ciphertext`` with whichever key fits; raises SecretUnreadable if none does."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable() from None

    def rotate(self, ciphertext: str) -> str:
        """The same secret encrypted under the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable() from None


def load_keys(configured: Sequence[str], data_dir: Path) -> tuple[str, ...]:
    """``RAD_SECRET_KEY``'s keys, or the embedded default's key file (created with mode 0600)."""
    if configured:
        return tuple(configured)
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
    return tuple(k.strip() for k in path.read_text().split(",") if k.strip())


def fingerprint(plaintext: str) -> str:
    """Twelve hex digits identifying a secret (SHA-256), never enough to recover it."""
    return hashlib.sha256(plaintext.encode()).hexdigest()[:12]


def store(session: Session, box: SecretBox, *, kind: str, plaintext: str, owner_id: int | None,
          now: datetime) -> StoredSecret:
    """Seal and save a secret; returns its row (ciphertext only)."""
    row = StoredSecret(owner_id=owner_id, kind=kind, ciphertext=box.seal(plaintext),
                       fingerprint=fingerprint(plaintext), created_at=now)
    session.add(row)
    session.flush()
    return row


def reveal(box: SecretBox, row: StoredSecret) -> str:
    """The plaintext, for the moment of use only; never log or store what this returns."""
    return box.open(row.ciphertext)


def rotate_all(session: Session, box: SecretBox) -> int:
    """Re-encrypt every stored secret under the newest key; returns how many."""
    rows = list(session.scalars(select(StoredSecret).with_for_update()))
    for row in rows:
        row.ciphertext = box.rotate(row.ciphertext)
    session.flush()
    return len(rows)


def replace_json(session: Session, box: SecretBox, current_id: int | None, data: Mapping[str, Any], *, kind: str,
                 owner_id: int | None, now: datetime) -> int | None:
    """Seal ``data`` as JSON instead of the secret ``current_id``; returns the new id (None when ``data`` is empty).

    The new row is written before the old one is deleted, so a reused row id never looks unchanged.
    """
    new_id = store(session, box, kind=kind, plaintext=json.dumps(dict(data)), owner_id=owner_id, now=now).id \
        if data else None
    old = session.get(StoredSecret, current_id) if current_id is not None else None
    if old is not None:
        session.delete(old)
        session.flush()
    return new_id


def open_json(session: Session, box: SecretBox, secret_id: int | None) -> dict[str, Any]:
    """The JSON object sealed as ``secret_id`` (empty when there is none); never log what this returns."""
    row = session.get(StoredSecret, secret_id) if secret_id is not None else None
    return dict(json.loads(reveal(box, row))) if row is not None else {}
