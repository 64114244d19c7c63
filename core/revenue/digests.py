"""Scheduled revenue digests: which channels get them, each period's claim, late and broken targets.

A target is a chat channel with a cadence (daily, weekly from Monday, monthly from the 1st; whole UTC days).
Each period that has ended since the target was set is *claimed* once: a :class:`~storage.models.DigestPost`
row, unique per (target, period start), written in the same transaction as the job that posts it. Two clocks
racing, a clock restarted, or one that was down for days: each period is claimed exactly once, and periods
claimed more than :data:`LATE_AFTER` after their end say they are late. A channel the bot cannot post in
breaks its target: no more claims until someone sets it again, and whoever set it is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import FINANCE, require_any
from core.conversations import ConversationRef
from core.errors import InvalidInput, NotFound
from storage.models import DigestCadence, DigestPost, DigestPostStatus, DigestTarget, DigestTargetStatus, User

LATE_AFTER = timedelta(hours=1)
"""A period claimed later than this after its end is posted marked late (the clock was down)."""
CATCH_UP = 31
"""At most this many missed periods of one target are claimed at once (the oldest first)."""
CADENCES = tuple(c.value for c in DigestCadence)


@dataclass(frozen=True)
class Claim:
    """A period claimed for a target: the ids the posting job needs."""

    post_id: int
    target_id: int
    start: datetime
    end: datetime
    late: bool


def cadence_of(text: str) -> DigestCadence:
    """The cadence typed (``daily``, ``weekly``, ``monthly``).

    Raises:
        InvalidInput: it is none of them.
    """
    written = text.strip().lower()
    if written not in CADENCES:
        raise InvalidInput(f"`{text}` is not a digest schedule.", hint=f"Use one of {', '.join(CADENCES)}.")
    return DigestCadence(written)


def period_of(cadence: DigestCadence, moment: datetime) -> tuple[datetime, datetime]:
    """The [start, end) period of ``cadence`` holding ``moment`` (UTC days; weeks start on Monday)."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if cadence is DigestCadence.DAILY:
        return day, day + timedelta(days=1)
    if cadence is DigestCadence.WEEKLY:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def previous_period(cadence: DigestCadence, start: datetime) -> tuple[datetime, datetime]:
    """The period just before the one starting at ``start``."""
    return period_of(cadence, start - timedelta(microseconds=1))


def target_at(session: Session, where: ConversationRef) -> DigestTarget | None:
    """The digest target of the channel ``where`` names, if it ever was one."""
    return session.scalar(select(DigestTarget).where(DigestTarget.platform == where.platform,
                                                     DigestTarget.workspace == where.workspace,
                                                     DigestTarget.channel == where.channel))


def set_target(session: Session, actor: User, where: ConversationRef, cadence: DigestCadence,
               now: datetime) -> DigestTarget:
    """Make the channel ``where`` a digest target with ``cadence`` (again, if it was off or broken); audited.

    The first period digested is the one running now, posted once it ends.

    Raises:
        NotAllowed: the actor is neither finance nor an admin.
        InvalidInput: there is no channel here (a direct message, the console).
    """
    require_any(actor, (FINANCE,), "choose where revenue digests go")
    if where.platform not in ("slack", "discord") or not where.channel:
        raise InvalidInput("Digests go to a Slack or Discord channel.",
                           hint="Run `/rad admin digest here daily` in the channel that should get them.")
    target = target_at(session, where)
    start, _ = period_of(cadence, now)
    if target is None:
        target = DigestTarget(platform=where.platform, workspace=where.workspace, channel=where.channel,
                              cadence=cadence, starts_at=start)
        session.add(target)
    elif target.cadence != cadence or target.status != DigestTargetStatus.ACTIVE:
        target.starts_at = start
    target.cadence, target.status, target.set_by_id, target.broken_reason = \
        cadence, DigestTargetStatus.ACTIVE, actor.id, ""
    session.flush()
    audit.record(session, actor, "digest.target", target=f"digest:{target.id}", platform=where.platform,
                 channel=where.channel, cadence=cadence.value)
    return target


