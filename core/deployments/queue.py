"""The workers' side of deployments: claim a queued run, beat its heartbeat, record its end, fail the abandoned.

Runs are rows: a worker claims one with ``FOR UPDATE SKIP LOCKED`` (never a second run of a deployment that
has one WORKING) and beats a heartbeat while it runs, so a run whose worker died is failed (INTERNAL_ERROR),
never left WORKING. A CREATE that ends in SUCCESS spends the deployment's hold; any other end releases it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from core.deployments.holds import settle
from core.deployments.pending import forget_plan, swap
from core.deployments.status import ENDINGS, DeploymentAction, DeploymentRunStatus, DeploymentStatus
from storage.models import Deployment, DeploymentRun, Module

HEARTBEAT_LEASE = timedelta(minutes=2)
CLAIMABLE = (DeploymentRunStatus.QUEUED, DeploymentRunStatus.APPROVED)
"""Runs a worker may take: queued ones, and reviewed plans waiting to be applied."""
CLAIM_TRIES = 5
"""Queued runs a worker looks at per claim before it leaves the rest to the next poll."""


@dataclass(frozen=True)
class Claimed:
    """A run just claimed, with its deployment and module (None once removed), read in the claiming statement."""

    run: DeploymentRun
    deployment: Deployment
    module: Module | None


def claim(session: Session, worker: str, now: datetime) -> Claimed | None:
    """The oldest queued run (or reviewed plan to apply), now WORKING for ``worker``; None when nothing can be claimed.

    One statement locks the run and its deployment (``SKIP LOCKED``: a deployment another transaction holds is
    passed over) and reads its module. A run whose deployment has a WORKING run, checked once both are locked,
    is left queued: one run at a time per deployment, also between workers claiming at the same moment.
    """
    passed: list[int] = []
    for _ in range(CLAIM_TRIES):
        row = session.execute(
            select(DeploymentRun, Deployment, Module)
            .join(Deployment, Deployment.id == DeploymentRun.deployment_id)
            .outerjoin(Module, Module.id == Deployment.module_id)
            .where(DeploymentRun.status.in_(CLAIMABLE), DeploymentRun.id.not_in(passed))
            .order_by(DeploymentRun.id).limit(1)
            .with_for_update(skip_locked=True, of=(DeploymentRun, Deployment))
            .execution_options(populate_existing=True)).first()
        if row is None:
            return None
        run, deployment, module = row
        if _working(session, deployment.id):
            passed.append(run.id)
            continue
        run.status, run.claimed_by, run.started_at, run.heartbeat_at = DeploymentRunStatus.WORKING, worker, now, now
        deployment.status = (DeploymentStatus.DELETING if run.action == DeploymentAction.DESTROY
                             else DeploymentStatus.WORKING)
        session.flush()
        return Claimed(run, deployment, module)
    return None


def claim_run(session: Session, worker: str, now: datetime) -> DeploymentRun | None:
    """The run :func:`claim` takes, alone."""
    claimed = claim(session, worker, now)
    return claimed.run if claimed is not None else None


def _working(session: Session, deployment_id: int) -> bool:
    return session.scalar(select(exists().where(DeploymentRun.deployment_id == deployment_id,
                                                DeploymentRun.status == DeploymentRunStatus.WORKING))) or False


def beat(session: Session, run_id: int, worker: str, now: datetime) -> bool:
    """Renew the run's lease; False when the run is no longer ``worker``'s (finished, or failed as abandoned)."""
    run = session.get(DeploymentRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.status != DeploymentRunStatus.WORKING or run.claimed_by != worker:
        return False
    run.heartbeat_at = now
    return True


@dataclass(frozen=True)
class Finished:
    """What a run ended with, as the worker reports it; ``status`` is one of :data:`ENDINGS`."""

    status: DeploymentRunStatus
    plan: str = ""
    outputs: Mapping[str, Any] | None = None
    error: str = ""
    log: str = ""

    def __post_init__(self) -> None:
        if self.status not in ENDINGS:
            raise ValueError(f"A run does not end {self.status!r}; it ends " + ", ".join(sorted(ENDINGS)) + ".")
        object.__setattr__(self, "status", DeploymentRunStatus(self.status))


def finish_run(session: Session, run_id: int, result: Finished, now: datetime) -> Deployment:
    """Record a run's end: statuses, outputs, and the hold spent (CREATE + SUCCESS) or released."""
    run, deployment = session.execute(
        select(DeploymentRun, Deployment).join(Deployment, Deployment.id == DeploymentRun.deployment_id)
        .where(DeploymentRun.id == run_id).with_for_update().execution_options(populate_existing=True)).one()
    if run.status != DeploymentRunStatus.WORKING:
        return deployment  # already finished (e.g. failed as abandoned): never settle twice
    run.status, run.finished_at = result.status, now
    run.plan_summary = result.plan[:200] or run.plan_summary
    run.error, run.log = result.error, ((run.log + "\n" if run.log else "") + result.log)[-200_000:]
    if (result.status != DeploymentRunStatus.SUCCESS and run.review and run.reviewed_at is None
            and run.action == DeploymentAction.UPDATE and run.other_inputs):
        swap(run, deployment)  # its plan failed, so nothing changed: the deployment keeps the version it runs
    forget_plan(session, run, proposal=True)
    ok = result.status == DeploymentRunStatus.SUCCESS
    ended = DeploymentStatus(result.status)
    if run.action == DeploymentAction.DESTROY:
        deployment.status = DeploymentStatus.DELETED if ok else ended
        deployment.deleted_at = now if ok else None
        if ok:
            deployment.outputs = {}
    else:
        deployment.status = ended
        if ok and result.outputs is not None:
            deployment.outputs = dict(result.outputs)
    if run.action == DeploymentAction.CREATE:
        settle(session, deployment, spend=ok)
        if ok and deployment.module_id:
            session.execute(update(Module).where(Module.id == deployment.module_id)
                            .values(deployment_count=Module.deployment_count + 1))
    session.flush()
    return deployment


def fail_abandoned(session: Session, now: datetime) -> list[str]:
    """Runs whose worker stopped beating: INTERNAL_ERROR, holds released. Returns the deployments' short ids."""
    stale = session.scalars(select(DeploymentRun).where(DeploymentRun.status == DeploymentRunStatus.WORKING,
                                                        DeploymentRun.heartbeat_at < now - HEARTBEAT_LEASE)
                            .with_for_update(skip_locked=True)).all()
    failed = []
    for run in stale:
        deployment = finish_run(session, run.id, Finished(DeploymentRunStatus.INTERNAL_ERROR,
                                                          error="the worker running it stopped"), now)
        failed.append(deployment.short_id)
    return failed
