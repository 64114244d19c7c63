"""Home tabs: who opened the bot's Home tab, and queuing a refresh of it when what it shows changes.

A Home tab (Slack's App Home) shows a user's credits, deployments and pinned modules. It is published again
when one of those changes, but only for identities that opened it before (``remember_opened``). Changes are
noticed on the session itself, so every path that changes them is covered (commands, the deploy worker,
payments): a new ledger row, a deployment's status or action, a pin added or removed. When the transaction
commits, one ``home.publish`` job per affected user is queued in it (the outbox: no network call inside the
transaction); a job already waiting for that user absorbs the change, so a burst of changes within
``DEBOUNCE`` is one publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import get_history

from core.accounts.identity import IdentityKey, find_identity
from core.jobs import queue as jobs
from storage.models import (
    ChatIdentity,
    CreditTransaction,
    Deployment,
    HomeTab,
    Job,
    JobStatus,
    ModulePin,
    User,
    utcnow,
)

KIND = "home.publish"
"""The job kind that publishes one user's Home tab again."""
DEBOUNCE = timedelta(seconds=2)
"""How long a queued refresh waits, so the changes of one burst are published once."""
_PENDING = "rad_home_changed_users"
"""``session.info`` key: ids of the users whose Home changed in this transaction."""
_OWNER: dict[type[Any], str] = {Deployment: "owner_id", CreditTransaction: "user_id", ModulePin: "user_id"}
"""Rows a Home shows, and the column naming the user whose Home shows them."""
_DEPLOYMENT_SHOWN = ("status", "action", "module_name", "credit_cost", "owner_id")
"""The deployment columns a Home shows; a change of another one (its chat message id...) is no refresh."""


def remember_opened(session: Session, key: IdentityKey, now: datetime) -> None:
    """Record that ``key`` opened the Home tab (a known identity; again is a no-op but the time)."""
    identity = find_identity(session, key)
    if identity is None:
        return
    tab = session.get(HomeTab, identity.id)
    if tab is None:
        session.add(HomeTab(identity_id=identity.id, opened_at=now))
    else:
        tab.opened_at = now
    session.flush()


def shown_now(session: Session, user: User) -> None:
    """The Home about to be published for ``user`` is built in this transaction: its changes need no refresh."""
    session.flush()
    session.info.get(_PENDING, set()).discard(user.id)


def home_identities(session: Session, user: User) -> list[IdentityKey]:
    """The identities of ``user`` that opened the Home tab, oldest first."""
    rows = session.scalars(select(ChatIdentity).join(HomeTab, HomeTab.identity_id == ChatIdentity.id)
                           .where(ChatIdentity.user_id == user.id).order_by(ChatIdentity.id))
    return [IdentityKey(r.platform, r.workspace, r.external_id) for r in rows]


def queue_refresh(session: Session, user_ids: Iterable[int], now: datetime) -> list[int]:
    """Queue a Home refresh for those of ``user_ids`` who opened a Home tab; returns whom it queued for.

    A refresh already waiting for a user is kept (it will show this change too): one publish per burst.
    """
    wanted = sorted(set(user_ids))
    if not wanted:
        return []
    opened = set(session.scalars(select(ChatIdentity.user_id).join(HomeTab, HomeTab.identity_id == ChatIdentity.id)
                                 .where(ChatIdentity.user_id.in_(wanted))))
    queued = []
    for user_id in sorted(opened):
        waiting = session.scalars(select(Job.id).where(Job.kind == KIND, Job.status == JobStatus.QUEUED,
                                                       Job.payload["user_id"].as_integer() == user_id)).first()
        if waiting is None:
            jobs.enqueue(session, KIND, {"user_id": user_id}, run_after=now + DEBOUNCE)
            queued.append(user_id)
    return queued


def _shown_change(session: Session, row: object) -> bool:
    """Whether a flushed row changes what a Home shows (a new or deleted row does; an update only sometimes)."""
    if row in session.new or row in session.deleted:
        return True
    if isinstance(row, Deployment):
        return any(get_history(row, name).has_changes() for name in _DEPLOYMENT_SHOWN)
    return False  # ledger rows and pins are never updated in place


@event.listens_for(Session, "after_flush")
def _noticed(session: Session, _context: Any) -> None:
    changed: set[int] | None = None
    for row in chain(session.new, session.dirty, session.deleted):
        column = _OWNER.get(type(row))
        if column is None or not _shown_change(session, row):
            continue
        owners = [getattr(row, column, None), *get_history(row, column).deleted]  # and a previous owner
        for user_id in owners:
            if isinstance(user_id, int):
                changed = changed if changed is not None else session.info.setdefault(_PENDING, set())
                changed.add(user_id)


@event.listens_for(Session, "before_commit")
def _queue_noticed(session: Session) -> None:
    session.flush()  # commit flushes after this hook: the changes still pending must be noticed now
    changed: set[int] = session.info.pop(_PENDING, set())
    if changed:
        queue_refresh(session, changed, utcnow())


@event.listens_for(Session, "after_soft_rollback")
def _forget_noticed(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:  # the whole transaction; a savepoint's rollback may leave others' changes
        session.info.pop(_PENDING, None)
