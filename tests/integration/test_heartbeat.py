"""The deploy worker's heartbeat against a real database that is briefly locked: it retries, and only a lease
that really expired takes the run away, which then tells the running Terraform command to stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from bot.deploy_worker import DeployWorker
from bot.runtime import Runtime
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from core.config import Config
from core.credits.ledger import check_balances
from core.deployments import queue as run_queue
from core.deployments.queue import HEARTBEAT_LEASE, Finished
from core.deployments.status import DeploymentRunStatus, DeploymentStatus
from storage.db import Database
from storage.models import Deployment, DeploymentRun, utcnow
from tests.integration.test_deploy import UMA, available, deploy_button, platform

__all__ = ["platform"]

LOCK_WAIT_MS = 50
BEAT = 0.2


@pytest.fixture
def impatient_db(database_url: str) -> Iterator[Database]:
    """The test database through an engine that gives up on a lock after 50 ms instead of waiting for it."""
    db = Database(database_url)

    def short_lock_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if db.is_postgres:
            cursor.execute(f"SET lock_timeout = {LOCK_WAIT_MS}")
            dbapi_connection.commit()
        else:
            cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        cursor.close()

    event.listen(db.engine, "connect", short_lock_wait)
    yield db
    db.dispose()


@pytest.fixture
def beating(platform: Dispatcher, config: Config, impatient_db: Database, db: Database) -> Iterator[
        tuple[DeployWorker, int]]:
    """A worker (beating every 0.2 s) that has claimed Uma's queued deployment run; the run's id."""
    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "network-plan")))
    worker = DeployWorker(Runtime(config, impatient_db, platform.registry, platform), {}, name="beating-worker")
    worker.beat_seconds = BEAT
    with db.unit_of_work() as s:
        run = run_queue.claim_run(s, worker.name, utcnow())
        assert run is not None
        run_id = run.id
    yield worker, run_id
    for thread in beating_threads(run_id):
        thread.join(5)


def beating_threads(run_id: int) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"beat-{run_id}" and t.is_alive()]


@contextmanager
def database_locked(db: Database) -> Iterator[Connection]:
    """Hold the lock a beat needs from another connection: SQLite's write lock (``BEGIN IMMEDIATE``), or on
    PostgreSQL the run table; yields that connection, committed when the block ends."""
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.exec_driver_sql("LOCK TABLE deployment_runs IN ACCESS EXCLUSIVE MODE")
        else:
            conn.exec_driver_sql("SELECT 1")  # the transaction began with BEGIN IMMEDIATE: the write lock is ours
        yield conn


def heartbeat_at(db: Database, run_id: int) -> datetime | None:
    with db.unit_of_work() as s:
        return s.get_one(DeploymentRun, run_id).heartbeat_at


def wait_until(check: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_briefly_locked_database_is_retried_and_the_run_kept(
        beating: tuple[DeployWorker, int], db: Database, caplog: pytest.LogCaptureFixture) -> None:
    worker, run_id = beating
    caplog.set_level(logging.WARNING, logger="bot.deploy_worker")
    stop, lost = worker._heartbeat(run_id)
    try:
        assert wait_until(lambda: heartbeat_at(db, run_id) is not None)
        with database_locked(db):
            time.sleep(1.5)
        released = utcnow()
        assert wait_until(lambda: (heartbeat_at(db, run_id) or released) > released), "no beat after the outage"
        with db.unit_of_work() as s:
            assert run_queue.fail_abandoned(s, utcnow()) == []  # its lease never expired
            assert s.get_one(DeploymentRun, run_id).status == DeploymentRunStatus.WORKING
        assert not lost.is_set()
    finally:
        stop.set()
    retries = [r for r in caplog.records if r.getMessage() == "deployment heartbeat failed; retrying"]
    assert len(retries) >= 3, [r.getMessage() for r in caplog.records]
    waits = [vars(r)["retry_in"] for r in retries]
    assert waits[0] < waits[1] < waits[2] and max(waits) <= BEAT  # backing off, never slower than a beat
    for record in retries:  # the kind of error only: no SQL, no parameters, no traceback
        assert vars(record)["error"] == "OperationalError" and record.exc_info is None
        assert "deployment_runs" not in repr(vars(record)) and "heartbeat_at" not in repr(vars(record))


def test_a_run_taken_away_after_its_lease_expired_is_told_to_stop(
        beating: tuple[DeployWorker, int], db: Database) -> None:
    worker, run_id = beating
    stop, lost = worker._heartbeat(run_id)
    try:
        with database_locked(db) as conn:  # an outage longer than the lease, as another worker sees it
            time.sleep(0.5)
            with Session(bind=conn) as other_worker:
                later = utcnow() + HEARTBEAT_LEASE + timedelta(seconds=5)
                assert run_queue.fail_abandoned(other_worker, later) != []
                other_worker.flush()
        assert lost.wait(5), "the heartbeat never noticed the run was taken away"
        assert wait_until(lambda: not beating_threads(run_id)), "a lost run is still being beaten"
    finally:
        stop.set()
    with db.unit_of_work() as s:
        assert run_queue.beat(s, run_id, worker.name, utcnow()) is False
        late = Finished(DeploymentRunStatus.SUCCESS)  # the worker ends late
        deployment = run_queue.finish_run(s, run_id, late, utcnow())
        assert deployment.status == DeploymentStatus.INTERNAL_ERROR and not deployment.charged
        owner = s.scalars(select(Deployment)).one().owner_id
        assert check_balances(s, owner) == []
    assert available(db) == Decimal(100)  # released once, never spent


def test_beat_is_only_for_the_worker_that_claimed_the_run(beating: tuple[DeployWorker, int], db: Database) -> None:
    worker, run_id = beating
    with db.unit_of_work() as s:
        assert run_queue.beat(s, run_id, "someone-else", utcnow()) is False
        assert run_queue.beat(s, run_id, worker.name, utcnow()) is True
        assert run_queue.beat(s, run_id + 1000, worker.name, utcnow()) is False
