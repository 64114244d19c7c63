"""The relay between Jules and the refine threads, run by the clock every few seconds (``poll``).

For each live session that is due it reads what it needs in a short unit of work, then with no transaction
open sends the thread's pending messages (``sendMessage``) and fetches the new activities and the session,
then writes what the thread must show through the outbox, each activity once (its outbox key names the
activity; the cursor moves past it in the same transaction). Jules is asked every 5 seconds while it works,
every minute while it waits for the team, not at all once it completed or failed (a thread message wakes
it: a message Jules has not answered yet is asked after every 5 s for 2 minutes, then every minute for up to
30); failures back off up to 10 minutes. Progress is the thread's working status where the platform shows one
(Slack's ``assistant.threads.setStatus``, cleared when Jules stops working), else one status message edited
in place. Every due session is relayed in each turn. A waiting session's turn
reads the session alone (one call a minute) and lists its activities only when its state changed or Jules
updated it since the last activity relayed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.handlers.notify import POST_KIND, post_later
from commands.views import refine as views
from core.errors import InvalidInput, NotFound, RadError
from core.jules import sessions
from core.jules.client import Activity
from core.jules.client import Session as JulesSession
from core.services import Services
from storage.db import Database
from storage.models import Job, JobStatus, RefineDecision, RefineSession, RefineStatus

log = logging.getLogger(__name__)

BATCH = 20
"""Sessions handled per poll (the oldest due first)."""
WORKING = ("QUEUED", "PLANNING", "IN_PROGRESS")
DONE = ("COMPLETED", "FAILED")


@dataclass
class _Fetch:
    """What one session's turn needs from the database, and what Jules answered."""

    row_id: int
    jules_id: str
    key: str = field(repr=False)
    cursor: str
    pending: list[dict[str, Any]]
    state: str = ""
    """The session's state as the last turn saw it."""
    idle: bool = False
    """Jules was waiting for the team at the last turn and nothing is to be sent: the session is read first."""
    sent: set[str] = field(default_factory=set)
    activities: list[Activity] = field(default_factory=list)
    session: JulesSession | None = None
    error: RadError | None = None


def poll(db: Database, services: Services, now: datetime) -> int:
    """Relay every due live session once, ``BATCH`` at a time (the oldest due first); returns how many were asked.

    Every due session is relayed in the turn, however many there are: a session left for the next turn
    would show its activities 5 s later each time (50 sessions in batches of 20 waited up to 15 s).
    """
    done: set[int] = set()
    while True:
        with db.unit_of_work() as session:
            query = select(RefineSession.id).where(
                RefineSession.status == RefineStatus.ACTIVE, RefineSession.next_poll_at.is_not(None),
                RefineSession.next_poll_at <= now)
            if done:
                query = query.where(RefineSession.id.not_in(done))
            due = list(session.scalars(query.order_by(RefineSession.next_poll_at).limit(BATCH)))
        for row_id in due:
            done.add(row_id)
            try:
                relay(db, services, row_id, now)
            except Exception:  # one session's trouble never stops the others
                log.exception("refine relay failed", extra={"refine_session": row_id})
        if len(due) < BATCH:
            return len(done)


def relay(db: Database, services: Services, row_id: int, now: datetime) -> None:
    """One turn of one session: its thread first, then Jules (no transaction open), then the thread's posts."""
    lost = False
    with db.unit_of_work() as session:
        row = session.get(RefineSession, row_id)
        if row is None or row.status != RefineStatus.ACTIVE:
            return
        if not row.chat_thread and not _open_thread(session, row, now):
            return
        if _thread_lost(session, row):
            _end_with(session, row, now, "", note="its thread is gone: a message to it could not be posted")
            lost = True
        try:
            key = sessions.jules_key(session, services, row.owner_id)
        except NotFound as missing:
            _end_with(session, row, now, f":warning: {missing.message} {missing.hint} The session has ended.")
            return
        fetch = _Fetch(row.id, row.jules_session, key, row.cursor, list(row.pending), state=row.jules_state,
                       idle=not row.pending and row.failures == 0 and bool(row.cursor)
                       and row.jules_state not in WORKING)
    if lost:
        _archive(services, fetch)
        return
    _ask_jules(services, fetch)
    with db.unit_of_work() as session:
        row = session.get_one(RefineSession, row_id)
        sessions.sent(session, row.id, fetch.sent)
        if fetch.error is not None:
            _failed(session, row, fetch.error, now)
            return
        row.failures = 0
        for activity in fetch.activities:
            if not _show(session, row, activity, fetch.session):
                break  # the status message is being posted: the rest waits for the next turn, in order
            row.cursor = activity.create_time[:40] or row.cursor
        _schedule(session, row, fetch, now)


