"""Refine sessions in core, on a real database against the Jules emulator: start, one live session per
module, what is missing said exactly, collaborators, one decision per card, end."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.accounts import identity
from core.accounts.identity import IdentityKey
from core.conversations import ConversationRef
from core.errors import InvalidInput, NotAllowed, NotFound
from core.jules import sessions
from core.jules.client import JulesUnavailable
from core.repos.connections import JULES_KEY, jules_source
from core.secrets import store
from core.services import Services
from storage.db import Database
from storage.models import (
    AuditEvent,
    JulesConnection,
    Module,
    RefineDecision,
    RefineSession,
    RefineStatus,
    User,
    utcnow,
)
from tests.emulators.jules import JulesEmulator

REPOSITORY = "pat/modules"
WHERE = ConversationRef("slack", "T1", "C1")


def make_users(db: Database) -> dict[str, int]:
    with db.unit_of_work() as session:
        users = {name: identity.create_user(session, IdentityKey("slack", "T1", f"U{name.upper()}"), name)
                 for name in ("pat", "cleo", "eve")}
        session.flush()
        return {name: user.id for name, user in users.items()}


def partner_module(db: Database, services: Services, owner_id: int, key: str, *, sources: list[str] | None = None,
                   ) -> None:
    with db.unit_of_work() as session:
        session.add(Module(name="network", source="partner", owner_id=owner_id, repository=REPOSITORY,
                           commit="a" * 40))
        secret = store(session, services.secrets, kind=JULES_KEY, plaintext=key, owner_id=owner_id, now=utcnow())
        session.add(JulesConnection(owner_id=owner_id, key_secret_id=secret.id,
                                    sources=[jules_source(REPOSITORY)] if sources is None else sources))


@pytest.fixture
def users(db: Database) -> dict[str, int]:
    return make_users(db)


@pytest.fixture
def key(jules: JulesEmulator) -> str:
    jules.add_source(REPOSITORY)
    return jules.add_key()


def test_a_start_creates_one_scoped_session_that_waits_for_plan_approval(
        db: Database, services: Services, jules: JulesEmulator, users: dict[str, int], key: str) -> None:
    partner_module(db, services, users["pat"], key)
    row = sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    assert row.status == RefineStatus.ACTIVE and row.jules_url.startswith("https://jules.google.com/session/")
    [created] = [c for c in jules.calls() if c.method == "POST" and c.path == "/sessions"]
    assert created.body["requirePlanApproval"] is True and created.body["automationMode"] == "AUTO_CREATE_PR"
    assert created.body["sourceContext"] == {"source": "sources/github/pat/modules",
                                             "githubRepoContext": {"startingBranch": "main"}}
    assert "`network/`" in created.body["prompt"] and "variables" in created.body["prompt"]

    with pytest.raises(sessions.AlreadyLive) as again:
        sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    assert again.value.session_id == row.id and "Resume" in (again.value.hint or "")
    assert len([c for c in jules.calls() if c.path == "/sessions"]) == 1, "no second Jules session"
    with db.unit_of_work() as session:
        [audited] = session.scalars(select(AuditEvent).where(AuditEvent.action == "refine.start"))
        assert key not in str(audited.detail) and audited.target == "network"


def test_what_is_missing_is_said_and_nothing_is_kept(db: Database, services: Services, jules: JulesEmulator,
                                                   users: dict[str, int], key: str) -> None:
    partner_module(db, services, users["pat"], key, sources=[])
    with pytest.raises(NotFound) as unseen:
        sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    assert "Jules cannot see *pat/modules*" in unseen.value.message
    assert "Jules GitHub app" in (unseen.value.hint or "")
    with pytest.raises(NotFound):  # someone else's private module: not even its existence is shown
        sessions.start(db, services, users["cleo"], "network", WHERE, utcnow())

    with db.unit_of_work() as session:  # registered as a source here, but Jules lost it meanwhile
        session.scalars(select(JulesConnection)).one().sources = [jules_source(REPOSITORY)]
    jules._sources.clear()
    with pytest.raises(NotFound) as lost:
        sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    assert "Jules GitHub app" in (lost.value.hint or "")
    jules.add_source(REPOSITORY)
    jules.revoke_key(key)
    with pytest.raises(InvalidInput) as refused:
        sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    assert "Jules refused the API key" in refused.value.message and key not in str(refused.value)
    with db.unit_of_work() as session:
        assert session.scalars(select(RefineSession)).all() == [], "a refused start keeps no session"


def test_only_the_owner_and_collaborators_decide_and_a_plan_is_approved_once(
        db: Database, services: Services, users: dict[str, int], key: str) -> None:
    partner_module(db, services, users["pat"], key)
    row = sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    with db.unit_of_work() as session:
        pat, cleo, eve = (session.get_one(User, users[n]) for n in ("pat", "cleo", "eve"))
        with pytest.raises(NotFound):
            sessions.add_collaborator(session, cleo, "network", eve)
        assert sessions.add_collaborator(session, pat, "network", cleo)
        assert not sessions.add_collaborator(session, pat, "network", cleo)
        live = session.get_one(RefineSession, row.id)
        live.plan_id, live.plan_decision = "p1", RefineDecision.PENDING
        with pytest.raises(NotAllowed):
            sessions.decide_plan(session, live, eve, "p1", RefineDecision.APPROVED, utcnow())

    results: list[bool] = []

    def approve(name: str) -> None:
        with db.unit_of_work() as session:
            results.append(sessions.decide_plan(session, sessions.find(session, row.id),
                                                session.get_one(User, users[name]), "p1", RefineDecision.APPROVED,
                                                utcnow()))

    both = [threading.Thread(target=approve, args=(n,)) for n in ("pat", "cleo")]
    for t in both:
        t.start()
    for t in both:
        t.join()
    assert sorted(results) == [False, True], "two people at once: one approval"
    with db.unit_of_work() as session:
        decided = session.get_one(RefineSession, row.id)
        assert decided.plan_decision == RefineDecision.APPROVED and decided.plan_decided_by in (users["pat"],
                                                                                              users["cleo"])
        assert sessions.remove_collaborator(session, session.get_one(User, users["pat"]), "network",
                                            session.get_one(User, users["cleo"]))
        assert not sessions.may_decide(session, decided.module_id, decided.owner_id,
                                       session.get_one(User, users["cleo"]))


def test_an_ended_session_frees_the_module_and_refuses_messages(
        db: Database, services: Services, users: dict[str, int], key: str) -> None:
    partner_module(db, services, users["pat"], key)
    row = sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    with db.unit_of_work() as session:
        live = sessions.find(session, row.id)
        sessions.queue_message(session, live, "cleo", "add a NAT toggle", utcnow())
        assert live.pending[0]["text"].startswith("[Module `network` (folder `network/`), from cleo] add a NAT")
        with pytest.raises(NotAllowed):
            sessions.end(session, live, session.get_one(User, users["eve"]), utcnow())
        assert sessions.end(session, live, session.get_one(User, users["pat"]), utcnow())
        assert not sessions.end(session, live, session.get_one(User, users["pat"]), utcnow() + timedelta(1))
        assert live.live_module_id is None and live.status == RefineStatus.ENDED
        with pytest.raises(Exception, match="has ended"):
            sessions.queue_message(session, live, "cleo", "more", utcnow())
    again = sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    assert again.id != row.id and again.status == RefineStatus.ACTIVE


def test_jules_down_at_start_keeps_nothing_and_the_key_never_reaches_a_log(
        db: Database, services: Services, jules: JulesEmulator, users: dict[str, int], key: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    partner_module(db, services, users["pat"], key)
    jules.fail(times=10, status=500)  # more than the client's retries
    with pytest.raises(JulesUnavailable, match="Jules is not answering right now"):
        sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    with db.unit_of_work() as session:
        assert session.scalars(select(RefineSession)).all() == [], "the module can be started again"
    jules.clear_faults()
    started = sessions.start(db, services, users["pat"], "network", WHERE, utcnow())
    assert started.status == RefineStatus.ACTIVE
    assert key not in caplog.text and key not in repr(started.__dict__)
