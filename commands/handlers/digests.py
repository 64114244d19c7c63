"""``/rad admin digest here <daily|weekly|monthly>``, ``/rad admin digest now``, ``/rad admin digest off``.

Finance and admins choose the channels that receive the revenue digest. The clock claims each ended period
once per channel (``core.revenue.digests``) and queues a ``revenue.digest`` job; a worker builds the digest
(text, chart, CSV) and hands it to the outbox, which posts it once. A channel the bot cannot post in breaks
its target (``revenue.digest_broken``) and whoever set it is told in a direct message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from commands.framework.context import Context, JobContext
from commands.framework.registry import Param, command, job
from commands.handlers.notify import notify_later, post_later
from commands.ui.model import Attachment, Reply
from commands.views import revenue as views
from core.accounts.roles import ADMIN, FINANCE
from core.errors import InvalidInput
from core.jobs import queue as jobs
from core.revenue import digests, export
from core.revenue import report as reports
from core.revenue.digests import CADENCES, Claim
from core.revenue.money import change, show_money
from core.revenue.scope import digest_scope
from storage.models import DigestCadence, DigestPost, DigestPostStatus, DigestTarget, DigestTargetStatus, User

DIGEST_KIND = "revenue.digest"
BROKEN_KIND = "revenue.digest_broken"
ACTIONS = ("here", "now", "off")


@command("admin digest", "Where and how often the revenue digest is posted",
         params=(Param("what", "choice", "`here`: this channel gets it; `now`: post one now; `off`: stop it here",
                       choices=ACTIONS),
                 Param("cadence", "choice", "How often (with `here`)", required=False, choices=CADENCES)),
         roles=(ADMIN, FINANCE),
         details="Run it in the channel: `/rad admin digest here weekly` posts each week's digest there (Monday "
                 "to Sunday, UTC) after the week ends, `daily` and `monthly` likewise; `now` posts this period's "
                 "digest so far; `off` stops it. Each period is posted once per channel, late if the bot was "
                 "down; a channel the bot cannot post in is stopped and you are told.")
def admin_digest(ctx: Context, what: str, cadence: str | None) -> Reply:
    """Set, post or stop the digest of the channel the command was run in."""
    where = ctx.where
    if where is None:
        raise InvalidInput("Digests go to a channel.", hint="Run this command in a Slack or Discord channel.")
    channel = where.in_thread("")
    if what == "here":
        if cadence is None:
            raise InvalidInput("Say how often: daily, weekly or monthly.",
                               hint="Like `/rad admin digest here weekly`.")
        target = digests.set_target(ctx.session, ctx.actor, channel, digests.cadence_of(cadence), ctx.now)
        start, end = digests.period_of(target.cadence, ctx.now)
        return Reply(text=f"This channel gets the *{target.cadence.value}* revenue digest. The first covers "
                          f"{_days(start, end)} (UTC) and is posted when that period ends. "
                          f"`/rad admin digest now` posts one now; `/rad admin digest off` stops them.")
    if what == "off":
        digests.turn_off(ctx.session, ctx.actor, channel)
        return Reply(text="This channel gets no more revenue digests.")
    target = digests.require_target(ctx.session, ctx.actor, channel)
    start, end = digests.period_of(target.cadence, ctx.now)
    queue_digest(ctx.session, target, start, min(end, ctx.now), key=f"digest-now:{uuid.uuid4().hex}",
                 post_id=None, late=False, so_far=True)
    return Reply(text=f"Posting the {target.cadence.value} digest so far ({_days(start, end)}) in this channel.")


def run_clock(session: Session, now: datetime) -> list[Claim]:
    """Claim the periods that ended and queue one ``revenue.digest`` job for each (the clock's tick)."""
    claims = digests.claim_due(session, now)
    for claim in claims:
        jobs.enqueue(session, DIGEST_KIND, {"post_id": claim.post_id})
    return claims


@job(DIGEST_KIND)
def post_digest(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """Build a claimed period's digest and hand it to the outbox (once: keyed by the claim)."""
    post = ctx.session.get(DigestPost, int(payload["post_id"]))
    if post is None or post.status != DigestPostStatus.CLAIMED:
        return
    target = ctx.session.get_one(DigestTarget, post.target_id)
    if target.status != DigestTargetStatus.ACTIVE:
        post.status = DigestPostStatus.ABANDONED
        return
    queue_digest(ctx.session, target, post.period_start, post.period_end, key=f"digest:{post.id}",
                 post_id=post.id, late=post.late, so_far=False, cadence=post.cadence)
    digests.posted(ctx.session, post.id, ctx.now)


@job(BROKEN_KIND)
def digest_broken(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """A digest could not be posted for good: stop the target and tell whoever set it."""
    post_id = payload.get("post_id")
    target = digests.break_target(ctx.session, int(payload["target_id"]),
                                  int(post_id) if post_id is not None else None,
                                  f"the bot could not post there ({str(payload.get('error', ''))[:200]})")
    if target is None or target.set_by_id is None:
        return
    setter = ctx.session.get(User, target.set_by_id)
    if setter is not None:
        channel = f"<#{target.channel}>" if target.platform in ("slack", "discord") else target.channel
        notify_later(ctx.session, setter,
                     f"The revenue digest could not be posted in {channel} on {target.platform.title()}, so it "
                     "is stopped there. Invite the bot to that channel (or let it post there), then run "
                     f"`/rad admin digest here {target.cadence.value}` in it again, or choose another channel.")


def queue_digest(session: Session, target: DigestTarget, start: datetime, end: datetime, *, key: str,
                 post_id: int | None, late: bool, so_far: bool, cadence: DigestCadence | None = None) -> None:
    """The digest of [start, end) for ``target``'s channel, queued in the outbox with its chart and CSV."""
    every = cadence or target.cadence
    text, files = digest_message(session, every, start, end, late=late, so_far=so_far)
    post_later(session, key, text, where=digests.where_of(target), attachments=files,
               on_failure={"kind": BROKEN_KIND, "target_id": target.id, "post_id": post_id})


def digest_message(session: Session, cadence: DigestCadence, start: datetime, end: datetime, *, late: bool,
                   so_far: bool) -> tuple[str, tuple[Attachment, ...]]:
    """The digest's text, and its chart and CSV (none for a period without revenue)."""
    scope = digest_scope(start, end)
    report = reports.build(session, scope)
    before = reports.build(session, digest_scope(*digests.previous_period(cadence, start)))
    money = report.currency
    heading = f"*Revenue digest* – {cadence.value}, {_days(start, end)} (UTC)"
    if so_far:
        heading += " – so far"
    if late:
        heading += " – _late: the bot was down when this period ended_"
    lines = [heading]
    if not report.total.deployments:
        lines.append("No paying deployments in this period: no revenue, so no chart. "
                     f"The period before brought {show_money(before.total.revenue, money)}.")
        return "\n".join(lines), ()
    lines += [f"True revenue: *{show_money(report.total.revenue, money)}* from "
              f"{report.total.deployments:,} paying deployment{'s' if report.total.deployments != 1 else ''} "
              f"({change(report.total.revenue, before.total.revenue)} on the period before, "
              f"{show_money(before.total.revenue, money)})",
              f"Partner shares: *{show_money(report.total.share, money)}* "
              f"({change(report.total.share, before.total.share)} on the period before)",
              "*Top modules*", *views.module_lines(report)]
    if report.payouts:
        lines += ["*Top partners*", *views.top_partner_lines(report)]
    files: list[Attachment] = []
    picture = views.chart(report, f"Revenue digest ({cadence.value})")
    if picture is not None:
        files.append(picture)
    table = views.csv_attachment(report, export.to_csv(session, scope, money))
    if table is None:
        lines.append(views.too_large(report))
    else:
        files.append(table)
    return "\n".join(lines), tuple(files)


def _days(start: datetime, end: datetime) -> str:
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
