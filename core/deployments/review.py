"""Plan review: a run's saved plan waits for Apply or Discard, and only that plan is ever applied.

Updates and destroys (and creates, with the ``review_creates`` setting) are planned first. The saved plan is
sealed in the database like the state (it can hold sensitive values); the run waits PLANNED with the state's
serial and lineage it was made on. Apply (the owner or an admin, checked here on every click) queues the apply
of exactly that plan, once: a second click is told it was already applied. A plan whose state moved, or whose
module was published again since, is refused as STALE; one nobody reviewed within ``plan_review_hours`` EXPIRES.
A plan that is not applied changes nothing: the deployment gets its previous inputs and status back (the run
keeps the proposal, so it can be planned again), and a create's hold is released.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import ADMIN
from core.deployments import service as deployments
from core.deployments.holds import settle
from core.deployments.pending import PLAN_KIND, forget_plan, swap
from core.deployments.status import NOT_APPLIED, DeploymentAction, DeploymentRunStatus, DeploymentStatus
from core.errors import Conflict, NotFound
from core.secrets import SecretBox, reveal, store
from core.settings.platform import plan_review_hours
from storage.models import Deployment, DeploymentRun, Module, StoredSecret, User

NO_CHANGES = "no changes"
"""The plan summary kept for a run whose plan changed nothing (and so applied nothing)."""


class Outcome(StrEnum):
    """What a click on Apply or Discard did."""

    APPLIED = "applied"
    DISCARDED = "discarded"
    ALREADY_APPLIED = "already applied"
    ALREADY_DISCARDED = "already discarded"
    EXPIRED = "expired"
    STALE = "stale"


@dataclass(frozen=True)
class StateVersion:
    """Which state a plan was made on: Terraform's ``lineage`` and ``serial`` (None before the first state)."""

    serial: int | None
    lineage: str


@dataclass(frozen=True)
class Review:
    """The answer to a click: the outcome, the run and its deployment, and why a plan was refused."""

    outcome: Outcome
    run: DeploymentRun
    deployment: Deployment
    reason: str = ""


def state_version(state: bytes | None) -> StateVersion:
    """The serial and lineage of a Terraform state file (None and ``""`` when there is none or it is unreadable)."""
    if not state:
        return StateVersion(None, "")
    try:
        parsed = json.loads(state)
    except ValueError:
        return StateVersion(None, "")
    serial = parsed.get("serial") if isinstance(parsed, dict) else None
    lineage = parsed.get("lineage") if isinstance(parsed, dict) else None
    return StateVersion(serial if isinstance(serial, int) else None, lineage if isinstance(lineage, str) else "")


def current_state(session: Session, box: SecretBox, deployment: Deployment) -> StateVersion:
    """The version of the deployment's state as the database holds it now."""
    row = session.get(StoredSecret, deployment.state_secret_id) if deployment.state_secret_id else None
    return state_version(reveal(box, row).encode() if row is not None else None)


def planned(session: Session, box: SecretBox, run_id: int, plan: bytes, summary: str, log: str,
            version: StateVersion, now: datetime) -> Deployment | None:
    """Park a planned run for its review: the plan sealed, the state it was made on, when it expires.

    Returns the deployment, or None when the run is no longer the worker's (it was failed as abandoned).
    """
    run = session.get_one(DeploymentRun, run_id, with_for_update=True)
    deployment = session.get_one(Deployment, run.deployment_id, with_for_update=True)
    if run.status != DeploymentRunStatus.WORKING:
        return None
    row = store(session, box, kind=PLAN_KIND, plaintext=base64.b64encode(plan).decode(), owner_id=deployment.owner_id,
                now=now)
    run.status, run.plan_secret_id, run.claimed_by = DeploymentRunStatus.PLANNED, row.id, ""
    run.state_serial, run.state_lineage = version.serial, version.lineage
    run.plan_summary, run.log = summary[:200], log[-200_000:]
    run.expires_at = now + timedelta(hours=plan_review_hours(session))
    deployment.status = DeploymentStatus.AWAITING_REVIEW
    session.flush()
    return deployment


def may_review(user: User, deployment: Deployment) -> bool:
    """Whether ``user`` may apply or discard the deployment's plans: its owner or an admin."""
    return deployment.owner_id == user.id or ADMIN in user.role_names


