"""Link a Slack and a Discord identity to one user with a one-time code."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit
from core.errors import Conflict, InvalidInput, NotFound
from core.identity import IdentityKey, user_label
from storage.models import ChatIdentity, LinkCode, User, UserRole

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=15)


def _hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def normalise(code: str) -> str:
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


def redeem_code(session: Session, caller: User, key: IdentityKey, code: str, now: datetime) -> User:
    """Join the caller's identity to the user who issued ``code``; returns that user.

    The caller's own account, if it is another one, is merged into the issuer: its identities move over,
    its roles are added, and it is marked as merged (its history stays).
    """
    if len(normalise(code)) != CODE_LENGTH:
        raise InvalidInput("That is not a link code.", hint="Codes look like `ABCD-EFGH`; run `/rad link` to get one.")
    row = session.scalars(select(LinkCode).where(LinkCode.code_hash == _hash(code)).with_for_update()).one_or_none()
    if row is None or row.used_at is not None:
        raise NotFound("That link code is unknown or was already used.", hint="Run `/rad link` again for a new code.")
    if row.expires_at <= now:
        raise InvalidInput("That link code has expired.", hint="Codes last 15 minutes; run `/rad link` again.")
    if row.issued_on == key.platform:
        raise InvalidInput(
            f"That code was issued on {row.issued_on}.",
            hint="Run `/rad link <code>` on the *other* platform to join the two accounts.",
        )
    row.used_at = now
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
    _merge(session, source=caller, into=target)
    audit.record(session, target, "link.redeem", target=user_label(target), platform=key.platform,
                 identity=str(key), merged=caller.id)
    return target


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


