"""A job queue in the database: enqueue, claim (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), finish, retry.

Several workers on several machines can share one database: a queued job is claimed by exactly one.
A job whose worker died (claimed longer ago than the lease) is failed, never left running.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Job, JobStatus

__all__ = ["LEASE", "MAX_ATTEMPTS", "JobStatus", "claim", "claim_id", "enqueue", "enqueue_alone", "fail",
           "fail_abandoned", "finish"]

MAX_ATTEMPTS = 3
LEASE = timedelta(minutes=30)


def enqueue(session: Session, kind: str, payload: dict[str, Any] | None = None, *,
            run_after: datetime | None = None) -> Job:
    """Queue a job of ``kind`` with its payload, due now or at ``run_after``."""
    job = Job(kind=kind, payload=payload or {})
    if run_after is not None:
        job.run_after = run_after
    session.add(job)
    session.flush()
    return job


def enqueue_alone(db: Database, kind: str, payload: dict[str, Any]) -> None:
    """Queue a job due now in one statement committed on its own, outside any unit of work.

    The Slack ack path's write: one INSERT without the ORM's flush and, on PostgreSQL, without a ``BEGIN`` and
    ``COMMIT`` round trip; the job is committed when this returns.
    """
    with db.autocommit() as connection:
        connection.execute(insert(Job), {"kind": kind, "payload": payload})


def claim(session: Session, worker: str, now: datetime) -> Job | None:
    """Take the oldest due job for ``worker``; None when nothing is due."""
    query = (
        select(Job)
        .where(Job.status == JobStatus.QUEUED, Job.run_after <= now)
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    job = session.scalars(query).first()
    if job is None:
        return None
    job.status, job.claimed_by, job.claimed_at = JobStatus.RUNNING, worker, now
    job.attempts += 1
    session.flush()
    return job


def claim_id(session: Session, job_id: int, worker: str, now: datetime,
             statuses: tuple[JobStatus, ...] = (JobStatus.QUEUED,)) -> Job | None:
    """Take the job ``job_id`` for ``worker`` if it is in one of ``statuses``, due or not.

    None when another worker has it or it is done. For a reader that delivers only the rows it alone can
    (a console's messages to its user).
    """
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(statuses))
        .values(status=JobStatus.RUNNING, claimed_by=worker, claimed_at=now, attempts=Job.attempts + 1)
    )
    if not getattr(claimed, "rowcount", 0):
        return None
    return session.get(Job, job_id, populate_existing=True)


def finish(session: Session, job: Job, now: datetime) -> None:
    """Mark the job done."""
    job.status, job.finished_at, job.error = JobStatus.DONE, now, ""
    session.flush()


def fail(session: Session, job: Job, error: str, now: datetime) -> bool:
    """Record a failure; retried with backoff (1, 4, 9 minutes...) until MAX_ATTEMPTS. True if retried."""
    job.error = error[-2000:]
    if job.attempts < MAX_ATTEMPTS:
        job.status, job.run_after = JobStatus.QUEUED, now + timedelta(minutes=job.attempts**2)
        session.flush()
        return True
    job.status, job.finished_at = JobStatus.FAILED, now
    session.flush()
    return False


def fail_abandoned(session: Session, now: datetime) -> int:
    """Fail jobs whose worker stopped answering (claimed before the lease); returns how many."""
    result = session.execute(
        update(Job)
        .where(Job.status == JobStatus.RUNNING, Job.claimed_at < now - LEASE)
        .values(status=JobStatus.FAILED, finished_at=now, error="the worker running this job stopped")
    )
    return int(getattr(result, "rowcount", 0) or 0)
