"""The module catalog: what a scan's candidates mean for the published modules, and the publish sync.

A module name is unique across the whole catalog, without regard to case and with ``_`` read as ``-``
(``Module.key_for``, a unique index): a partner can never shadow a platform module or another partner's, nor
publish a look-alike of one. Publishing pins a module to the scanned commit. A candidate the scan found
invalid, or a partner module with provisioners while the ``allow_provisioners`` setting is off, is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.catalog.scan import Candidate, ScanResult
from core.deployments.status import DeploymentStatus
from core.modules.spec import load_spec
from core.settings.platform import provisioners_allowed
from storage.models import Deployment, Module, User

PLATFORM, PARTNER = "platform", "partner"
State = Literal["new", "published", "changed", "invalid", "missing", "taken"]


def source_of(owner: User | None) -> str:
    """The catalog source of an owner's modules: ``platform`` for None, else ``partner``."""
    return PLATFORM if owner is None else PARTNER


def published_by(session: Session, owner: User | None) -> dict[str, Module]:
    """The modules published from this owner's repository (the platform's when ``owner`` is None), by name."""
    query = select(Module).where(Module.source == source_of(owner))
    if owner is not None:
        query = query.where(Module.owner_id == owner.id)
    return {m.name: m for m in session.scalars(query)}


@dataclass(frozen=True)
class CandidateView:
    """A candidate as the publish page shows it."""

    name: str
    state: State
    reason: str = ""
    candidate: Candidate | None = None
    module: Module | None = None

    @property
    def selectable(self) -> bool:
        """Whether the publish page offers a tick for it (new, published or changed)."""
        return self.state in ("new", "published", "changed")


def describe_candidates(session: Session, owner: User | None, result: ScanResult) -> list[CandidateView]:
    """Each candidate's state, plus the published modules the repository no longer has."""
    mine = published_by(session, owner)
    allowed = provisioners_allowed(session)
    keys = {Module.key_for(c.name) for c in result.candidates}
    others = {m.name_key: m for m in session.scalars(select(Module).where(Module.name_key.in_(keys)))} if keys else {}
    leaders = _leading_names(result, mine)
    views = []
    for candidate in result.candidates:
        module = mine.get(candidate.name)
        key = Module.key_for(candidate.name)
        reason = refusal(candidate, owner, allowed=allowed)
        taken = others.get(key)
        if reason:
            views.append(CandidateView(candidate.name, "invalid", reason, candidate, module))
        elif module is not None:
            state: State = "published" if module.files == candidate.files else "changed"
            views.append(CandidateView(candidate.name, state, "", candidate, module))
        elif taken is not None and mine.get(taken.name) is not taken:
            views.append(CandidateView(candidate.name, "taken", taken_reason(taken, candidate.name), candidate))
        elif leaders.get(key, candidate.name) != candidate.name:
            views.append(CandidateView(candidate.name, "taken", _twin_reason(candidate.name, leaders[key]), candidate))
        else:
            views.append(CandidateView(candidate.name, "new", "", candidate))
    for name, module in sorted(mine.items()):
        if result.candidate(name) is None:
            views.append(CandidateView(name, "missing", "no longer in the repository", None, module))
    return views


def refusal(candidate: Candidate, owner: User | None, *, allowed: bool) -> str:
    """Why a candidate cannot be published now, or ``''`` when it can.

    The reasons are its problems, and its provisioners when it is a partner module and ``allow_provisioners`` is
    off.
    """
    reasons = [] if candidate.valid else [candidate.problem or "it cannot be read"]
    if owner is not None and not allowed:
        reasons += candidate.provisioners
    return "\n".join(reasons)


def _leading_names(result: ScanResult, mine: dict[str, Module]) -> dict[str, str]:
    """For each key shared by look-alike folders of one repository, the folder that keeps it.

    That is the published one, else the first in name order.
    """
    groups: dict[str, list[str]] = {}
    for candidate in result.candidates:
        groups.setdefault(Module.key_for(candidate.name), []).append(candidate.name)
    return {key: next((n for n in names if n in mine), min(names)) for key, names in groups.items() if len(names) > 1}


def _twin_reason(name: str, leader: str) -> str:
    return (f"`{name}` looks like `{leader}` in the same repository: names may not differ only in case or in "
            "`_` versus `-`; rename one folder")


def mark_missing(session: Session, owner: User | None, result: ScanResult) -> list[str]:
    """Flag the owner's published modules the scanned repository no longer has (and unflag the others)."""
    gone = []
    for name, module in published_by(session, owner).items():
        module.missing = result.candidate(name) is None
        if module.missing:
            gone.append(name)
    session.flush()
    return gone


def taken_reason(module: Module, name: str = "") -> str:
    """Why ``name`` (default: the module's own name) cannot be published: ``module`` holds it or its look-alike."""
    whose = "a platform module" if module.source == PLATFORM else "another partner's module"
    if not name or name == module.name:
        return f"the name `{module.name}` is taken by {whose}"
    return (f"the name `{name}` is too close to `{module.name}`, {whose}: names may not differ only in case or in "
            "`_` versus `-`")


