"""Link a Slack and a Discord identity to one user with a one-time code.

The user who issued the code survives; the redeemer's account is merged into it: its identities move over,
its roles are added, and it is marked as merged (its history stays with it). A merge that changes anyone's
roles is first described (``plan_link``) and held (``hold_link``); only ``confirm_link`` carries it out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit
from core.accounts.identity import IdentityKey, user_label
from core.errors import Conflict, InvalidInput, NotFound
from storage.models import ChatIdentity, FormDraft, LinkCode, User, UserRole

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=15)
HOLD_KIND = "link"
"""``form_drafts.payload["kind"]`` of a held link request."""


def _hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def normalise(code: str) -> str:
    """The code in upper case with everything but letters and digits taken out."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def issue_code(session: Session, user: User, platform: str, now: datetime) -> str:
    """A fresh one-time code for ``user``; earlier unused codes of theirs stop working."""
    session.execute(
        update(LinkCode).where(LinkCode.user_id == user.id, LinkCode.used_at.is_(None)).values(used_at=now)
    )
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(LinkCode(code_hash=_hash(code), user_id=user.id, issued_on=platform, expires_at=now + CODE_TTL))
    audit.record(session, user, "link.issue", target=user_label(user), platform=platform)
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class LinkPlan:
    """What redeeming a code would do: ``merged`` disappears into ``survivor``."""

    code_id: int
    issued_on: str
    survivor: User
    merged: User
    survivor_roles: frozenset[str]
    merged_roles: frozenset[str]

    @property
    def survivor_gains(self) -> frozenset[str]:
        """Roles the surviving account gets from the one that disappears."""
        return self.merged_roles - self.survivor_roles

    @property
    def redeemer_gains(self) -> frozenset[str]:
        """Roles the redeemer's chat identities act with from now on that their account did not have."""
        return self.survivor_roles - self.merged_roles

    @property
    def roles_after(self) -> frozenset[str]:
        """Roles the linked account has once the merge is done."""
        return self.survivor_roles | self.merged_roles

    @property
    def moves_roles(self) -> bool:
        """True when the merge gives either side a role it did not have."""
        return bool(self.survivor_gains or self.redeemer_gains)


def plan_link(session: Session, caller: User, key: IdentityKey, code: str, now: datetime) -> LinkPlan:
    """What redeeming ``code`` would do; checks the code but does not use it."""
    if len(normalise(code)) != CODE_LENGTH:
        raise InvalidInput("That is not a link code.", hint="Codes look like `ABCD-EFGH`; run `/rad link` to get one.")
    row = session.scalars(select(LinkCode).where(LinkCode.code_hash == _hash(code))).one_or_none()
    return _plan(session, _usable(row, key, now), caller, key)


def redeem_code(session: Session, caller: User, key: IdentityKey, code: str, now: datetime) -> User:
    """Join the caller's identity to the user who issued ``code`` at once; returns that user.

    Front doors use it for merges that move no roles (``plan_link`` tells); ``confirm_link`` for the others.
    """
    if len(normalise(code)) != CODE_LENGTH:
        raise InvalidInput("That is not a link code.", hint="Codes look like `ABCD-EFGH`; run `/rad link` to get one.")
    row = session.scalars(select(LinkCode).where(LinkCode.code_hash == _hash(code)).with_for_update()).one_or_none()
    plan = _plan(session, _usable(row, key, now), caller, key)
    return _carry_out(session, plan, key, now)


def hold_link(session: Session, plan: LinkPlan, key: IdentityKey) -> str:
    """Keep ``plan`` until its confirm button is pressed; returns the token the button carries."""
    token = secrets.token_hex(16)
    session.add(FormDraft(token=token, owner=str(key), payload={
        "kind": HOLD_KIND, "code_id": plan.code_id, "caller_id": plan.merged.id, "survivor_id": plan.survivor.id,
        "survivor_roles": sorted(plan.survivor_roles), "merged_roles": sorted(plan.merged_roles), "done": False,
    }))
    session.flush()
    return token


@dataclass(frozen=True)
class Linked:
    """A confirmed link: the surviving user, and the account merged into it (None: linked by an earlier click)."""

    user: User
    merged_id: int | None