def find_run(session: Session, actor: User, run_id: str) -> tuple[DeploymentRun, Deployment]:
    """The reviewed run ``run_id`` (a button's value) and its deployment, locked, if ``actor`` may manage it.

    Raises:
        NotFound: no such run, or its deployment is not one ``actor`` may see.
        NotAllowed: ``actor`` may see it but is neither its owner nor an admin.
    """
    wanted = run_id.strip()
    run = session.get(DeploymentRun, int(wanted), with_for_update=True) \
        if wanted.isascii() and wanted.isdigit() and len(wanted) <= 9 else None  # a forged value finds nothing
    if run is None or not run.review:
        raise NotFound("This plan is gone.", hint="Run `/rad deployments` to see where your deployments are.")
    deployment = session.get_one(Deployment, run.deployment_id, with_for_update=True)
    deployments.find(session, actor, deployment.short_id)  # visible to the actor?
    deployments.require_manager(actor, deployment, "review a plan of")
    return run, deployment


def _settled(run: DeploymentRun, deployment: Deployment) -> Review | None:
    """The answer for a run whose review is over already (None while it waits)."""
    if run.status == DeploymentRunStatus.PLANNED:
        return None
    if run.status == DeploymentRunStatus.DISCARDED:
        return Review(Outcome.ALREADY_DISCARDED, run, deployment)
    if run.status == DeploymentRunStatus.EXPIRED:
        return Review(Outcome.EXPIRED, run, deployment, run.error)
    if run.status == DeploymentRunStatus.STALE:
        return Review(Outcome.STALE, run, deployment, run.error)
    return Review(Outcome.ALREADY_APPLIED, run, deployment)


def apply(session: Session, box: SecretBox, actor: User, run_id: str, now: datetime) -> Review:
    """Apply the reviewed plan: queue the apply of exactly that plan for a worker, once.

    A plan that expired, whose state moved or whose module was published again since is not applied: the
    review says why, and the deployment is as it was before the plan.
    """
    run, deployment = find_run(session, actor, run_id)
    done = _settled(run, deployment)
    if done is not None:
        return done
    if run.expires_at is not None and run.expires_at <= now:
        _not_applied(session, run, deployment, DeploymentRunStatus.EXPIRED, expired_reason(run), now)
        return Review(Outcome.EXPIRED, run, deployment, run.error)
    reason = stale_reason(session, box, run, deployment)
    if reason:
        _not_applied(session, run, deployment, DeploymentRunStatus.STALE, reason, now)
        audit.record(session, actor, "deployment.plan.stale", target=deployment.short_id, run=run.id)
        return Review(Outcome.STALE, run, deployment, reason)
    run.status, run.reviewed_by, run.reviewed_at = DeploymentRunStatus.APPROVED, actor.id, now
    deployment.status = (DeploymentStatus.DELETING if run.action == DeploymentAction.DESTROY
                         else DeploymentStatus.QUEUED)
    audit.record(session, actor, "deployment.plan.apply", target=deployment.short_id, run=run.id,
                 plan=run.plan_summary)
    session.flush()
    return Review(Outcome.APPLIED, run, deployment)


def discard(session: Session, actor: User, run_id: str, now: datetime) -> Review:
    """Discard the reviewed plan: nothing is applied, the deployment is as it was (a create's hold released)."""
    run, deployment = find_run(session, actor, run_id)
    done = _settled(run, deployment)
    if done is not None:
        return done
    run.reviewed_by, run.reviewed_at = actor.id, now
    _not_applied(session, run, deployment, DeploymentRunStatus.DISCARDED, "", now)
    audit.record(session, actor, "deployment.plan.discard", target=deployment.short_id, run=run.id)
    return Review(Outcome.DISCARDED, run, deployment)


def expired_reason(run: DeploymentRun) -> str:
    """Why an expired plan was not applied."""
    return "Nobody applied this plan in time" + (f" (it expired {run.expires_at:%Y-%m-%d %H:%M} UTC)."
                                                  if run.expires_at else ".")


def stale_reason(session: Session, box: SecretBox, run: DeploymentRun, deployment: Deployment) -> str:
    """Why the plan no longer fits the deployment ("" when it still does).

    Its state moved, or (not for a destroy, which runs the pinned code) its module was published again or
    removed since.
    """
    now_version = current_state(session, box, deployment)
    if (now_version.serial, now_version.lineage) != (run.state_serial, run.state_lineage):
        return "The deployment's state changed after this plan was made."
    if run.action == DeploymentAction.DESTROY:
        return ""
    module = session.get(Module, deployment.module_id) if deployment.module_id else None
    if module is None:
        return f"The module `{deployment.module_name}` was removed from the catalog after this plan was made."
    if module.commit != deployment.commit:
        return f"`{module.name}` was published again (`{module.commit[:7]}`) after this plan was made."
    return ""