def _ask_jules(services: Services, fetch: _Fetch) -> None:
    """Send the pending messages, then read the new activities and the session; keeps the first error."""
    try:
        with services.jules(fetch.key) as client:
            for message in fetch.pending:
                client.send_message(fetch.jules_id, str(message.get("text", "")))
                fetch.sent.add(str(message.get("id")))
            if fetch.idle:
                fetch.session = client.get_session(fetch.jules_id)
                if fetch.session.state == fetch.state and not _changed_since(fetch.session, fetch.cursor):
                    return  # still waiting, nothing new: one call for this turn
            fetch.activities = client.list_activities(fetch.jules_id, fetch.cursor)
            fetch.session = client.get_session(fetch.jules_id)
    except RadError as error:
        fetch.error = error


def _changed_since(jules: JulesSession, cursor: str) -> bool:
    """Whether the session was updated after the last activity relayed (True when either time is unreadable)."""
    try:
        updated = datetime.fromisoformat(jules.update_time)
        seen = datetime.fromisoformat(cursor)
    except ValueError:
        return True
    return updated > seen


def _archive(services: Services, fetch: _Fetch) -> None:
    """Archive the session in Jules (its thread is gone); a failure only leaves it unarchived there."""
    try:
        with services.jules(fetch.key) as client:
            client.archive_session(fetch.jules_id)
    except RadError as error:
        log.info("refine session not archived", extra={"refine_session": fetch.row_id, "error": error.message})


def _thread_lost(session: Session, row: RefineSession) -> bool:
    """Whether a post to the thread failed for good (the thread, or its channel, was deleted in chat)."""
    prefix = f"refine:{row.id}:"
    failed = session.scalars(select(Job.payload).where(Job.kind == POST_KIND, Job.status == JobStatus.FAILED,
                                                       Job.payload["key"].as_string().startswith(prefix)))
    return failed.first() is not None


def _open_thread(session: Session, row: RefineSession, now: datetime) -> bool:
    """Bind the thread once the first message is posted; False (ask again soon) until then."""
    ref, job = views.posted(session, views.open_key(row.id))
    if ref is None:
        if job is None or job.status == JobStatus.FAILED:
            _end_with(session, row, now, "", note="its first message could not be posted in the channel")
        else:
            row.next_poll_at = now + timedelta(seconds=2)
        return False
    sessions.set_thread(session, row, ref.message)
    post_later(session, f"refine:{row.id}:intro", views.intro_text(row), where=sessions.thread_ref(row))
    return True


def _failed(session: Session, row: RefineSession, error: RadError, now: datetime) -> None:
    """Jules refused or did not answer: say why once (per kind), and ask again later, backing off."""
    row.failures += 1
    if isinstance(error, NotFound):
        _end_with(session, row, now, f":warning: Jules no longer has this session ({error.message}). It has "
                                     f"ended; start again with `/rad refine {row.module_name}`.")
        return
    if isinstance(error, InvalidInput):  # the owner's key was refused
        post_later(session, f"refine:{row.id}:key-refused:{row.cursor}", f":warning: {error.message} The owner "
                   "connects a new key with `/rad connect jules`; the session continues then.",
                   where=sessions.thread_ref(row))
    elif row.failures == 3:
        post_later(session, f"refine:{row.id}:unavailable:{row.cursor}", f":hourglass: {error.message} This thread "
                   "keeps trying and catches up when Jules answers again.", where=sessions.thread_ref(row))
    delay = min(sessions.MAX_BACKOFF, timedelta(seconds=10 * 2 ** min(row.failures, 8)))
    row.next_poll_at, row.poll_seconds = now + delay, int(delay.total_seconds())


