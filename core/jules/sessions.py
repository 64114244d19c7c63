"""Refine sessions: a module's owner starts a Jules session on it; the team around the module decides.

One live session per module (a unique ``live_module_id``). Starting checks the owner, the Jules key and
that the repository is a Jules source, keeps a STARTING row, creates the Jules session with no transaction
open, then records it (or drops the row when Jules refused). Only the owner and the collaborators they
name may approve a plan, merge or close a pull request, or end the session; every decision is taken once
(a conditional UPDATE) and audited, and so is every refusal. The Jules key is opened only for a call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.catalog import browse
from core.conversations import ConversationRef, bind_thread
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.repos import connections
from core.secrets import reveal
from core.services import Services
from storage.db import Database
from storage.models import (
    Module,
    RefineCollaborator,
    RefineDecision,
    RefineSession,
    RefineStatus,
    StoredSecret,
    User,
)

THREAD_HANDLER = "refine"
"""The thread handler refine threads are bound to (their subject is the session's row id)."""
FAST, SLOW = timedelta(seconds=5), timedelta(seconds=60)
"""How often the relay asks Jules while it works, and while it waits for the team."""
MAX_BACKOFF = timedelta(minutes=10)
MESSAGE_MAX = 4000
INSTALL_HINT = ("Install the Jules GitHub app on it (jules.google.com → Settings → Repositories), then run "
                "`/rad connect jules` again so RAD sees it.")
LIVE = (RefineStatus.STARTING, RefineStatus.ACTIVE)


class AlreadyLive(Conflict):
    """The module has a live session already; ``session_id`` is its row, to offer Resume or End."""

    def __init__(self, row: RefineSession) -> None:
        super().__init__(f"`{row.module_name}` already has a live Jules session.",
                         hint="Resume it (its thread continues) or End it to start afresh.")
        self.session_id = row.id


@dataclass(frozen=True)
class StartTicket:
    """What creating the Jules session needs, read in a unit of work and used with none open."""

    row_id: int
    key: str = field(repr=False)
    source: str
    branch: str
    prompt: str
    title: str


def first_prompt(module: str, branch: str) -> str:
    """The session's first prompt: the module's folder, and an analysis of its variables and features."""
    return (f"This repository holds Terraform modules, one per top-level folder. Work only on the module in the "
            f"folder `{module}/` (branch `{branch}`). First, analyse it: list each of its variables (name, type, "
            "default, what it controls) and its features (the resources it creates, its outputs), and say what "
            "could be improved. Then wait for instructions from the team before changing anything.")


def with_context(row: RefineSession, author: str, text: str) -> str:
    """A thread message as sent to Jules: prefixed with the module it is about and who wrote it."""
    return f"[Module `{row.module_name}` (folder `{row.module_name}/`), from {author}] {text}"[:MESSAGE_MAX]


def thread_ref(row: RefineSession) -> ConversationRef:
    """The session's thread (or, before its first message is posted, the channel it goes to)."""
    return ConversationRef(row.chat_platform, row.chat_workspace, row.chat_channel, row.chat_thread)


def find(session: Session, row_id: str | int) -> RefineSession:
    """The session row ``row_id`` (a button value); NotFound for anything else."""
    text = str(row_id)
    row = session.get(RefineSession, int(text)) if text.isdigit() and len(text) < 12 else None
    if row is None:
        raise NotFound("That Jules session does not exist any more.", hint="Start one with `/rad refine <module>`.")
    return row


def live_for(session: Session, module_id: int) -> RefineSession | None:
    """The module's live session, if any."""
    return session.scalars(select(RefineSession).where(RefineSession.live_module_id == module_id)).one_or_none()


# -- who decides ----------------------------------------------------------------------------------------

def collaborators(session: Session, module_id: int) -> list[User]:
    """The users the module's owner named as collaborators, by name."""
    users = session.scalars(select(User).join(RefineCollaborator, RefineCollaborator.user_id == User.id)
                            .where(RefineCollaborator.module_id == module_id))
    return sorted(users, key=lambda u: u.display_name.lower())


def may_decide(session: Session, module_id: int, owner_id: int, user: User) -> bool:
    """Whether ``user`` is the module's owner or one of its collaborators."""
    if user.id == owner_id:
        return True
    return session.scalars(select(RefineCollaborator.id).where(
        RefineCollaborator.module_id == module_id, RefineCollaborator.user_id == user.id)).first() is not None


def require_decider(session: Session, row: RefineSession, actor: User, what: str, platform: str = "") -> None:
    """Refuse (NotAllowed) unless ``actor`` may decide in this session; the refusal is audited by the caller."""
    if not may_decide(session, row.module_id, row.owner_id, actor):
        raise NotAllowed(f"Only the owner of `{row.module_name}` and the collaborators they named may {what}.",
                         hint=f"Ask the owner to run `/rad refine collaborators {row.module_name} add` for you.")


def owned_module(session: Session, actor: User, name: str) -> Module:
    """The module called ``name`` if ``actor`` published it (only its owner refines it or names collaborators)."""
    module = browse.find_visible(session, actor, name)
    if module.owner_id is None or module.owner_id != actor.id:
        raise NotAllowed(f"Only the partner who published `{module.name}` can refine it.")
    return module


def owned_or_shared(session: Session, actor: User, name: str) -> Module:
    """The module called ``name`` if ``actor`` owns it or collaborates on it; NotFound otherwise."""
    wanted = name.strip()
    module = session.scalars(select(Module).where(Module.name_key == Module.key_for(wanted))).first() \
        if 0 < len(wanted) <= 100 else None
    if module is None or module.owner_id is None or not may_decide(session, module.id, module.owner_id, actor):
        shown = browse.printable(wanted)[:100]
        raise NotFound(f"There is no module `{shown}` whose Jules sessions you take part in.",
                       hint="Its owner names collaborators with `/rad refine collaborators`.")
    return module


def add_collaborator(session: Session, actor: User, module_name: str, user: User, platform: str = "") -> bool:
    """Let ``user`` decide in ``module_name``'s refine threads; False when they already could."""
    module = owned_module(session, actor, module_name)
    if user.id == actor.id:
        raise InvalidInput("You own the module: you may decide in its threads already.")
    if may_decide(session, module.id, actor.id, user):
        return False
    session.add(RefineCollaborator(module_id=module.id, user_id=user.id, added_by=actor.id))
    session.flush()
    audit.record(session, actor, "refine.collaborator.add", target=module.name, platform=platform,
                 user=user.display_name)
    return True


def remove_collaborator(session: Session, actor: User, module_name: str, user: User, platform: str = "") -> bool:
    """Stop ``user`` deciding in ``module_name``'s refine threads; False when they were no collaborator."""
    module = owned_module(session, actor, module_name)
    row = session.scalars(select(RefineCollaborator).where(
        RefineCollaborator.module_id == module.id, RefineCollaborator.user_id == user.id)).first()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    audit.record(session, actor, "refine.collaborator.remove", target=module.name, platform=platform,
                 user=user.display_name)
    return True


# -- start ----------------------------------------------------------------------------------------------

def jules_key(session: Session, services: Services, owner_id: int) -> str:
    """The owner's Jules key, opened for one call; NotFound naming how to connect one."""
    owner = session.get(User, owner_id)
    conn = connections.find_jules(session, owner) if owner is not None else None
    secret = session.get(StoredSecret, conn.key_secret_id) if conn is not None and conn.key_secret_id else None
    if secret is None:
        raise NotFound("No Jules API key is connected.", hint="Run `/rad connect jules` and paste your key.")
    return reveal(services.secrets, secret)


def begin_start(session: Session, services: Services, actor: User, module_name: str, where: ConversationRef | None,
                now: datetime) -> StartTicket:
    """Check everything a start needs and keep a STARTING row; AlreadyLive when the module has a live session."""
    module = owned_module(session, actor, module_name)
    if where is None or not where.channel:
        raise InvalidInput("Start a Jules session from a channel: its thread is where the team talks to Jules.")
    conn = connections.find_jules(session, actor)
    if conn is None or conn.key_secret_id is None:
        raise NotFound("No Jules API key is connected.", hint="Run `/rad connect jules` and paste your key.")
    source = connections.jules_source(module.repository)
    if not module.repository or source not in conn.sources:
        raise NotFound(f"Jules cannot see *{module.repository or 'the repository'}* yet.", hint=INSTALL_HINT)
    live = live_for(session, module.id)
    if live is not None:
        raise AlreadyLive(live)
    repo = connections.find_repo(session, actor)
    branch = (repo.default_branch if repo is not None and repo.full_name == module.repository else "") or "main"
    row = RefineSession(module_id=module.id, module_name=module.name, owner_id=actor.id, live_module_id=module.id,
                        status=RefineStatus.STARTING, source=source, branch=branch,
                        chat_platform=where.platform, chat_workspace=where.workspace[:64],
                        chat_channel=where.channel[:64], created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raced = live_for(session, module.id)
        if raced is not None:
            raise AlreadyLive(raced) from None
        raise
    return StartTicket(row.id, jules_key(session, services, actor.id), source, branch,
                       first_prompt(module.name, branch), f"Refine {module.name}")


def start(db: Database, services: Services, actor_id: int, module_name: str, where: ConversationRef | None,
          now: datetime, platform: str = "") -> RefineSession:
    """Start a session: check and reserve, create it at Jules (no transaction open), then record it.

    Raises the client's RadError (key refused, repository unknown to Jules, Jules unavailable) after
    dropping the reserved row, so the module can be started again.
    """
    with db.unit_of_work() as session:
        ticket = begin_start(session, services, session.get_one(User, actor_id), module_name, where, now)
    try:
        with services.jules(ticket.key) as client:
            created = client.create_session(ticket.prompt, ticket.source, branch=ticket.branch, title=ticket.title)
    except NotFound:
        _drop(db, ticket.row_id)
        raise NotFound(f"Jules cannot see `{ticket.source.removeprefix('sources/github/')}`.",
                       hint=INSTALL_HINT) from None
    except BaseException:
        _drop(db, ticket.row_id)
        raise
    with db.unit_of_work() as session:
        row = session.get_one(RefineSession, ticket.row_id)
        row.jules_session, row.jules_url = created.id[:64], created.url[:300]
        row.jules_state, row.status = created.state[:40], RefineStatus.ACTIVE
        row.next_poll_at, row.poll_seconds = now, int(FAST.total_seconds())
        audit.record(session, session.get(User, actor_id), "refine.start", target=row.module_name,
                     platform=platform, jules_session=created.id)
        session.flush()
        session.expunge(row)
        return row


def _drop(db: Database, row_id: int) -> None:
    with db.unit_of_work() as session:
        row = session.get(RefineSession, row_id)
        if row is not None:
            session.delete(row)


def set_thread(session: Session, row: RefineSession, thread: str) -> None:
    """Record the thread the session's first message opened, and route its messages to the refine handler."""
    row.chat_thread = thread[:64]
    bind_thread(session, thread_ref(row), THREAD_HANDLER, str(row.id))


def wake(row: RefineSession, now: datetime) -> None:
    """Ask Jules again soon (something was sent, or someone resumed the session)."""
    if row.status in LIVE:
        row.next_poll_at, row.poll_seconds, row.failures = now, int(FAST.total_seconds()), 0


# -- messages and decisions -------------------------------------------------------------------------------

def queue_message(session: Session, row: RefineSession, author: str, text: str, now: datetime) -> None:
    """Keep a thread message for Jules; the relay sends it (``sendMessage``) with no transaction open."""
    if row.status not in LIVE:
        raise Conflict(f"This Jules session on `{row.module_name}` has ended: the message was not sent.",
                       hint=f"Start a new one with `/rad refine {row.module_name}`.")
    text = text.strip()
    if not text:
        return
    row.pending = [*row.pending, {"id": uuid.uuid4().hex, "text": with_context(row, author, text)}]
    wake(row, now)
    session.flush()


def sent(session: Session, row_id: int, ids: set[str]) -> None:
    """Forget the pending messages ``ids`` (sent to Jules); those queued meanwhile stay."""
    row = session.get_one(RefineSession, row_id)
    row.pending = [m for m in row.pending if m.get("id") not in ids]


def decide_plan(session: Session, row: RefineSession, actor: User, plan_id: str, decision: RefineDecision,
                now: datetime, platform: str = "") -> bool:
    """Take the plan's one decision for ``actor`` (re-checked); False when it was taken already (by anyone)."""
    require_decider(session, row, actor, "approve its plan")
    taken = session.execute(update(RefineSession).where(
        RefineSession.id == row.id, RefineSession.plan_id == plan_id,
        RefineSession.plan_decision == RefineDecision.PENDING).values(
        plan_decision=decision, plan_decided_by=actor.id, plan_decided_at=now))
    won = bool(getattr(taken, "rowcount", 0))
    session.refresh(row)
    audit.record(session, actor, f"refine.plan.{decision.value}", target=row.module_name, platform=platform,
                 outcome="ok" if won else "duplicate", plan=plan_id)
    return won


def undo_plan(session: Session, row_id: int, plan_id: str) -> None:
    """Put the plan back to waiting (Jules did not take the approval), so it can be approved again."""
    session.execute(update(RefineSession).where(RefineSession.id == row_id, RefineSession.plan_id == plan_id)
                    .values(plan_decision=RefineDecision.PENDING, plan_decided_by=None, plan_decided_at=None))


def decide_pull(session: Session, row: RefineSession, actor: User, decision: RefineDecision, now: datetime,
                platform: str = "") -> bool:
    """Take the pull request's one decision (merge or close) for ``actor``; False when it was taken already."""
    require_decider(session, row, actor, "merge or close its pull request")
    taken = session.execute(update(RefineSession).where(
        RefineSession.id == row.id, RefineSession.pr_decision == RefineDecision.PENDING).values(
        pr_decision=decision, pr_decided_by=actor.id, pr_decided_at=now))
    won = bool(getattr(taken, "rowcount", 0))
    session.refresh(row)
    audit.record(session, actor, f"refine.pull.{decision.value}", target=row.module_name, platform=platform,
                 outcome="ok" if won else "duplicate", pull=row.pr_url)
    return won


def end(session: Session, row: RefineSession, actor: User | None, now: datetime, *, note: str = "",
        status: RefineStatus = RefineStatus.ENDED, platform: str = "") -> bool:
    """End the session (owner or collaborator; None: the bot itself); False when it was over already."""
    if actor is not None:
        require_decider(session, row, actor, "end its Jules session")
    taken = session.execute(update(RefineSession).where(
        RefineSession.id == row.id, RefineSession.status.in_(LIVE)).values(
        status=status, live_module_id=None, ended_at=now, next_poll_at=None, end_note=note[:300]))
    won = bool(getattr(taken, "rowcount", 0))
    session.refresh(row)
    if won:
        audit.record(session, actor, "refine.end", target=row.module_name, platform=platform,
                     outcome=status.value, note=note or None)
    return won