def _not_applied(session: Session, run: DeploymentRun, deployment: Deployment, status: DeploymentRunStatus,
                 reason: str, now: datetime) -> None:
    """End a reviewed run without applying it; the deployment returns to how it was before the run."""
    run.status, run.finished_at, run.error = status, now, reason
    forget_plan(session, run)
    if run.action == DeploymentAction.UPDATE and run.other_inputs:
        swap(run, deployment)
    if run.action == DeploymentAction.CREATE:
        settle(session, deployment, spend=False)
    deployment.status = run.resume_status or (DeploymentStatus.CANCELLED if run.action == DeploymentAction.CREATE
                                              else DeploymentStatus.SUCCESS)
    session.flush()


def expire(session: Session, now: datetime) -> list[tuple[DeploymentRun, Deployment]]:
    """Plans nobody reviewed in time: EXPIRED, nothing applied, a create's hold released; the runs and deployments."""
    due = session.scalars(select(DeploymentRun).where(DeploymentRun.status == DeploymentRunStatus.PLANNED,
                                                      DeploymentRun.expires_at <= now)
                          .with_for_update(skip_locked=True)).all()
    gone = []
    for run in due:
        deployment = session.get_one(Deployment, run.deployment_id, with_for_update=True)
        _not_applied(session, run, deployment, DeploymentRunStatus.EXPIRED, expired_reason(run), now)
        audit.record(session, None, "deployment.plan.expire", target=deployment.short_id, run=run.id)
        gone.append((run, deployment))
    return gone


def plan_again(session: Session, actor: User, run_id: str, now: datetime) -> DeploymentRun:
    """Plan a refused (expired, stale or discarded) update or destroy again; the new plan waits for review.

    An update is planned with the inputs it proposed, at its module's current commit.

    Raises:
        Conflict: the plan is not over, another run came since, or it was a create (use Retry: it costs).
        NotFound: the module of an update is no longer published.
    """
    run, deployment = find_run(session, actor, run_id)
    if run.status not in NOT_APPLIED:
        raise Conflict("This plan is not over: apply or discard it first.")
    latest = session.scalars(select(DeploymentRun.id).where(DeploymentRun.deployment_id == deployment.id)
                             .order_by(DeploymentRun.id.desc()).limit(1)).one()
    if latest != run.id:
        raise Conflict(f"Deployment `{deployment.short_id}` was planned again since.",
                       hint=f"Run `/rad deployment {deployment.short_id}`.")
    if run.action == DeploymentAction.CREATE:
        raise Conflict("A create is deployed again with Retry (it shows the cost).",
                       hint=f"Run `/rad deployment {deployment.short_id}`.")
    if run.action == DeploymentAction.DESTROY:
        return deployments.queue_destroy(session, actor, deployment, now)
    module = session.get(Module, deployment.module_id) if deployment.module_id else None
    if module is None:
        raise NotFound(f"The module `{deployment.module_name}` is no longer published.")
    proposal: Mapping[str, Any] = dict(run.other_inputs)
    secret = run.other_secret_id
    run.other_secret_id, run.other_inputs = None, {}
    again = deployments.requeue_update(session, actor, deployment, module, now)
    deployment.inputs = dict(proposal.get("inputs") or deployment.inputs)
    deployment.secret_inputs_id = secret
    audit.record(session, actor, "deployment.plan.again", target=deployment.short_id, run=again.id)
    return again


def dependents(session: Session, deployment: Deployment) -> list[Deployment]:
    """The owner's live deployments whose module depends on this deployment's module (by catalog key)."""
    key = Module.key_for(deployment.module_name)
    rows = session.scalars(select(Deployment).join(Module, Module.id == Deployment.module_id).where(
        Deployment.owner_id == deployment.owner_id, Deployment.id != deployment.id,
        Deployment.status.not_in((DeploymentStatus.DELETED, DeploymentStatus.CANCELLED)))
        .order_by(Deployment.id)).all()
    return [d for d in rows if _depends(session, d, key)]


def _depends(session: Session, deployment: Deployment, key: str) -> bool:
    module = session.get(Module, deployment.module_id) if deployment.module_id else None
    return module is not None and any(Module.key_for(name) == key for name in module.dependencies)