def _end_with(session: Session, row: RefineSession, now: datetime, text: str, note: str = "") -> None:
    """End the session by the bot, telling the thread ``text`` when it has one."""
    sessions.end(session, row, None, now, note=note or text[:300], status=RefineStatus.FAILED)
    _clear_status(session, row, "ended")
    if text and row.chat_thread:
        post_later(session, f"refine:{row.id}:over", text, where=sessions.thread_ref(row))


def _schedule(session: Session, row: RefineSession, fetch: _Fetch, now: datetime) -> None:
    """When to ask again: soon while Jules works or messages wait, slowly while it waits, never once done."""
    state = fetch.session.state if fetch.session is not None else row.jules_state
    answering = _answering(row, fetch, state)
    if row.jules_state in WORKING and state not in WORKING:
        _clear_status(session, row, row.cursor)
    row.jules_state = state[:40]
    if row.pending:
        delay: timedelta | None = sessions.FAST
    elif state in DONE and answering:
        delay = _answer_pace(row.cursor, now)
    elif state in DONE:
        delay = None
    elif state in WORKING:
        delay = sessions.FAST
    else:
        delay = sessions.SLOW
    row.next_poll_at = now + delay if delay is not None else None
    row.poll_seconds = int(delay.total_seconds()) if delay is not None else 0
    if state == "AWAITING_USER_FEEDBACK" and fetch.activities and fetch.activities[-1].originator != "user":
        post_later(session, f"refine:{row.id}:waiting:{fetch.activities[-1].id}",
                   ":speech_balloon: Jules is waiting for your answer: reply in this thread.",
                   where=sessions.thread_ref(row))


def _answering(row: RefineSession, fetch: _Fetch, state: str) -> bool:
    """Whether a finished session has a message from the team Jules has not answered yet.

    Jules revives a completed session some time after ``sendMessage``: until an agent activity comes, the
    session is asked on (a finished session's ``poll_seconds`` is 0 otherwise, so a pace marks it).
    """
    if state not in DONE:
        return False
    if fetch.sent or (fetch.activities and fetch.activities[-1].originator == "user"):
        return True
    return not fetch.activities and row.jules_state in DONE and row.poll_seconds > 0


def _answer_pace(cursor: str, now: datetime) -> timedelta | None:
    """How soon to ask a finished session for its answer.

    At the working pace for 2 minutes after the team's message (the last activity relayed), then once a
    minute, and no more after 30 minutes.
    """
    try:
        age = now - datetime.fromisoformat(cursor)
    except (ValueError, TypeError):
        return sessions.SLOW
    if age < timedelta(minutes=2):
        return sessions.FAST
    return sessions.SLOW if age < timedelta(minutes=30) else None


# -- one activity -----------------------------------------------------------------------------------------

def _show(session: Session, row: RefineSession, activity: Activity, jules: JulesSession | None) -> bool:
    """Post what ``activity`` shows in the thread (once: its key names it); False to stop for this turn."""
    key, where = f"refine:{row.id}:{activity.id}", sessions.thread_ref(row)
    if activity.kind == "agentMessaged" and activity.message:
        post_later(session, key, f":robot_face: *Jules:* {views.clip(activity.message)}", where=where)
    elif activity.kind == "progressUpdated":
        return _progress(session, row, activity)
    elif activity.kind == "planGenerated":
        steps = sorted(activity.plan_steps, key=lambda s: s.index)
        row.plan_id, row.plan_decision = activity.plan_id[:64], RefineDecision.PENDING
        row.plan_decided_by = row.plan_decided_at = None
        row.plan_steps = "\n".join(f"{n}. {s.title}" + (f" – _{s.description}_" if s.description else "")
                                   for n, s in enumerate(steps, 1))
        post_later(session, views.plan_key(row.id, row.plan_id), views.plan_text(row), where=where,
                   buttons=views.plan_buttons(row))
    elif activity.kind == "planApproved" and activity.plan_id == row.plan_id \
            and row.plan_decision == RefineDecision.PENDING:
        row.plan_decision = RefineDecision.APPROVED  # approved in Jules itself: no one in chat decided
        views.edit_plan_card(session, row, views.decider(session, None))
    elif activity.kind == "sessionCompleted":
        _completed(session, row, activity, jules)
    elif activity.kind == "sessionFailed":
        reason = activity.failure_reason or "no reason given"
        post_later(session, key, f":x: Jules could not finish: {views.clip(reason, 500)}\nPost a message in this "
                   "thread to have it try again, or End the session.", where=where)
    return True


