"""The job queue and the worker on a real database, including concurrent workers."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.scheduler import build_scheduler, run_housekeeping
from bot.worker import Worker
from commands.framework.context import JobContext
from commands.framework.dispatch import Dispatcher
from core.config import Config
from core.jobs import queue as jobs
from core.jobs.queue import JobStatus
from storage.db import Database
from storage.models import Delivery, Job, utcnow


def runtime_with(dispatcher: Dispatcher, config: Config) -> tuple[Runtime, list[Mapping[str, Any]]]:
    registry = dispatcher.registry.copy()
    ran: list[Mapping[str, Any]] = []
    lock = threading.Lock()

    @registry.job("test.record")
    def record(ctx: JobContext, payload: Mapping[str, Any]) -> None:
        with lock:
            ran.append(payload)

    @registry.job("test.fail")
    def explode(ctx: JobContext, payload: Mapping[str, Any]) -> None:
        raise ValueError("no good")

    return Runtime(config, dispatcher.db, registry, Dispatcher(registry, dispatcher.db, config)), ran


def test_worker_runs_a_job_once_and_marks_it_done(dispatcher: Dispatcher, config: Config, db: Database) -> None:
    runtime, ran = runtime_with(dispatcher, config)
    with db.unit_of_work() as s:
        jobs.enqueue(s, "test.record", {"n": 1})
    worker = Worker(runtime, name="w1")
    assert worker.run_once() and not worker.run_once()
    assert ran == [{"n": 1}]
    with db.unit_of_work() as s:
        job = s.scalars(select(Job)).one()
        assert (job.status, job.claimed_by, job.attempts) == (JobStatus.DONE, "w1", 1)


def test_a_job_queued_alone_is_committed_due_now_and_run_once(dispatcher: Dispatcher, config: Config,
                                                               db: Database) -> None:
    runtime, ran = runtime_with(dispatcher, config)
    before = utcnow()
    jobs.enqueue_alone(db, "test.record", {"n": 2})  # no unit of work around it: committed when it returns
    with db.read() as s:
        job = s.scalars(select(Job)).one()
        assert (job.kind, job.status, job.attempts, job.payload) == ("test.record", JobStatus.QUEUED, 0, {"n": 2})
        assert before <= job.run_after <= utcnow() and job.claimed_by == ""
    worker = Worker(runtime, name="w1")
    assert worker.run_once() and not worker.run_once()
    assert ran == [{"n": 2}]


def test_failures_are_retried_with_backoff_then_failed(dispatcher: Dispatcher, config: Config, db: Database) -> None:
    runtime, _ = runtime_with(dispatcher, config)
    now = [utcnow()]
    with db.unit_of_work() as s:
        jobs.enqueue(s, "test.fail", run_after=now[0])
    worker = Worker(runtime, name="w", clock=lambda: now[0])
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        assert worker.run_once()
        assert not worker.run_once()  # not due again until the backoff has passed
        now[0] += timedelta(minutes=attempt**2, seconds=1)
    with db.unit_of_work() as s:
        job = s.scalars(select(Job)).one()
        assert (job.status, job.attempts) == (JobStatus.FAILED, jobs.MAX_ATTEMPTS)
        assert "ValueError: no good" in job.error


def test_unknown_job_kind_fails_clearly(dispatcher: Dispatcher, config: Config, db: Database) -> None:
    runtime, _ = runtime_with(dispatcher, config)
    with db.unit_of_work() as s:
        jobs.enqueue(s, "no.such.kind")
    Worker(runtime).run_once()
    with db.unit_of_work() as s:
        assert "no handler for job kind 'no.such.kind'" in s.scalars(select(Job)).one().error


def test_concurrent_workers_run_every_job_exactly_once(dispatcher: Dispatcher, config: Config, db: Database) -> None:
    runtime, ran = runtime_with(dispatcher, config)
    with db.unit_of_work() as s:
        for n in range(40):
            jobs.enqueue(s, "test.record", {"n": n})
    workers = [Worker(runtime, name=f"w{i}") for i in range(4)]

    def drain(worker: Worker) -> None:
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(p["n"] for p in ran) == list(range(40))
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.DONE)) == 40


def test_a_job_left_running_by_a_dead_worker_is_failed(dispatcher: Dispatcher, config: Config, db: Database) -> None:
    runtime, _ = runtime_with(dispatcher, config)
    long_ago = utcnow() - jobs.LEASE - timedelta(minutes=1)
    with db.unit_of_work() as s:
        jobs.enqueue(s, "test.record", run_after=long_ago)
        assert jobs.claim(s, "dead-worker", long_ago) is not None
    with db.unit_of_work() as s:
        s.add(Delivery(key="old", at=utcnow() - timedelta(days=8)))
        s.add(Delivery(key="new"))
    counts = run_housekeeping(runtime)
    assert counts["abandoned_jobs"] == 1 and counts["deliveries"] == 1
    with db.unit_of_work() as s:
        assert s.scalars(select(Job)).one().status == JobStatus.FAILED
        assert [d.key for d in s.scalars(select(Delivery))] == ["new"]


def test_scheduler_holds_the_housekeeping_schedule(dispatcher: Dispatcher, config: Config) -> None:
    runtime, _ = runtime_with(dispatcher, config)
    scheduler = build_scheduler(runtime)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("housekeeping")
        assert job is not None and job.trigger.interval == timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=False)


def test_housekeeping_drops_stale_drafts_and_their_secrets(dispatcher: Dispatcher, config: Config,
                                                           db: Database) -> None:
    from core import secrets
    from storage.models import DeployDraft, Module, StoredSecret, User

    runtime, _ = runtime_with(dispatcher, config)
    old = utcnow() - timedelta(days=2)
    with db.unit_of_work() as s:
        user = User(display_name="x")
        module = Module(name="m", source="platform", commit="c")
        s.add_all([user, module])
        s.flush()
        sealed = secrets.store(s, dispatcher.services.secrets, kind="deploy_draft", plaintext="{}",
                               owner_id=user.id, now=old)
        s.add(DeployDraft(token="old", user_id=user.id, module_id=module.id, commit="c", secret_id=sealed.id,
                          created_at=old))
        s.add(DeployDraft(token="new", user_id=user.id, module_id=module.id, commit="c"))
    counts = run_housekeeping(runtime)
    assert counts["deploy_drafts"] == 1 and counts["draft_secrets"] == 1
    with db.unit_of_work() as s:
        assert [d.token for d in s.scalars(select(DeployDraft))] == ["new"]
        assert s.scalars(select(StoredSecret)).all() == []
