"""A deployment's Terraform state in the database: sealed, rotated with the keys, written through a locked
database, and imported once from the disk of an earlier version."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import text

from core.accounts.identity import IdentityKey, create_user
from core.deployments.state import STATE_KIND, DatabaseStateStore, import_legacy_state
from core.secrets import SecretBox, rotate_all
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from core.terraform.launch import Terraform
from core.terraform.runner import Progress, prepare_workdir, run
from core.terraform.sandbox import make_sandbox
from storage.db import Database
from storage.models import Deployment, StoredSecret

STATE = json.dumps({"version": 4, "serial": 3, "lineage": "l-1", "outputs": {"token": {"value": "t0p-s3cret"}}})
MODULE = b'variable "name" {\n  type = string\n}\nresource "terraform_data" "x" {\n  input = var.name\n}\n'


def a_deployment(db: Database) -> int:
    with db.unit_of_work() as session:
        owner = create_user(session, IdentityKey("slack", "T1", "UOWN"), "Owner")
        deployment = Deployment(short_id="st4t", module_name="m", owner_id=owner.id, credit_cost=Decimal(0))
        session.add(deployment)
        session.flush()
        return deployment.id


def test_the_state_is_sealed_and_survives_a_key_rotation(db: Database) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    store = DatabaseStateStore(db, SecretBox([old_key]), a_deployment(db))
    assert store.load() is None
    store.save(STATE.encode())
    store.save(STATE.replace('"serial": 3', '"serial": 4').encode())  # replaced, not added
    with db.unit_of_work() as session:
        rows = [row for row in session.query(StoredSecret) if row.kind == STATE_KIND]
        assert len(rows) == 1 and "t0p-s3cret" not in rows[0].ciphertext
        assert rotate_all(session, SecretBox([new_key, old_key])) == 1
    rotated = DatabaseStateStore(db, SecretBox([new_key]), store.deployment_id)
    assert json.loads(rotated.load() or b"{}")["serial"] == 4


def test_a_run_writes_its_state_through_a_database_locked_for_seconds(db: Database, tmp_path: Path) -> None:
    """Another connection holds the write lock when Terraform writes the state: the write waits and lands."""
    store = DatabaseStateStore(db, SecretBox([Fernet.generate_key().decode()]), a_deployment(db))
    held, released = threading.Event(), threading.Event()

    def lock_for_three_seconds() -> None:
        with db.engine.connect() as connection, connection.begin():  # SQLite: BEGIN IMMEDIATE, the write lock
            if db.engine.dialect.name == "postgresql":
                connection.execute(text("LOCK TABLE deployments IN EXCLUSIVE MODE"))
            held.set()
            time.sleep(3)
        released.set()

    def on_progress(progress: Progress) -> None:
        if (progress.step, progress.state) == ("apply", "running"):
            threading.Thread(target=lock_for_three_seconds, daemon=True).start()
            held.wait(5)

    terraform = Terraform(EmbeddedEngine(plugin_cache_dir(tmp_path)), make_sandbox("bwrap"), network=False)
    workdir = prepare_workdir(tmp_path, "locked-1", {"main.tf": MODULE})
    result = run(terraform, workdir, "create", {"name": "kept"}, set(), 120, on_progress, state=store)
    assert released.wait(10) and result.ok, result.log
    state = json.loads(store.load() or b"{}")
    assert state["resources"][0]["instances"][0]["attributes"]["input"]["value"] == "kept"


def test_a_state_left_on_disk_by_an_earlier_version_is_imported_once(db: Database, tmp_path: Path) -> None:
    legacy = tmp_path / "deployments" / "st4t"
    legacy.mkdir(parents=True)
    (legacy / "terraform.tfstate").write_text(STATE)
    store = DatabaseStateStore(db, SecretBox([Fernet.generate_key().decode()]), a_deployment(db))
    assert import_legacy_state(store, tmp_path, "st4t")
    assert not legacy.exists() and json.loads(store.load() or b"{}")["lineage"] == "l-1"
    assert not import_legacy_state(store, tmp_path, "st4t")
