"""The relay's schedule on a real database against the Jules emulator: every due session in one turn, a
waiting session costs one call a minute, and a message to a finished session is followed until Jules answers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from commands.handlers.refine_relay import BATCH, poll
from core.accounts import identity
from core.accounts.identity import IdentityKey
from core.conversations import ConversationRef
from core.jules import sessions
from core.repos.connections import JULES_KEY, jules_source
from core.secrets import store
from core.services import Services
from storage.db import Database
from storage.models import Job, JulesConnection, Module, RefineSession, utcnow
from tests.emulators.jules import Call, JulesEmulator

REPOSITORY = "pat/modules"
WHERE = ConversationRef("slack", "T1", "C1")


def started(db: Database, services: Services, jules: JulesEmulator, count: int) -> list[RefineSession]:
    """``count`` modules of one partner, each with a live session whose thread is open."""
    jules.add_source(REPOSITORY)
    key = jules.add_key()
    with db.unit_of_work() as session:
        owner = identity.create_user(session, IdentityKey("slack", "T1", "UPAT"), "pat")
        for n in range(count):
            session.add(Module(name=f"module-{n}", source="partner", owner_id=owner.id, repository=REPOSITORY,
                               commit="a" * 40))
        secret = store(session, services.secrets, kind=JULES_KEY, plaintext=key, owner_id=owner.id, now=utcnow())
        session.add(JulesConnection(owner_id=owner.id, key_secret_id=secret.id, sources=[jules_source(REPOSITORY)]))
        session.flush()
        owner_id = owner.id
    rows = [sessions.start(db, services, owner_id, f"module-{n}", WHERE, utcnow()) for n in range(count)]
    with db.unit_of_work() as session:
        for n, row in enumerate(rows):
            sessions.set_thread(session, session.get_one(RefineSession, row.id), f"{n + 1}.000100")
    return rows


def turn(db: Database, services: Services, jules: JulesEmulator, now: datetime) -> list[Call]:
    """One relay turn at ``now``; the Jules calls it made."""
    before = len(jules.calls())
    poll(db, services, now)
    return jules.calls()[before:]


def row_of(db: Database, row_id: int) -> RefineSession:
    with db.unit_of_work() as session:
        row = session.get_one(RefineSession, row_id)
        session.expunge(row)
        return row


def test_every_due_session_is_relayed_in_one_turn(db: Database, services: Services, jules: JulesEmulator) -> None:
    rows = started(db, services, jules, BATCH + 5)
    now = utcnow() + timedelta(seconds=1)
    calls = turn(db, services, jules, now)
    asked = {c.path.split("/")[2] for c in calls if c.path.endswith("/activities")}
    assert asked == {row.jules_session for row in rows}, "no session waits for the next turn"
    with db.unit_of_work() as session:
        due = session.scalars(select(RefineSession.next_poll_at)).all()
    assert all(at is not None and at > now for at in due)


def test_a_waiting_session_costs_one_call_a_minute_and_an_update_is_read_at_once(
        db: Database, services: Services, jules: JulesEmulator) -> None:
    [row] = started(db, services, jules, 1)
    jules.run(row.jules_session, until="AWAITING_PLAN_APPROVAL")
    now = utcnow() + timedelta(seconds=1)
    turn(db, services, jules, now)
    assert row_of(db, row.id).poll_seconds == 60, "waiting for the plan's approval: once a minute"

    for minute in (1, 2, 3):
        calls = turn(db, services, jules, now + timedelta(minutes=minute))
        assert [(c.method, c.path) for c in calls] == [("GET", f"/sessions/{row.jules_session}")]

    with services.jules(_key(db, services, row)) as client:
        client.approve_plan(row.jules_session)  # approved in Jules itself: the session was updated
    calls = turn(db, services, jules, now + timedelta(minutes=4))
    assert any(c.path.endswith("/activities") for c in calls), "an updated session's activities are read"
    assert row_of(db, row.id).poll_seconds == 5, "working again: every 5 s"


def test_a_message_to_a_finished_session_is_followed_until_jules_answers(
        db: Database, services: Services, jules: JulesEmulator) -> None:
    [row] = started(db, services, jules, 1)
    jules.session(row.jules_session).require_approval = False
    jules.run(row.jules_session, until="COMPLETED")
    now = utcnow() + timedelta(seconds=1)
    turn(db, services, jules, now)
    assert row_of(db, row.id).next_poll_at is None, "done: not asked again"

    with db.unit_of_work() as session:
        sessions.queue_message(session, session.get_one(RefineSession, row.id), "pat", "Add tags too.", now)
    turn(db, services, jules, now + timedelta(seconds=1))
    assert jules.session(row.jules_session).state == "COMPLETED", "Jules has not taken the message up yet"
    for seconds in (6, 11, 16):
        calls = turn(db, services, jules, now + timedelta(seconds=seconds))
        assert calls, "the finished session is asked while its message waits for an answer"
        assert row_of(db, row.id).poll_seconds == 5

    jules.advance(row.jules_session)  # the agent answers
    turn(db, services, jules, now + timedelta(seconds=21))
    with db.unit_of_work() as session:
        texts = [str(p.get("text", "")) for p in session.scalars(select(Job.payload))]
    assert any(jules.session(row.jules_session).script.reply in t for t in texts), "the answer reaches the thread"


def _key(db: Database, services: Services, row: RefineSession) -> str:
    with db.unit_of_work() as session:
        return sessions.jules_key(session, services, row.owner_id)