def turn_off(session: Session, actor: User, where: ConversationRef) -> DigestTarget:
    """Stop the digests of the channel ``where``; audited.

    Raises:
        NotAllowed: the actor is neither finance nor an admin.
        NotFound: this channel gets no digests.
    """
    require_any(actor, (FINANCE,), "choose where revenue digests go")
    target = target_at(session, where)
    if target is None or target.status == DigestTargetStatus.OFF:
        raise NotFound("This channel gets no revenue digests.",
                       hint="Run `/rad admin digest here weekly` here to start them.")
    target.status = DigestTargetStatus.OFF
    audit.record(session, actor, "digest.off", target=f"digest:{target.id}", platform=where.platform,
                 channel=where.channel)
    return target


def require_target(session: Session, actor: User, where: ConversationRef) -> DigestTarget:
    """The active target of this channel, for ``digest now``.

    Raises:
        NotAllowed: the actor is neither finance nor an admin.
        NotFound: the channel is no active target.
    """
    require_any(actor, (FINANCE,), "post revenue digests")
    target = target_at(session, where)
    if target is None or target.status != DigestTargetStatus.ACTIVE:
        broken = target is not None and target.status == DigestTargetStatus.BROKEN
        raise NotFound("This channel's digest is broken: " + target.broken_reason if broken and target
                       else "This channel gets no revenue digests.",
                       hint="Run `/rad admin digest here weekly` here to (re)start them.")
    return target


def claim_due(session: Session, now: datetime) -> list[Claim]:
    """Claim every ended period of every active target that no clock claimed yet (oldest first).

    Each target row is locked (``FOR UPDATE``) while its periods are claimed, and the unique
    (target, period start) constraint refuses a second claim, so two clocks never post one period twice.
    """
    claims: list[Claim] = []
    ids = list(session.scalars(select(DigestTarget.id).where(DigestTarget.status == DigestTargetStatus.ACTIVE)
                               .order_by(DigestTarget.id)))
    for target_id in ids:
        target = session.scalar(select(DigestTarget).where(DigestTarget.id == target_id,
                                                           DigestTarget.status == DigestTargetStatus.ACTIVE)
                                .with_for_update())
        if target is None:
            continue
        latest = session.scalar(select(func.max(DigestPost.period_end)).where(
            DigestPost.target_id == target.id, DigestPost.cadence == target.cadence,
            DigestPost.period_start >= target.starts_at))
        start = max(target.starts_at, latest) if latest is not None else target.starts_at
        start, end = period_of(target.cadence, start)
        for _ in range(CATCH_UP):
            if end > now:
                break
            claim = _claim(session, target, start, end, now)
            if claim is not None:
                claims.append(claim)
            start, end = period_of(target.cadence, end)
    return claims


def _claim(session: Session, target: DigestTarget, start: datetime, end: datetime, now: datetime) -> Claim | None:
    late = now - end > LATE_AFTER
    try:
        with session.begin_nested():
            post = DigestPost(target_id=target.id, cadence=target.cadence, period_start=start, period_end=end,
                              late=late, claimed_at=now)
            session.add(post)
            session.flush()
    except IntegrityError:  # another clock claimed it first
        return None
    return Claim(post.id, target.id, start, end, late)


def posted(session: Session, post_id: int, now: datetime) -> None:
    """Record that the digest of ``post_id`` was handed to the outbox (which posts it once, or breaks the target)."""
    post = session.get(DigestPost, post_id)
    if post is not None and post.status == DigestPostStatus.CLAIMED:
        post.status, post.posted_at = DigestPostStatus.POSTED, now


def break_target(session: Session, target_id: int, post_id: int | None, reason: str) -> DigestTarget | None:
    """Mark the target broken (the bot cannot post there) and its digest abandoned; None if already so."""
    target = session.get(DigestTarget, target_id)
    if post_id is not None:
        post = session.get(DigestPost, post_id)
        if post is not None:  # handed to the outbox, whose post then failed for good
            post.status, post.posted_at = DigestPostStatus.ABANDONED, None
    if target is None or target.status != DigestTargetStatus.ACTIVE:
        return None
    target.status, target.broken_reason = DigestTargetStatus.BROKEN, reason[:300]
    audit.record(session, None, "digest.broken", target=f"digest:{target.id}", platform=target.platform,
                 channel=target.channel, outcome="failed", reason=reason[:300])
    return target


def where_of(target: DigestTarget) -> ConversationRef:
    """The channel of ``target``."""
    return ConversationRef(target.platform, target.workspace, target.channel)
