"""Idle workers wake at once when a job or a deployment run is queued (PostgreSQL's LISTEN/NOTIFY).

The workers here poll only every ten minutes, so a job or a run taken well within that was handed over by
a notification. The listener survives its connection being killed (as by a PostgreSQL restart): it
reconnects, and what was queued meanwhile is looked at. On SQLite there is nothing to listen to: a wait is
the poll (the same suite runs on PostgreSQL in CI, where the notification tests run).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.deploy_worker import DeployWorker
from bot.runtime import Runtime
from bot.worker import Worker
from commands.framework.context import JobContext
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from core.config import Config
from core.deployments.status import ENDINGS
from core.jobs import queue as jobs
from core.queue import DEPLOYMENT_RUNS, JOBS
from core.queue.wake import Waker
from storage.db import Database
from storage.models import DeploymentRun, Job, JobStatus, utcnow
from tests.integration.test_deploy import UMA, deploy_button
from tests.integration.test_deploy import platform as platform
from tests.support.engines import embedded_terraform

LONG_POLL = 600.0
"""Seconds an idle worker here waits before it looks again on its own: far longer than any test."""
PATIENCE = 60.0
"""How long a test waits for what must happen (a guard against hanging, not a measured time)."""


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.01)


@pytest.fixture
def postgres(db: Database) -> Database:
    """The test database, when it is PostgreSQL (the notifications need it)."""
    if not db.is_postgres:
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL (CI runs this suite on PostgreSQL too)")
    return db


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def waker(postgres: Database, stop: threading.Event) -> Waker:
    """A started waker, listening."""
    started = Waker(postgres).start(stop)
    assert started.connected.wait(PATIENCE)
    return started


def recording_runtime(dispatcher: Dispatcher, config: Config) -> tuple[Runtime, list[Mapping[str, Any]]]:
    """A runtime whose registry has a ``test.record`` job that notes each payload it runs."""
    registry = dispatcher.registry.copy()
    ran: list[Mapping[str, Any]] = []

    @registry.job("test.record")
    def record(ctx: JobContext, payload: Mapping[str, Any]) -> None:
        ran.append(payload)

    @registry.job("test.kill_connections")
    def kill(ctx: JobContext, payload: Mapping[str, Any]) -> None:
        """What a PostgreSQL restart does to every other connection of the database: end it."""
        ctx.session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        ran.append(payload)

    return Runtime(config, dispatcher.db, registry, Dispatcher(registry, dispatcher.db, config)), ran


def idle_worker(runtime: Runtime, waker: Waker, stop: threading.Event) -> threading.Thread:
    """A job worker polling every ten minutes, started and waiting idle on the jobs queue."""
    worker = Worker(runtime, name="idle", poll_seconds=LONG_POLL)
    thread = threading.Thread(target=worker.run_forever, args=(stop, waker), daemon=True)
    thread.start()
    until(lambda: waker.waiting(JOBS) == 1, "the worker waiting idle")
    return thread


def test_a_queued_job_wakes_an_idle_worker(dispatcher: Dispatcher, config: Config, postgres: Database,
                                           waker: Waker, stop: threading.Event) -> None:
    runtime, ran = recording_runtime(dispatcher, config)
    idle_worker(runtime, waker, stop)
    with postgres.unit_of_work() as s:
        jobs.enqueue(s, "test.record", {"n": 1})
    until(lambda: ran == [{"n": 1}], "the job run")
    until(lambda: waker.waiting(JOBS) == 1, "the worker idle again")
    with postgres.unit_of_work() as s:
        assert s.scalars(select(Job.status)).one() == JobStatus.DONE


def test_only_what_can_be_claimed_now_wakes_its_queue(postgres: Database, waker: Waker) -> None:
    jobs_mark, runs_mark = waker.mark(JOBS), waker.mark(DEPLOYMENT_RUNS)
    with postgres.unit_of_work() as s:
        jobs.enqueue(s, "test.record", run_after=utcnow() + timedelta(hours=1))  # due later: the poll's
    with postgres.unit_of_work() as s:
        jobs.enqueue(s, "test.record")
    assert waker.wait(JOBS, jobs_mark, PATIENCE, threading.Event())
    assert waker.mark(JOBS) == jobs_mark + 1  # the due job alone, once
    assert waker.mark(DEPLOYMENT_RUNS) == runs_mark


def test_uncommitted_work_wakes_nobody(postgres: Database, waker: Waker) -> None:
    jobs_mark, runs_mark = waker.mark(JOBS), waker.mark(DEPLOYMENT_RUNS)
    with pytest.raises(RuntimeError), postgres.unit_of_work() as s:
        jobs.enqueue(s, "test.record")
        raise RuntimeError("rolled back")
    with postgres.unit_of_work() as s:  # notifications arrive in commit order: this one comes after
        s.execute(text("SELECT pg_notify('rad_deployment_runs', '')"))
    assert waker.wait(DEPLOYMENT_RUNS, runs_mark, PATIENCE, threading.Event())
    assert waker.mark(JOBS) == jobs_mark


def test_a_confirm_wakes_an_idle_deploy_worker(platform: Dispatcher, config: Config,
                                               postgres: Database, waker: Waker, stop: threading.Event) -> None:
    button = deploy_button(platform, UMA, "network-plan")
    runtime = Runtime(config, platform.db, platform.registry, platform)
    worker = DeployWorker(runtime, {}, name="idle-deploy", terraform=embedded_terraform)
    loop = threading.Thread(target=worker.run_forever, args=(stop, LONG_POLL, waker), daemon=True)
    loop.start()
    until(lambda: waker.waiting(DEPLOYMENT_RUNS) == 1, "the deploy worker waiting idle")
    platform.run_action(UMA, ActionEvent("deploy:confirm", button))

    def ended() -> bool:
        with postgres.unit_of_work() as s:
            return s.scalars(select(DeploymentRun.status)).one() in ENDINGS

    until(ended, "the run claimed and run")
    stop.set()
    loop.join(PATIENCE)


def test_the_listener_reconnects_after_its_connection_is_killed(
        dispatcher: Dispatcher, config: Config, postgres: Database, waker: Waker, stop: threading.Event) -> None:
    runtime, ran = recording_runtime(dispatcher, config)
    idle_worker(runtime, waker, stop)
    killed, mark = waker.backend_pid, waker.mark(JOBS)
    with postgres.unit_of_work() as s:
        assert s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed}).scalar()
    until(lambda: waker.connections == 2 and waker.connected.is_set(), "the listener reconnected")
    assert waker.backend_pid != killed
    assert waker.mark(JOBS) > mark  # reconnected, it woke the queue: what came meanwhile is looked at
    until(lambda: waker.waiting(JOBS) == 1, "the worker idle again")
    with postgres.unit_of_work() as s:
        jobs.enqueue(s, "test.record", {"after": "reconnect"})
    until(lambda: ran == [{"after": "reconnect"}], "the job queued after the reconnection run")


def test_every_connection_killed_under_load_loses_no_job(
        dispatcher: Dispatcher, config: Config, postgres: Database, waker: Waker, stop: threading.Event) -> None:
    """As a PostgreSQL restart does: the worker's and the listener's connections end while jobs are queued."""
    runtime, ran = recording_runtime(dispatcher, config)
    with postgres.unit_of_work() as s:
        for n in range(10):
            jobs.enqueue(s, "test.record", {"n": n})
        jobs.enqueue(s, "test.kill_connections", {"kill": True})
        for n in range(10, 20):
            jobs.enqueue(s, "test.record", {"n": n})
    idle_worker(runtime, waker, stop)  # it drains the queue, then waits
    until(lambda: waker.connections == 2, "the listener reconnected")
    with postgres.unit_of_work() as s:
        jobs.enqueue(s, "test.record", {"n": 20})

    def statuses() -> list[JobStatus]:
        with postgres.unit_of_work() as s:
            return list(s.scalars(select(Job.status)))

    until(lambda: statuses() == [JobStatus.DONE] * 22, "every job done")
    assert sorted(int(p["n"]) for p in ran if "n" in p) == list(range(21)) and len(ran) == 22


def test_on_sqlite_a_wait_is_the_poll(db: Database) -> None:
    if db.is_postgres:
        pytest.skip("the SQLite path")
    waker = Waker(db).start(threading.Event())
    mark = waker.mark(JOBS)
    with db.unit_of_work() as s:
        jobs.enqueue(s, "test.record")
    assert not waker.listens and not waker.wait(JOBS, mark, 0.01, threading.Event())
    assert waker.mark(JOBS) == mark and waker.connections == 0