def _progress(session: Session, row: RefineSession, activity: Activity) -> bool:
    """The one status message of the thread: posted first, then edited in place with each step."""
    detail = activity.progress_description.strip().splitlines()
    text = f":hourglass_flowing_sand: *Jules is working* – {activity.progress_title or 'working'}"
    if detail:
        text += f"\n`{views.clip(' '.join(detail[:3]), 300)}`"
    status = f"is working: {views.clip(activity.progress_title or 'working', 80)}"
    status_key = f"refine:{row.id}:status"
    if not row.status_message:
        ref, job = views.posted(session, status_key)
        if ref is not None:
            row.status_message = ref.message[:64]
        elif _shown_as_status(job):  # the platform shows the thread's status itself: set it again
            post_later(session, f"refine:{row.id}:{activity.id}", text, where=sessions.thread_ref(row),
                       status=status)
            return True
        elif job is None:
            post_later(session, status_key, text, where=sessions.thread_ref(row), status=status)
            return True
        elif job.status == JobStatus.QUEUED:  # not posted yet: it goes out with the latest step
            job.payload = {**job.payload, "text": text, "status": status}
            return True
        else:
            return False
    post_later(session, f"refine:{row.id}:{activity.id}", text, where=views.status_ref(row), edit=True)
    return True


def _shown_as_status(job: Job | None) -> bool:
    """Whether the status row was shown as the thread's working status (Slack's setStatus), not as a message."""
    sent = (job.payload or {}).get("sent") if job is not None else None
    return isinstance(sent, dict) and bool(sent.get("status"))


def _clear_status(session: Session, row: RefineSession, why: str) -> None:
    """Clear the thread's working status when it was shown as one (nothing to do for a status message)."""
    if row.chat_thread and _shown_as_status(views.posted(session, f"refine:{row.id}:status")[1]):
        post_later(session, f"refine:{row.id}:status-clear:{why}", "", where=sessions.thread_ref(row), status="")


def _completed(session: Session, row: RefineSession, activity: Activity, jules: JulesSession | None) -> None:
    """The session's end: the pull request card (Merge / Close), or the change when no pull request came."""
    patch = next((str(((a.get("changeSet") or {}).get("gitPatch") or {}).get("unidiffPatch", ""))
                  for a in activity.artifacts if isinstance(a, dict) and a.get("changeSet")), "")
    pulls = jules.pull_requests if jules is not None else ()
    pull = pulls[-1] if pulls else None
    where = sessions.thread_ref(row)
    if pull is not None and pull.url and pull.url != row.pr_url:
        row.pr_url, row.pr_title = pull.url[:500], pull.title[:300]
        row.pr_summary, row.pr_decision = views.diff_summary(patch), RefineDecision.PENDING
        row.pr_decided_by = row.pr_decided_at = None
        post_later(session, views.pull_key(row.id, row.pr_url), views.pull_text(row), where=where,
                   buttons=views.pull_buttons(row))
    elif pull is None:
        summary = views.diff_summary(patch) or "no change to the code"
        post_later(session, f"refine:{row.id}:{activity.id}", f":white_check_mark: Jules finished without a pull "
                   f"request:\n{summary}\nPost a message here to ask for more.", where=where)
