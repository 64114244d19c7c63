"""A deployment's Terraform state in the database: sealed like every secret, written back as Terraform goes.

The run's state backend (:mod:`core.terraform.backend`) calls :meth:`DatabaseStateStore.save` for every state
Terraform writes, and answers Terraform only once the state is committed. A database that is briefly locked
or unreachable is retried with backoff before the write is reported as failed (Terraform then retries too,
and at worst leaves ``errored.tfstate``, which the runner stores).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import OperationalError

from core.secrets import SecretBox, fingerprint, reveal
from core.terraform.workdir import forget_legacy, legacy_state
from storage.db import Database
from storage.models import Deployment, StoredSecret, utcnow

log = logging.getLogger(__name__)

STATE_KIND = "terraform_state"
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Seconds between attempts to write a state while the database is locked or away (about 16 s in all)."""


@dataclass
class DatabaseStateStore:
    """The state of one deployment, read and written in short transactions of their own.

    It is read from the database once: a deployment has one run at a time (the claim sees to it), so what
    this run last read or wrote is the state, and Terraform's many reads of it are answered from memory.
    """

    db: Database
    box: SecretBox = field(repr=False)
    deployment_id: int
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    _known: tuple[bytes | None] | None = field(default=None, init=False, repr=False)
    """The state as last read or written (in a 1-tuple: None inside means "no state yet")."""

    def load(self) -> bytes | None:
        """The deployment's Terraform state, opened, or None when it has none yet."""
        if self._known is None:
            with self.db.unit_of_work() as session:
                deployment = session.get_one(Deployment, self.deployment_id)
                row = session.get(StoredSecret, deployment.state_secret_id) if deployment.state_secret_id else None
                self._known = (reveal(self.box, row).encode() if row is not None else None,)
        return self._known[0]

    def save(self, state: bytes) -> None:
        """Seal the state, then replace the stored one, retrying while the database is locked or away."""
        sealed = self.box.seal(state.decode("utf-8"))  # sealed once, outside the transaction
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                self._replace(sealed, state)
                self._known = (state,)
                return
            except OperationalError:
                if delay is None:
                    raise
                log.warning("the database refused a Terraform state write; retrying",
                            extra={"deployment": self.deployment_id, "attempt": attempt + 1})
                self.sleep(delay)

    def _replace(self, sealed: str, state: bytes) -> None:
        with self.db.unit_of_work() as session:
            deployment = session.get_one(Deployment, self.deployment_id, with_for_update=True)
            old = session.get(StoredSecret, deployment.state_secret_id) if deployment.state_secret_id else None
            row = StoredSecret(owner_id=deployment.owner_id, kind=STATE_KIND, ciphertext=sealed,
                               fingerprint=fingerprint(state.decode("utf-8")), created_at=self.clock())
            session.add(row)
            session.flush()
            deployment.state_secret_id = row.id
            if old is not None:
                session.delete(old)


def import_legacy_state(store: DatabaseStateStore, data_dir: Path, deployment_key: str) -> bool:
    """Move a state left on disk by an earlier version into the database (once); True when one was moved."""
    path = legacy_state(data_dir, deployment_key)
    if path is None or store.load() is not None:
        return False
    store.save(path.read_bytes())
    forget_legacy(data_dir, deployment_key)
    log.info("imported a deployment's state from disk into the database", extra={"deployment": deployment_key})
    return True
