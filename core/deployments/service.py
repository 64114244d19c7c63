"""What users do with deployments: quote, create (with a credit hold), update, destroy, cancel, purge, rate.

Deploying checks dependencies and credits, then reserves the cost as a hold. A successful CREATE turns the
hold into a SPEND exactly once; failure, timeout or cancel releases it. A CREATE that never succeeded stays a
create: applying that deployment again (Update or Retry) takes a new hold and queues a CREATE. Updates of a
created deployment and destroys are not charged. The workers' side (claiming and finishing runs) is
``core.deployments.queue``.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import ADMIN, FINANCE
from core.conversations import ConversationRef
from core.credits import service as credits
from core.credits.ledger import find_by_key
from core.credits.service import Balance
from core.deployments import pending
from core.deployments.holds import hold_key, settle
from core.deployments.status import ACTIVE, OPEN_RUNS, DeploymentAction, DeploymentRunStatus, DeploymentStatus
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.secrets import SecretBox, open_json, replace_json
from core.settings.platform import credits_enabled
from storage.models import Deployment, DeploymentRun, Module, User

SHORT_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
Q = TypeVar("Q", bound=Select[Any])


@dataclass(frozen=True)
class Dependency:
    """A module the deployed one depends on, and whether the user has a successful deployment of it."""
    name: str
    satisfied: bool


@dataclass(frozen=True)
class Quote:
    """What deploying a module costs this user, and whether they can afford it."""

    cost: Decimal
    purchased_only: bool
    balance: Balance
    free_reason: str

    @property
    def available(self) -> Decimal:
        """The credits that can pay: purchased only when the module asks for them, else all available."""
        return self.balance.available_purchased if self.purchased_only else self.balance.available_total

    @property
    def enough(self) -> bool:
        """Whether the available credits cover the cost."""
        return self.cost <= self.available

    @property
    def shortage_code(self) -> str:
        """The code a refusal names: not enough purchased credits, or not enough credits in all."""
        return "INSUFFICIENT_PURCHASED_CREDITS" if self.purchased_only else "INSUFFICIENT_TOTAL_CREDITS"


def dependencies(session: Session, user: User, module: Module) -> list[Dependency]:
    """Each ``module_dependency`` and whether the user has a successful deployment of it.

    Names are compared by their catalog key, so ``net_plan`` is satisfied by a deployment of ``Net-Plan``.
    """
    wanted = {Module.key_for(name) for name in module.dependencies}
    if not wanted:
        return []
    key = func.lower(func.replace(Deployment.module_name, "_", "-"))  # Module.key_for in SQL (names are ASCII)
    done = {Module.key_for(name) for name in session.scalars(
        select(Deployment.module_name).distinct().where(Deployment.owner_id == user.id,
                                                        Deployment.status == DeploymentStatus.SUCCESS,
                                                        key.in_(sorted(wanted))))}
    return [Dependency(name, Module.key_for(name) in done) for name in module.dependencies]


def quote(session: Session, user: User, module: Module) -> Quote:
    """The cost (0 for a partner's own module, or with credits off) and the balance that pays it."""
    free = ("your own module" if module.owner_id == user.id else
            "credits are off" if not credits_enabled(session) else "")
    cost = Decimal(0) if free else Decimal(module.credit_cost)
    return Quote(cost, module.require_credit_purchases, credits.balance(session, user), free)


def new_short_id(session: Session) -> str:
    """A 4-character id no deployment has (longer if four are crowded)."""
    for length in (4, 4, 4, 4, 6, 8):
        candidate = "".join(random.choice(SHORT_ALPHABET) for _ in range(length))
        if session.scalars(select(Deployment.id).where(Deployment.short_id == candidate)).first() is None:
            return candidate
    raise Conflict("Could not find a free deployment id.", hint="Try again.")


def create(session: Session, box: SecretBox, actor: User, module: Module, values: Mapping[str, Any],
           sensitive: Mapping[str, Any], key: str, now: datetime, where: ConversationRef | None = None,
           ) -> Deployment:
    """Check dependencies, hold the cost and queue the CREATE run; ``key`` makes a double confirm one deployment."""
    existing = session.scalars(select(Deployment).where(Deployment.hold_key == hold_key(key))).one_or_none()
    if existing is not None:
        return existing
    _require_fresh(session, key)
    short = new_short_id(session)
    held, price = _hold_cost(session, actor, module, key, short)
    deployment = Deployment(short_id=short, module_id=module.id, module_name=module.name, owner_id=actor.id,
                            status=DeploymentStatus.QUEUED, action=DeploymentAction.CREATE, commit=module.commit,
                            inputs=dict(values), source_files=dict(module.files),
                            source_platform=module.source == "platform", credit_cost=price.cost, hold_key=held.key,
                            created_at=now, **_chat_columns(where))
    _seal_inputs(session, box, deployment, sensitive, actor, now)
    session.add(deployment)
    session.flush()
    run = DeploymentRun(deployment_id=deployment.id, action=DeploymentAction.CREATE,
                        status=DeploymentRunStatus.QUEUED, created_at=now)
    pending.start(session, run, None)
    session.add(run)
    audit.record(session, actor, "deployment.create", target=short, module=module.name, cost=str(price.cost))
    return deployment


def _hold_cost(session: Session, actor: User, module: Module, key: str, short: str) -> tuple[credits.Hold, Quote]:
    """Refuse missing dependencies, then hold what deploying ``module`` costs ``actor`` (under ``key``)."""
    missing = [d.name for d in dependencies(session, actor, module) if not d.satisfied]
    if missing:
        raise Conflict(f"`{module.name}` needs " + ", ".join(f"`{m}`" for m in missing) + " deployed first.",
                       hint="Deploy the dependencies, then try again.")
    price = quote(session, actor, module)
    held = credits.hold(session, actor, price.cost, purchased_only=module.require_credit_purchases,
                        key=hold_key(key), deployment=short, module=module.name)
    return held, price


def _require_fresh(session: Session, key: str) -> None:
    """Refuse a confirmation whose hold exists while no deployment holds it (deployed again since)."""
    if find_by_key(session, hold_key(key)) is not None:
        raise Conflict("This confirmation was already used.", hint="Open the deployment to retry it.")


def _chat_columns(where: ConversationRef | None) -> dict[str, str]:
    """Where the deployment's status message goes (its message id is added once it is posted)."""
    if where is None:
        return {}
    return {"chat_platform": where.platform, "chat_workspace": where.workspace, "chat_channel": where.channel,
            "chat_thread": where.thread}


def chat_ref(deployment: Deployment) -> ConversationRef:
    """The deployment's status message (or, before it is posted, the conversation it goes to)."""
    return ConversationRef(deployment.chat_platform, deployment.chat_workspace, deployment.chat_channel,
                           deployment.chat_thread, deployment.chat_message)


def _seal_inputs(session: Session, box: SecretBox, deployment: Deployment, sensitive: Mapping[str, Any],
                 actor: User, now: datetime) -> None:
    deployment.secret_inputs_id = replace_json(session, box, deployment.secret_inputs_id, sensitive,
                                               kind="deployment_inputs", owner_id=actor.id, now=now)


def sensitive_inputs(session: Session, box: SecretBox, deployment: Deployment) -> dict[str, Any]:
    """The sealed inputs, opened for a run; never log or show them."""
    return open_json(session, box, deployment.secret_inputs_id)


def _visible(query: Q, user: User, everyone: bool, leaving_out: Collection[DeploymentStatus]) -> Q:
    """``query`` narrowed to the deployments ``user`` lists: theirs (everyone's for admins and finance asking)."""
    if not (everyone and {ADMIN, FINANCE} & user.role_names):
        query = query.where(Deployment.owner_id == user.id)
    if leaving_out:
        query = query.where(Deployment.status.not_in(tuple(leaving_out)))
    return query


def visible(session: Session, user: User, *, everyone: bool = False, limit: int, offset: int = 0,
            leaving_out: Collection[DeploymentStatus] = ()) -> list[Deployment]:
    """One page of the user's deployments, newest first (read in SQL: ``limit`` rows from ``offset``).

    Admins and finance may ask for everyone's; ``leaving_out`` drops deployments in those states.
    """
    query = _visible(select(Deployment), user, everyone, leaving_out).order_by(Deployment.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_visible(session: Session, user: User, *, everyone: bool = False,
                  leaving_out: Collection[DeploymentStatus] = ()) -> int:
    """How many deployments :func:`visible` pages over."""
    return int(session.scalar(_visible(select(func.count(Deployment.id)), user, everyone, leaving_out)) or 0)


def others_visible(session: Session, user: User) -> bool:
    """Whether ``user`` (admin or finance) sees deployments of anyone else when asking for everyone's."""
    if not {ADMIN, FINANCE} & user.role_names:
        return False
    return session.scalar(select(exists().where(Deployment.owner_id != user.id))) is True


def find(session: Session, user: User, short_id: str) -> Deployment:
    """A deployment the user may see (theirs; any for admins and finance)."""
    deployment = session.scalars(select(Deployment).where(Deployment.short_id == short_id.strip().lower())
                                 ).one_or_none()
    if deployment is None or (deployment.owner_id != user.id and not {ADMIN, FINANCE} & user.role_names):
        raise NotFound(f"There is no deployment `{short_id.strip()}`.", hint="Run `/rad deployments`.")
    return deployment


def require_manager(user: User, deployment: Deployment, what: str) -> None:
    """Refuse (NotAllowed) unless ``user`` owns the deployment or is an admin; ``what`` names the act."""
    if deployment.owner_id != user.id and ADMIN not in user.role_names:
        raise NotAllowed(f"Only the owner or an admin can {what} this deployment.")


def require_applier(session: Session, user: User, deployment: Deployment) -> bool:
    """Check ``user`` may apply the deployment again; True when that is a (charged) CREATE.

    A deployment never created is charged to its owner, so only the owner may deploy it again.
    """
    require_manager(user, deployment, "update")
    if created(session, deployment):
        return False
    if deployment.owner_id != user.id:
        raise NotAllowed(f"Deployment `{deployment.short_id}` was never created; only its owner can deploy it "
                         "again, since it is charged to them.")
    return True


def created(session: Session, deployment: Deployment) -> bool:
    """Whether a CREATE run of the deployment ever succeeded (only then are its updates free)."""
    return session.scalar(select(exists().where(DeploymentRun.deployment_id == deployment.id,
                                                DeploymentRun.action == DeploymentAction.CREATE,
                                                DeploymentRun.status == DeploymentRunStatus.SUCCESS))) or False


def _lock(session: Session, deployment: Deployment) -> None:
    """Reload the deployment locked, so concurrent confirms on it queue one after another."""
    session.refresh(deployment, with_for_update=True)


def _queue(session: Session, deployment: Deployment, action: DeploymentAction, now: datetime) -> DeploymentRun:
    busy = session.scalar(select(exists().where(DeploymentRun.deployment_id == deployment.id,
                                                DeploymentRun.status.in_(OPEN_RUNS))))
    if deployment.status == DeploymentStatus.AWAITING_REVIEW:
        raise Conflict(f"A plan of deployment `{deployment.short_id}` waits for review.",
                       hint=f"Apply or discard it first: `/rad deployment {deployment.short_id}`.")
    if deployment.status in ACTIVE or busy:
        raise Conflict(f"Deployment `{deployment.short_id}` is {deployment.status.lower()} right now.",
                       hint="Wait for it to finish.")
    if deployment.status in (DeploymentStatus.DELETED, DeploymentStatus.CANCELLED):
        raise Conflict(f"Deployment `{deployment.short_id}` is {deployment.status.lower()}.")
    before = deployment.status
    deployment.status = DeploymentStatus.DELETING if action == DeploymentAction.DESTROY else DeploymentStatus.QUEUED
    deployment.action = action
    run = DeploymentRun(deployment_id=deployment.id, action=action, status=DeploymentRunStatus.QUEUED, created_at=now)
    pending.start(session, run, before)
    session.add(run)
    session.flush()
    return run


def queue_update(session: Session, box: SecretBox, actor: User, deployment: Deployment, values: Mapping[str, Any],
                 sensitive: Mapping[str, Any], key: str, now: datetime) -> DeploymentRun:
    """Re-run with new inputs at the module's current commit.

    A created deployment is updated, not charged. One whose CREATE never succeeded is created again: its
    owner's credits are held anew (under ``key``, so a double confirm is one hold and one run) and spent
    once that CREATE succeeds.
    """
    require_manager(actor, deployment, "update")
    _lock(session, deployment)
    again = require_applier(session, actor, deployment)
    module = session.get(Module, deployment.module_id) if deployment.module_id else None
    if module is None:
        raise NotFound(f"The module `{deployment.module_name}` is no longer published.")
    if deployment.hold_key == hold_key(key):  # this confirm already queued the CREATE again
        return _latest_run(session, deployment)
    run = _create_again(session, actor, deployment, module, key, now) if again else \
        _queue(session, deployment, DeploymentAction.UPDATE, now)
    if run.review and run.action == DeploymentAction.UPDATE:  # put back if its plan is not applied
        pending.keep_previous(run, deployment)
    deployment.inputs, deployment.commit = dict(values), module.commit
    deployment.source_files, deployment.source_platform = dict(module.files), module.source == "platform"
    _seal_inputs(session, box, deployment, sensitive, actor, now)
    audit.record(session, actor, "deployment.update", target=deployment.short_id, run=run.action)
    return run


def requeue_update(session: Session, actor: User, deployment: Deployment, module: Module,
                   now: datetime) -> DeploymentRun:
    """Queue an update at ``module``'s current commit, keeping the deployment's version to put back.

    The caller sets the inputs the update proposes (a plan planned again after it was refused).
    """
    require_manager(actor, deployment, "update")
    _lock(session, deployment)
    run = _queue(session, deployment, DeploymentAction.UPDATE, now)
    pending.keep_previous(run, deployment)
    deployment.commit = module.commit
    deployment.source_files, deployment.source_platform = dict(module.files), module.source == "platform"
    return run


def _create_again(session: Session, actor: User, deployment: Deployment, module: Module, key: str,
                  now: datetime) -> DeploymentRun:
    """Queue the CREATE of a deployment that was never created, holding its cost anew."""
    _require_fresh(session, key)
    run = _queue(session, deployment, DeploymentAction.CREATE, now)
    settle(session, deployment, spend=False)  # the failed attempt's hold (already released when it ended)
    held, price = _hold_cost(session, actor, module, key, deployment.short_id)
    deployment.hold_key, deployment.credit_cost = held.key, price.cost
    return run


def _latest_run(session: Session, deployment: Deployment) -> DeploymentRun:
    return session.scalars(select(DeploymentRun).where(DeploymentRun.deployment_id == deployment.id)
                           .order_by(DeploymentRun.id.desc()).limit(1)).one()


def queue_destroy(session: Session, actor: User, deployment: Deployment, now: datetime) -> DeploymentRun:
    """Run ``destroy``; the record is kept (status DELETED) once it succeeds."""
    require_manager(actor, deployment, "destroy")
    _lock(session, deployment)
    run = _queue(session, deployment, DeploymentAction.DESTROY, now)
    audit.record(session, actor, "deployment.destroy", target=deployment.short_id)
    return run


def cancel(session: Session, actor: User, deployment: Deployment, now: datetime) -> None:
    """Cancel a deployment still waiting in the queue; its hold is released."""
    require_manager(actor, deployment, "cancel")
    runs = session.scalars(select(DeploymentRun).where(DeploymentRun.deployment_id == deployment.id,
                                                       DeploymentRun.status == DeploymentRunStatus.QUEUED)
                           .with_for_update()).all()
    if deployment.status != DeploymentStatus.QUEUED or not runs:
        raise Conflict(f"Only a queued deployment can be cancelled; `{deployment.short_id}` is "
                       f"{deployment.status.replace('_', ' ').lower()}.")
    for run in runs:
        run.status, run.finished_at = DeploymentRunStatus.CANCELLED, now
    deployment.status = DeploymentStatus.CANCELLED
    settle(session, deployment, spend=False)
    audit.record(session, actor, "deployment.cancel", target=deployment.short_id)


def purge(session: Session, actor: User, deployment: Deployment) -> None:
    """Remove the record (not the resources); refused while a run is working."""
    require_manager(actor, deployment, "purge")
    if deployment.status == DeploymentStatus.WORKING:
        raise Conflict(f"Deployment `{deployment.short_id}` is running.", hint="Wait for it, or cancel it first.")
    settle(session, deployment, spend=False)
    for run in session.scalars(select(DeploymentRun).where(DeploymentRun.deployment_id == deployment.id)):
        pending.forget_plan(session, run, proposal=True)  # sealed plans and kept inputs go with the record
    audit.record(session, actor, "deployment.purge", target=deployment.short_id, module=deployment.module_name)
    session.delete(deployment)
    session.flush()


def rate(session: Session, actor: User, deployment: Deployment, stars: int) -> Module | None:
    """Rate 1–5 (owner only); the module keeps an exact sum and count, a changed rating replaces the old one."""
    if deployment.owner_id != actor.id:
        raise NotAllowed("Only the deployment's owner can rate it.")
    if not 1 <= stars <= 5:
        raise InvalidInput("A rating is 1 to 5 stars.")
    module = session.get(Module, deployment.module_id, with_for_update=True) if deployment.module_id else None
    if module is not None:
        if deployment.rating is None:
            module.rating_count += 1
            module.rating_sum += stars
        else:
            module.rating_sum += stars - deployment.rating
    deployment.rating = stars
    audit.record(session, actor, "deployment.rate", target=deployment.short_id, stars=stars)
    return module