@dataclass
class SyncResult:
    """What one publish did."""

    published: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The result as kept in the publish draft: names by outcome, and refusals with their reasons."""
        return {"published": self.published, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "refused": self.refused}


def sync(session: Session, actor: User, owner: User | None, result: ScanResult, selected: Iterable[str],
         repository: str, now: datetime) -> SyncResult:
    """Make the published set equal the selection.

    New ones are published, selected ones updated to the scanned commit, and published ones not selected (or
    gone from the repository, or refused) removed. Removals come first, so a renamed folder (``net_plan`` to
    ``net-plan``) can take over its own old name. Collisions are refused.
    """
    outcome = SyncResult()
    mine = published_by(session, owner)
    ready, outcome.refused = _sorted_selection(session, owner, result, selected)
    for name, module in sorted(mine.items()):
        if name not in outcome.refused and name in {c.name for c in ready}:
            continue
        session.delete(module)
        outcome.removed.append(name)
    session.flush()
    for candidate in ready:
        if candidate.name in mine:
            _update(mine[candidate.name], candidate, result.commit, repository, now, outcome)
        else:
            _publish(session, actor, owner, candidate, result.commit, repository, now, outcome)
    session.flush()
    audit.record(session, actor, "catalog.sync", target=f"{source_of(owner)}:{repository}", commit=result.commit,
                 changes={k: v for k, v in outcome.to_json().items() if v})
    return outcome


def _sorted_selection(session: Session, owner: User | None, result: ScanResult, selected: Iterable[str],
                      ) -> tuple[list[Candidate], dict[str, str]]:
    """The selected candidates that can be published, and why the other selected names cannot."""
    allowed = provisioners_allowed(session)
    ready: list[Candidate] = []
    refused: dict[str, str] = {}
    for name in sorted(set(selected), key=str.lower):
        candidate = result.candidate(name)
        if candidate is None:
            refused[name] = "it is not in the repository any more"
        elif reason := refusal(candidate, owner, allowed=allowed):
            refused[name] = reason
        else:
            ready.append(candidate)
    return ready, refused


def removals(session: Session, owner: User | None, result: ScanResult, selected: Iterable[str],
             ) -> dict[str, int]:
    """The published modules a sync of ``selected`` would remove, each with its number of live deployments.

    A module is removed when it is not selected, gone from the repository, or refused. A deployment is live
    until it is destroyed or cancelled: removing its module leaves it running, destroyable but no longer
    updatable.
    """
    ready, _ = _sorted_selection(session, owner, result, selected)
    kept = {c.name for c in ready}
    gone = {name: module for name, module in published_by(session, owner).items() if name not in kept}
    counts = live_deployments(session, [m.id for m in gone.values()])
    return {name: counts.get(module.id, 0) for name, module in sorted(gone.items())}


def live_deployments(session: Session, module_ids: Iterable[int]) -> dict[int, int]:
    """How many deployments that are neither destroyed nor cancelled each module has, by module id."""
    ids = list(module_ids)
    if not ids:
        return {}
    done = (DeploymentStatus.DELETED, DeploymentStatus.CANCELLED)
    rows = session.execute(select(Deployment.module_id, func.count(Deployment.id))
                           .where(Deployment.module_id.in_(ids), Deployment.status.not_in(done))
                           .group_by(Deployment.module_id))
    return {module_id: number for module_id, number in rows if module_id is not None}


def _update(module: Module, candidate: Candidate, commit: str, repository: str, now: datetime,
            outcome: SyncResult) -> None:
    """Update ``module`` to the candidate when its files changed or it now comes from another repository.

    A module whose files are the same stays at the commit it was published at (its code is the same there), so
    it is listed as up to date, never as updated, and a deploy confirmed meanwhile needs no second look.
    """
    moved = bool(repository) and module.repository != repository
    if module.files == candidate.files and not moved:
        module.missing = False
        outcome.unchanged.append(module.name)
        return
    _fill(module, candidate, commit)
    module.repository = repository or module.repository
    module.missing, module.updated_at = False, now
    outcome.updated.append(module.name)


def _publish(session: Session, actor: User, owner: User | None, candidate: Candidate, commit: str,
             repository: str, now: datetime, outcome: SyncResult) -> None:
    key = Module.key_for(candidate.name)
    holder = session.scalars(select(Module).where(Module.name_key == key)).one_or_none()
    if holder is not None:
        outcome.refused[candidate.name] = taken_reason(holder, candidate.name)
        return
    module = Module(name=candidate.name, source=source_of(owner), owner_id=owner.id if owner else None,
                    repository=repository, published_by_id=actor.id, published_at=now)
    _fill(module, candidate, commit)
    try:
        with session.begin_nested():
            session.add(module)
    except IntegrityError:  # the same name (or a look-alike) was published elsewhere a moment ago: one wins
        taken = session.scalars(select(Module).where(Module.name_key == key)).one_or_none()
        outcome.refused[candidate.name] = taken_reason(taken, candidate.name) if taken else \
            "the name was taken a moment ago"
        return
    outcome.published.append(candidate.name)


def _fill(module: Module, candidate: Candidate, commit: str) -> None:
    spec = load_spec(candidate.spec)
    module.commit, module.files, module.spec = commit, dict(candidate.files), spec.to_json()
    module.description = spec.description
    module.documentation = spec.documentation
    module.credit_cost = spec.credit_cost
    module.require_credit_purchases = spec.require_credit_purchases
    module.public_access = spec.public_access
    module.dependencies = list(spec.dependencies)