def confirm_link(session: Session, caller: User, key: IdentityKey, token: str, now: datetime) -> Linked | LinkPlan:
    """Carry out a held link request, for the identity that asked only, while its code is still valid.

    Idempotent: a repeated click answers that the accounts are linked. When the roles involved changed since
    the request was shown, nothing is merged and the new plan is returned (held under the same token).
    """
    hold = _held(session, key, token)
    payload = dict(hold.payload)
    if payload["done"]:
        return Linked(session.get_one(User, payload["survivor_id"]), None)
    if caller.id != payload["caller_id"]:
        raise Conflict("Your account changed since you were asked.", hint="Run `/rad link <code>` again.")
    row = session.scalars(select(LinkCode).where(LinkCode.id == payload["code_id"]).with_for_update()).one_or_none()
    plan = _plan(session, _usable(row, key, now), caller, key)
    roles = {"survivor_roles": sorted(plan.survivor_roles), "merged_roles": sorted(plan.merged_roles)}
    if roles != {name: payload[name] for name in roles}:
        hold.payload = {**payload, **roles}
        return plan
    user = _carry_out(session, plan, key, now)
    hold.payload = {**payload, "done": True}
    return Linked(user, plan.merged.id)


def drop_link(session: Session, key: IdentityKey, token: str) -> None:
    """Forget a held link request (Cancel); its code stays valid until it expires."""
    hold = _held(session, key, token)
    if hold.payload["done"]:
        raise Conflict("These accounts are already linked.")
    session.delete(hold)


def _held(session: Session, key: IdentityKey, token: str) -> FormDraft:
    """The held request behind a button; only the identity that asked may use it."""
    hold = session.get(FormDraft, token, with_for_update=True) if token else None
    payload: dict[str, Any] = hold.payload if hold is not None and isinstance(hold.payload, dict) else {}
    if hold is None or payload.get("kind") != HOLD_KIND or hold.owner != str(key):
        raise NotFound("That link request is no longer open.", hint="Run `/rad link <code>` again.")
    return hold


def _usable(row: LinkCode | None, key: IdentityKey, now: datetime) -> LinkCode:
    """The code's row when it may be redeemed by ``key`` now."""
    if row is None or row.used_at is not None:
        raise NotFound("That link code is unknown or was already used.", hint="Run `/rad link` again for a new code.")
    if row.expires_at <= now:
        raise InvalidInput("That link code has expired.", hint="Codes last 15 minutes; run `/rad link` again.")
    if row.issued_on == key.platform:
        raise InvalidInput(
            f"That code was issued on {row.issued_on}.",
            hint="Run `/rad link <code>` on the *other* platform to join the two accounts.",
        )
    return row


def _plan(session: Session, row: LinkCode, caller: User, key: IdentityKey) -> LinkPlan:
    target = session.get_one(User, row.user_id)
    if target.id == caller.id:
        raise Conflict("These two accounts are already linked.")
    clash = session.scalars(
        select(ChatIdentity).where(ChatIdentity.user_id == target.id, ChatIdentity.platform == key.platform)
    ).first()
    if clash is not None:
        raise Conflict(
            f"That account is already linked to another {key.platform} identity.",
            hint="Each account links one Slack and one Discord identity.",
        )
    return LinkPlan(row.id, row.issued_on, target, caller, target.role_names, caller.role_names)


def _carry_out(session: Session, plan: LinkPlan, key: IdentityKey, now: datetime) -> User:
    session.get_one(LinkCode, plan.code_id).used_at = now
    _merge(session, source=plan.merged, into=plan.survivor)
    audit.record(session, plan.survivor, "link.redeem", target=user_label(plan.survivor), platform=key.platform,
                 identity=str(key), merged=plan.merged.id, roles_gained=sorted(plan.survivor_gains),
                 roles_for_identity=sorted(plan.redeemer_gains))
    return plan.survivor


def _merge(session: Session, *, source: User, into: User) -> None:
    for identity in list(source.identities):
        identity.user_id = into.id
    for role in source.role_names - into.role_names:
        into.roles.append(UserRole(role=role))
    source.merged_into_id = into.id
    source.active = False
    session.flush()
    session.expire(source)
    session.expire(into, ["identities"])
