"""Corrections on a real database: debits never below zero (also when racing), adjust-all once per user,
and the ledger invariant (each row's balance after is the running sum of the rows before it)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN as ADMIN_ROLE
from core.accounts.roles import FINANCE, grant_role
from core.credits import corrections
from core.credits import service as credits
from core.credits.ledger import check_balances
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from storage.db import Database
from storage.models import AuditEvent, CreditTransaction, User

D = Decimal


def person(s: Session, name: str, *, role: str | None = None) -> User:
    user = create_user(s, IdentityKey("console", "", name), name)
    if role is not None:
        grant_role(s, user, role)
    return user


def funded(db: Database, name: str, awarded: str = "0", purchased: str = "0") -> int:
    with db.unit_of_work() as s:
        admin = s.scalars(select(User).where(User.display_name == "ada")).first() or person(s, "ada", role=ADMIN_ROLE)
        user = person(s, name)
        if D(awarded):
            credits.award(s, admin, user, D(awarded), reason="start")
        if D(purchased):
            credits.purchase(s, admin, user, D(purchased), reason="start")
        return user.id


def admin_id(db: Database) -> int:
    with db.unit_of_work() as s:
        return s.scalars(select(User.id).where(User.display_name == "ada")).one()


def debit(db: Database, uid: int, amount: str, reason: str = "fix", *, by: int | None = None) -> CreditTransaction:
    with db.unit_of_work() as s:
        actor = s.get_one(User, by or admin_id(db))
        return corrections.debit(s, actor, s.get_one(User, uid), D(amount), reason=reason)


def ledger(db: Database, uid: int | None = None) -> list[CreditTransaction]:
    with db.unit_of_work() as s:
        query = select(CreditTransaction).order_by(CreditTransaction.id)
        return list(s.scalars(query if uid is None else query.where(CreditTransaction.user_id == uid)))


def assert_running_sums(db: Database) -> None:
    """Every row's ``balance_after`` is the sum of its user's awarded and purchased deltas so far."""
    running: dict[int, Decimal] = {}
    for row in ledger(db):
        running[row.user_id] = running.get(row.user_id, D(0)) + row.awarded_delta + row.purchased_delta
        assert row.balance_after == running[row.user_id], row.id
        assert row.balance_after >= 0
    with db.unit_of_work() as s:
        assert check_balances(s) == []


def test_a_debit_takes_awarded_first_then_purchased_and_keeps_the_running_sum(db: Database) -> None:
    uid = funded(db, "bob", awarded="10", purchased="20")
    row = debit(db, uid, "15", "double grant in March")
    assert (row.kind, row.awarded_delta, row.purchased_delta, row.balance_after) == ("DEBIT", D(-10), D(-5), D(15))
    assert row.description == "double grant in March"
    [event] = [e for e in ledger_audit(db) if e.action == "credits.debit"]
    assert D(event.detail["amount"]) == D(15) and event.detail["reason"] == "double grant in March"
    assert_running_sums(db)


def ledger_audit(db: Database) -> list[AuditEvent]:
    with db.unit_of_work() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_a_debit_larger_than_the_available_balance_is_refused_and_writes_nothing(db: Database) -> None:
    uid = funded(db, "bob", awarded="30")
    with db.unit_of_work() as s:
        credits.hold(s, s.get_one(User, uid), D(25), key="deploy-1")
    before = len(ledger(db))
    with pytest.raises(Conflict) as refused:
        debit(db, uid, "6")
    assert "has only 5 credits available" in refused.value.message and "30 awarded" in refused.value.message
    assert "25 held" in refused.value.message and "Nothing was changed" in refused.value.hint
    assert len(ledger(db)) == before
    assert debit(db, uid, "5").balance_after == D(25)  # exactly what is available: the hold can still be spent
    with db.unit_of_work() as s:
        credits.spend(s, "deploy-1")
    assert_running_sums(db)


@pytest.mark.parametrize(("amount", "reason", "expected"), [
    ("0", "x", "more than 0"), ("-5", "x", "more than 0"), ("0.00001", "x", "too many decimals"),
    ("1000000001", "x", "more than one operation may move"), ("5", "   ", "needs a reason"),
])
def test_bad_debits_are_refused(db: Database, amount: str, reason: str, expected: str) -> None:
    uid = funded(db, "bob", awarded="10")
    with pytest.raises(InvalidInput, match=expected):
        debit(db, uid, amount, reason)


def test_only_finance_and_admins_debit(db: Database) -> None:
    uid = funded(db, "bob", awarded="10")
    with db.unit_of_work() as s:
        eve, fin = person(s, "eve").id, person(s, "fin", role=FINANCE).id
    with pytest.raises(NotAllowed):
        debit(db, uid, "1", by=eve)
    assert debit(db, uid, "1", by=fin).balance_after == D(9)


def test_concurrent_debits_never_take_a_balance_below_zero(db: Database) -> None:
    uid = funded(db, "lee", awarded="20", purchased="15")
    barrier, outcomes, lock = threading.Barrier(8), [], threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            debit(db, uid, "10")
            result = "debited"
        except Conflict:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["debited"] * 3 + ["refused"] * 5
    assert ledger(db, uid)[-1].balance_after == D(5)
    assert_running_sums(db)


def adjust(db: Database, kind: str, amount: str, reason: str, *, confirmation: str | None = None,
           ) -> corrections.AdjustOutcome:
    with db.unit_of_work() as s:
        actor = s.get_one(User, admin_id(db))
        wanted = corrections.adjustment(actor, kind, D(amount), reason)
        return corrections.adjust_all(s, actor, wanted, confirmation=confirmation)


def test_adjust_all_gives_each_user_one_transaction_and_a_rerun_gives_nobody_twice(db: Database) -> None:
    ids = [funded(db, name) for name in ("bob", "cy", "dee")]
    first = adjust(db, "award", "50", "Launch bonus")
    assert len(first.applied) == 4 and first.skipped == 0 and first.total == D(200)  # ada too
    again = adjust(db, "award", "50", "Launch  bonus ")  # the same reason, spaced differently
    assert again.applied == () and again.skipped == 4 and again.total == 0
    late = funded(db, "eli")
    third = adjust(db, "award", "50", "Launch bonus")
    assert third.applied == (late,) and third.skipped == 4
    other = adjust(db, "purchase", "50", "Launch bonus")  # another kind is another adjustment
    assert len(other.applied) == 5
    for uid in ids:
        kinds = [(r.kind, r.amount, r.description) for r in ledger(db, uid)]
        assert kinds == [("AWARD", D(50), "Launch bonus"), ("PURCHASE", D(50), "Launch bonus")]
    assert_running_sums(db)


def test_a_large_adjustment_needs_the_typed_amount(db: Database) -> None:
    funded(db, "bob")
    with pytest.raises(InvalidInput, match="type 10,000"):
        adjust(db, "purchase", "10000", "Partner grant", confirmation="1000")
    assert [r for r in ledger(db) if r.description == "Partner grant"] == []
    done = adjust(db, "purchase", "10000", "Partner grant", confirmation="10000")
    assert len(done.applied) == 2 and done.total == D(20_000)


def test_an_adjustment_proposal_belongs_to_whoever_made_it(db: Database) -> None:
    funded(db, "bob")
    with db.unit_of_work() as s:
        ada = s.get_one(User, admin_id(db))
        token = corrections.propose(s, ada, corrections.adjustment(ada, "award", D(5), "Thanks"))
        fin = person(s, "fin", role=FINANCE)
        with pytest.raises(NotFound):
            corrections.proposal(s, fin, token)
        with pytest.raises(NotFound):
            corrections.proposal(s, ada, "' OR 1=1 --")
        assert corrections.proposal(s, ada, token).reason == "Thanks"


def test_the_same_adjustment_run_at_once_from_four_places_gives_each_user_one_row(db: Database) -> None:
    ids = [funded(db, f"u{n}") for n in range(5)]
    barrier, applied, lock = threading.Barrier(4), [], threading.Lock()

    def run() -> None:
        barrier.wait()
        outcome = adjust(db, "award", "3", "Race week")
        with lock:
            applied.extend(outcome.applied)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(applied) == sorted([*ids, admin_id(db)])
    for uid in ids:
        assert [r.amount for r in ledger(db, uid) if r.description == "Race week"] == [D(3)]
    assert_running_sums(db)
