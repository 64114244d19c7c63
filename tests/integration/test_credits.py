"""The credit ledger: commands through the dispatcher, and the core rules on a real database."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from commands.framework.dispatch import Dispatcher
from commands.ui.model import Reply
from core.accounts.identity import Caller, IdentityKey, create_user
from core.accounts.roles import ADMIN as ADMIN_ROLE
from core.accounts.roles import grant_role
from core.config import Config
from core.credits import service as credits
from core.credits.amounts import check_amount, format_credits, parse_amount
from core.credits.ledger import check_balances
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.settings import platform as credit_settings
from storage.db import Database
from storage.models import AuditEvent, ChatIdentity, CreditAccount, CreditTransaction, User

ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
BOB = Caller(IdentityKey("slack", "T1", "UBOB"), "Bob")
FIN = Caller(IdentityKey("slack", "T1", "UFIN"), "Fin")
D = Decimal


def text(outcome: object) -> str:
    assert isinstance(outcome, Reply), outcome
    return outcome.text + "".join(f"\n{f.label}: {f.value}" for c in outcome.cards for f in c.fields)


def audits(db: Database, action: str) -> list[AuditEvent]:
    with db.unit_of_work() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def rows(db: Database, kind: str | None = None) -> list[CreditTransaction]:
    with db.unit_of_work() as s:
        query = select(CreditTransaction).order_by(CreditTransaction.id)
        return list(s.scalars(query if kind is None else query.where(CreditTransaction.kind == kind)))


def user_id(db: Database, external_id: str) -> int:
    with db.unit_of_work() as s:
        return s.scalars(select(ChatIdentity.user_id).where(ChatIdentity.external_id == external_id)).one()


def balance(db: Database, uid: int) -> credits.Balance:
    with db.unit_of_work() as s:
        return credits.balance(s, s.get_one(User, uid))


def make_user(db: Database, name: str, *, awarded: str = "0", purchased: str = "0") -> int:
    """A registered user, funded by an admin created on the way."""
    with db.unit_of_work() as s:
        user = create_user(s, IdentityKey("console", "", name), name)
        admin = _core_admin(s)
        if D(awarded):
            credits.award(s, admin, user, D(awarded))
        if D(purchased):
            credits.purchase(s, admin, user, D(purchased))
        return user.id


def _core_admin(s: object) -> User:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    found = s.scalars(select(User).where(User.display_name == "core-admin")).first()
    if found is None:
        found = create_user(s, IdentityKey("console", "", "core-admin"), "core-admin")
        grant_role(s, found, ADMIN_ROLE)
    return found


def hold(db: Database, uid: int, amount: str, key: str, **kwargs: object) -> credits.Hold:
    with db.unit_of_work() as s:
        return credits.hold(s, s.get_one(User, uid), D(amount), key=key, **kwargs)  # type: ignore[arg-type]


def spend(db: Database, key: str) -> credits.Settlement:
    with db.unit_of_work() as s:
        return credits.spend(s, key)


def release(db: Database, key: str) -> credits.Settlement:
    with db.unit_of_work() as s:
        return credits.release(s, key)


def assert_sound(db: Database) -> None:
    with db.unit_of_work() as s:
        assert check_balances(s) == []


# -- commands ---------------------------------------------------------------------------------------


def test_signup_credits_are_granted_once_on_registration(dispatcher: Dispatcher, db: Database) -> None:
    assert "now 50 (was 0)" in text(dispatcher.run_text(ADMIN, "admin settings signup_credits 50"))
    reply = text(dispatcher.run_text(BOB, "credits"))
    assert "Awarded: 50" in reply and "+50 awarded at sign-up" in reply and "Available: 50" in reply
    dispatcher.run_text(BOB, "credits")
    signups = rows(db, "SIGNUP")
    assert [(r.amount, r.awarded_delta, r.balance_after) for r in signups] == [(D(50), D(50), D(50))]
    assert [e.target for e in audits(db, "credits.signup")] == [f"user:{signups[0].user_id}"]
    assert_sound(db)


def test_no_signup_credits_by_default_or_when_credits_are_off(dispatcher: Dispatcher, db: Database) -> None:
    assert "_No transactions yet._" in text(dispatcher.run_text(BOB, "credits"))
    dispatcher.run_text(ADMIN, "admin settings signup_credits 20")
    dispatcher.run_text(ADMIN, "admin settings enable_credits off")
    reply = text(dispatcher.run_text(FIN, "credits"))
    assert "Credits are turned off" in reply and "Awarded: 0" in reply
    assert rows(db, "SIGNUP") == []
    with db.unit_of_work() as s:  # every user has an account, even without a grant
        assert s.scalar(select(func.count()).select_from(CreditAccount)) == 3


def test_admin_awards_and_finance_purchases(dispatcher: Dispatcher, db: Database) -> None:
    dispatcher.run_text(BOB, "whoami")
    dispatcher.run_text(ADMIN, "admin grant <@UFIN> finance")
    reply = text(dispatcher.run_text(ADMIN, "admin credits <@UBOB> award 25 welcome aboard"))
    assert reply.startswith(":white_check_mark: Awarded 25 credits to <@UBOB> (welcome aboard).")
    assert "They are told in a direct message." in reply
    reply = text(dispatcher.run_text(FIN, "admin credits <@UBOB> purchase 12.5"))
    assert "Added 12.5 purchased credits" in reply and "25 awarded, 12.5 purchased, 37.5 available" in reply
    mine = text(dispatcher.run_text(BOB, "credits"))
    assert "+25 awarded" in mine and "welcome aboard" in mine and "+12.5 purchased" in mine
    assert "balance 37.5" in mine and "Held: 0" in mine
    grants = rows(db)
    assert [(r.kind, r.amount, r.awarded_delta, r.purchased_delta) for r in grants] == [
        ("AWARD", D(25), D(25), D(0)), ("PURCHASE", D("12.5"), D(0), D("12.5"))]
    assert grants[0].actor_id == user_id(db, "UADMIN") and grants[1].actor_id == user_id(db, "UFIN")
    award = audits(db, "credits.award")[0]
    assert award.platform == "slack" and award.detail["amount"] == "25.0000"
    assert award.detail["reason"] == "welcome aboard" and award.actor_id == user_id(db, "UADMIN")
    assert len(audits(db, "credits.purchase")) == 1
    assert_sound(db)


@pytest.mark.parametrize(("line", "expected"), [
    ("admin credits <@UBOB> award -5", "must be more than 0, not -5"),
    ("admin credits <@UBOB> award 0", "must be more than 0"),
    ("admin credits <@UBOB> award 1e3", "`1e3` is not an amount"),
    ("admin credits <@UBOB> purchase abc", "`abc` is not an amount"),
    ("admin credits <@UBOB> award 1.23456", "`1.23456` has too many decimals"),
    ("admin credits <@UBOB> award 2000000000", "more than one operation may move"),
    ("admin credits <@UNOBODY> award 5", "I don't know <@UNOBODY> yet"),
    ("admin credits <@UBOB> gift 5", "`gift` is not a valid kind"),
    ("admin credits <@UBOB> award", "`amount` is missing"),
])
def test_bad_credit_input_is_refused_clearly(dispatcher: Dispatcher, db: Database, line: str, expected: str) -> None:
    dispatcher.run_text(BOB, "whoami")
    assert expected in text(dispatcher.run_text(ADMIN, line))
    assert rows(db) == [] and audits(db, "credits.award") == []


def test_only_admins_and_finance_grant_credits_and_refusals_are_audited(dispatcher: Dispatcher,
                                                                       db: Database) -> None:
    reply = text(dispatcher.run_text(BOB, "admin credits <@UBOB> award 100"))
    assert "Only admins or finance can run `/rad admin credits`" in reply
    denied = audits(db, "access.denied")
    assert len(denied) == 1 and "admin credits" in denied[0].target and denied[0].outcome == "denied"
    assert rows(db) == []
    with db.unit_of_work() as s:  # the core refuses too, whoever calls it
        bob = s.get_one(User, user_id(db, "UBOB"))
        with pytest.raises(NotAllowed):
            credits.award(s, bob, bob, D(1))


def test_admin_settings_show_ranges_and_validate_changes(dispatcher: Dispatcher, db: Database) -> None:
    shown = text(dispatcher.run_text(ADMIN, "admin settings"))
    assert "`enable_credits` = *true*" in shown and "Allowed: true or false" in shown
    assert "`credits_per_unit` = *1*" in shown and "0.01 to 1,000,000, at most 2 decimals" in shown
    assert "`signup_credits` = *0*" in shown and "a whole number from 0 to 100,000" in shown
    assert "`partner_revenue_share` = *0%*" in shown and "0 to 100%, at most 2 decimals" in shown
    for line, expected in [
        ("admin settings credits_per_unit 0.001", "`credits_per_unit` must be 0.01 to 1,000,000"),
        ("admin settings credits_per_unit 0", "not `0`"),
        ("admin settings credits_per_unit 1000001", "not `1000001`"),
        ("admin settings signup_credits 1.5", "must be a whole number from 0 to 100,000, not `1.5`"),
        ("admin settings signup_credits -1", "not `-1`"),
        ("admin settings partner_revenue_share 100.5", "not `100.5`"),
        ("admin settings enable_credits maybe", "must be true or false"),
        ("admin settings credit_per_unit 5", "Did you mean `credits_per_unit`?"),
    ]:
        assert expected in text(dispatcher.run_text(ADMIN, line)), line
    assert audits(db, "settings.change") == []
    assert "now 100 (was 1)" in text(dispatcher.run_text(ADMIN, "admin settings credits_per_unit 100"))
    assert "now 12.5% (was 0%)" in text(dispatcher.run_text(ADMIN, "admin settings partner_revenue_share 12.5"))
    assert "`credits_per_unit` = *100*" in text(dispatcher.run_text(ADMIN, "admin settings credits_per_unit"))
    changes = audits(db, "settings.change")
    assert [(e.target, e.detail) for e in changes] == [
        ("setting:credits_per_unit", {"old": "1", "new": "100"}),
        ("setting:partner_revenue_share", {"old": "0%", "new": "12.5%"})]
    with db.unit_of_work() as s:
        assert credit_settings.credits_per_unit(s) == D(100)
        assert credit_settings.partner_revenue_share(s) == D("12.5")
    assert "Only admins" in text(dispatcher.run_text(BOB, "admin settings signup_credits 5"))


def test_other_users_credits_are_for_finance_and_admins(dispatcher: Dispatcher) -> None:
    dispatcher.run_text(BOB, "whoami")
    dispatcher.run_text(ADMIN, "admin credits <@UBOB> award 7")
    assert "Only finance and admins can see another user's credits" in text(dispatcher.run_text(FIN, "credits <@UBOB>"))
    dispatcher.run_text(ADMIN, "admin grant <@UFIN> finance")
    reply = text(dispatcher.run_text(FIN, "credits <@UBOB>"))
    assert "Awarded: 7" in reply


def test_credits_lists_the_last_ten_transactions(dispatcher: Dispatcher) -> None:
    dispatcher.run_text(BOB, "whoami")
    for n in range(1, 13):
        dispatcher.run_text(ADMIN, f"admin credits <@UBOB> award {n}")
    reply = text(dispatcher.run_text(BOB, "credits"))
    listed = [line for line in reply.splitlines() if line.startswith("• ")]
    assert len(listed) == 10 and "+12 awarded" in listed[0] and "balance 78" in listed[0]
    assert "+3 awarded" in listed[-1] and "Awarded: 78" in reply


# -- core rules -------------------------------------------------------------------------------------


def test_holds_refuse_with_both_error_codes(db: Database) -> None:
    uid = make_user(db, "carol", awarded="5", purchased="3")
    with pytest.raises(credits.InsufficientCredits) as total:
        hold(db, uid, "9", "h-total")
    assert total.value.message == "Not enough credits: this needs 9 credits and you have 8 available, 1 short."
    assert "INSUFFICIENT" not in str(total.value) and "Ask an admin" in total.value.hint
    assert total.value.code == "INSUFFICIENT_TOTAL_CREDITS"
    with pytest.raises(credits.InsufficientCredits) as purchased:
        hold(db, uid, "4", "h-purchased", purchased_only=True)
    assert purchased.value.code == "INSUFFICIENT_PURCHASED_CREDITS"
    assert "needs 4 purchased credits and you have 3 available, 1 short" in str(purchased.value)
    assert rows(db, "HOLD") == []
    hold(db, uid, "6", "h-six")  # takes all 5 awarded and 1 purchased when spent
    now = balance(db, uid)
    assert (now.held, now.available_total, now.available_purchased) == (D(6), D(2), D(2))
    with pytest.raises(credits.InsufficientCredits, match="needs 3 purchased credits") as three:
        hold(db, uid, "3", "h-three", purchased_only=True)
    assert three.value.code == "INSUFFICIENT_PURCHASED_CREDITS"
    hold(db, uid, "2", "h-two", purchased_only=True)
    assert balance(db, uid).available_total == 0
    spend(db, "h-six")
    spend(db, "h-two")
    now = balance(db, uid)
    assert (now.awarded, now.purchased, now.held) == (D(0), D(0), D(0))
    assert_sound(db)


def test_spend_takes_awarded_first_then_purchased(db: Database) -> None:
    uid = make_user(db, "dave", awarded="5", purchased="10")
    hold(db, uid, "8", "deploy-1", deployment="dep1", module="vpc")
    done = spend(db, "deploy-1")
    assert (done.kind, done.from_awarded, done.from_purchased, done.repeated) == ("SPEND", D(5), D(3), False)
    row = rows(db, "SPEND")[0]
    assert (row.awarded_delta, row.purchased_delta, row.held_delta) == (D(-5), D(-3), D(-8))
    assert (row.purchased_part, row.deployment_ref, row.module, row.balance_after) == (D(3), "dep1", "vpc", D(7))
    assert row.hold_id == rows(db, "HOLD")[0].id
    now = balance(db, uid)
    assert (now.awarded, now.purchased, now.held, now.available_total) == (D(0), D(7), D(0), D(7))
    assert_sound(db)


def test_purchased_only_holds_spend_purchased_credits_only(db: Database) -> None:
    uid = make_user(db, "erin", awarded="50", purchased="4")
    hold(db, uid, "4", "paid", purchased_only=True)
    done = spend(db, "paid")
    assert (done.from_awarded, done.from_purchased) == (D(0), D(4))
    now = balance(db, uid)
    assert (now.awarded, now.purchased) == (D(50), D(0))
    assert rows(db, "SPEND")[0].purchased_part == D(4)


def test_the_revenue_share_is_snapshotted_on_each_spend(db: Database) -> None:
    uid = make_user(db, "frank", purchased="100")
    with db.unit_of_work() as s:
        credit_settings.change(s, _core_admin(s), "partner_revenue_share", "10")
    hold(db, uid, "20", "a")
    spend(db, "a")
    hold(db, uid, "20", "b")
    with db.unit_of_work() as s:
        credit_settings.change(s, _core_admin(s), "partner_revenue_share", "25")
    spend(db, "b")
    assert [(r.revenue_share_pct, r.purchased_part) for r in rows(db, "SPEND")] == [(D(10), D(20)), (D(25), D(20))]
    assert spend(db, "a").revenue_share == D(10)  # a repeat reports what was recorded, not today's share


def test_spend_and_release_apply_exactly_once(db: Database) -> None:
    uid = make_user(db, "gina", awarded="30")
    first = hold(db, uid, "10", "k1", module="db")
    again = hold(db, uid, "10", "k1", module="db")
    assert (again.transaction_id, again.repeated, first.repeated) == (first.transaction_id, True, False)
    assert balance(db, uid).held == D(10)
    assert spend(db, "k1").repeated is False
    repeat = spend(db, "k1")
    assert (repeat.kind, repeat.repeated, repeat.from_awarded) == ("SPEND", True, D(10))
    assert release(db, "k1").kind == "SPEND"  # settled: releasing changes nothing
    hold(db, uid, "5", "k2")
    assert release(db, "k2").repeated is False
    assert release(db, "k2").repeated is True
    assert spend(db, "k2").kind == "RELEASE"
    assert [r.kind for r in rows(db) if r.kind != "AWARD"] == ["HOLD", "SPEND", "HOLD", "RELEASE"]
    now = balance(db, uid)
    assert (now.awarded, now.held, now.available_total) == (D(20), D(0), D(20))
    with pytest.raises(Conflict):
        hold(db, uid, "7", "k1")  # the key was used for another amount
    with pytest.raises(NotFound):
        spend(db, "never-held")
    assert [e.detail["key"] for e in audits(db, "credits.spend")] == ["k1"]
    assert len(audits(db, "credits.release")) == 1 and len(audits(db, "credits.hold")) == 2
    assert_sound(db)


def test_a_grant_with_the_same_key_applies_once(db: Database) -> None:
    uid = make_user(db, "hank")
    for _ in range(2):
        with db.unit_of_work() as s:
            credits.purchase(s, _core_admin(s), s.get_one(User, uid), D(9), key="stripe:cs_1")
    assert balance(db, uid).purchased == D(9) and len(rows(db, "PURCHASE")) == 1
    with db.unit_of_work() as s, pytest.raises(Conflict):
        credits.award(s, _core_admin(s), s.get_one(User, uid), D(9), key="stripe:cs_1")
    with db.unit_of_work() as s, pytest.raises(InvalidInput):
        credits.award(s, _core_admin(s), s.get_one(User, uid), D(1), key="rad:signup:1")


def test_zero_cost_holds_need_no_credits(db: Database) -> None:
    uid = make_user(db, "ivy")
    hold(db, uid, "0", "own-module", purchased_only=True, module="mine")
    done = spend(db, "own-module")
    assert (done.amount, done.from_purchased) == (D(0), D(0))
    with pytest.raises(InvalidInput, match="more than 0"):
        hold(db, uid, "-1", "negative")
    assert_sound(db)


def test_the_balance_equals_the_sum_of_transactions_after_random_operations(db: Database) -> None:
    rng = random.Random(20261121)
    users = [make_user(db, f"r{n}") for n in range(3)]
    open_holds: list[str] = []
    for step in range(150):
        uid, amount = rng.choice(users), D(rng.randint(0, 4000)) / 100
        op = rng.choice(("award", "purchase", "hold", "hold", "settle", "settle"))
        with db.unit_of_work() as s:
            user, admin = s.get_one(User, uid), _core_admin(s)
            if op in ("award", "purchase") and amount > 0:
                getattr(credits, op)(s, admin, user, amount)
            elif op == "hold":
                try:
                    credits.hold(s, user, amount, key=f"h{step}", purchased_only=rng.random() < 0.3)
                    open_holds.append(f"h{step}")
                except credits.InsufficientCredits:
                    pass
            elif op == "settle" and open_holds:
                key = open_holds.pop(rng.randrange(len(open_holds)))
                (credits.spend if rng.random() < 0.7 else credits.release)(s, key)
        for uid in users:
            now = balance(db, uid)
            assert min(now.awarded, now.purchased, now.held, now.available_total, now.available_purchased) >= 0
    assert_sound(db)
    with db.unit_of_work() as s:
        for uid in users:
            account = s.get_one(CreditAccount, uid)
            total = s.scalar(select(func.sum(CreditTransaction.awarded_delta + CreditTransaction.purchased_delta))
                             .where(CreditTransaction.user_id == uid))
            assert D(str(total or 0)).quantize(D("0.0001")) == account.awarded + account.purchased


def test_the_check_finds_an_account_that_disagrees_with_its_ledger(db: Database) -> None:
    uid = make_user(db, "jack", awarded="10")
    with db.engine.begin() as conn:
        conn.execute(update(CreditAccount).where(CreditAccount.user_id == uid).values(awarded=D(11)))
    with db.unit_of_work() as s:
        found = check_balances(s)
    assert [(m.user_id, m.field, m.account, m.ledger) for m in found] == [
        (uid, "awarded", D(11), D(10)), (uid, "balance_after", D(11), D(10))]


def test_ledger_rows_are_append_only(db: Database) -> None:
    make_user(db, "kim", awarded="10")
    with pytest.raises(RuntimeError, match="append-only"), db.unit_of_work() as s:
        row = s.scalars(select(CreditTransaction)).one()
        row.amount = D(1000)
        s.flush()
    assert rows(db)[0].amount == D(10)


def test_concurrent_holds_never_overdraw(db: Database) -> None:
    uid = make_user(db, "lee", awarded="30")
    barrier, outcomes = threading.Barrier(8), []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            hold(db, uid, "10", f"race-{n}")
            result = "held"
        except credits.InsufficientCredits as refused:
            result = refused.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == sorted(["held"] * 3 + ["INSUFFICIENT_TOTAL_CREDITS"] * 5)
    now = balance(db, uid)
    assert (now.held, now.available_total) == (D(30), D(0))
    assert_sound(db)


def test_concurrent_first_grants_open_one_account(db: Database) -> None:
    with db.unit_of_work() as s:  # a user from before the ledger: no account row yet
        legacy = User(display_name="legacy")
        s.add(legacy)
        s.flush()
        uid = legacy.id
        _core_admin(s)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def grant() -> None:
        barrier.wait()
        try:
            with db.unit_of_work() as s:
                credits.award(s, _core_admin(s), s.get_one(User, uid), D(1))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=grant) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and balance(db, uid).awarded == D(8)
    assert_sound(db)


def test_amounts_are_exact_decimals() -> None:
    assert parse_amount(" 12.5 ") == D("12.5000") and parse_amount(".25") == D("0.25")
    assert check_amount(D(0), allow_zero=True) == 0
    for bad in (D("NaN"), D("Infinity"), D("0.00001")):
        with pytest.raises(InvalidInput):
            check_amount(bad)
    assert [format_credits(D(v)) for v in ("1250.5000", "1E+3", "-0.0000", "0.0001")] == ["1,250.5", "1,000",
                                                                                          "0", "0.0001"]


def test_the_user_is_told_in_a_direct_message(dispatcher: Dispatcher, config: Config, db: Database) -> None:
    """The award queues a notice; the worker sends it through the Slack messenger as a direct message."""
    from bot.runtime import Runtime
    from bot.slack.app import make_client
    from bot.slack.messenger import SlackMessenger
    from bot.worker import Worker
    from tests.emulators.slack import SlackEmulator
    from tests.support.slack_support import slack_config

    dispatcher.run_text(BOB, "whoami")
    dispatcher.run_text(ADMIN, "admin credits <@UBOB> award 25 welcome aboard")
    with SlackEmulator() as slack:
        runtime = Runtime(config, db, dispatcher.registry, dispatcher)
        messenger = SlackMessenger(make_client(slack_config(config, slack)))
        assert Worker(runtime, {"slack": messenger}).run_once()
        [sent] = slack.wait_for("/chat.postMessage")
    assert sent.body["channel"] == "UBOB"
    assert "Ada awarded 25 credits to you (welcome aboard)" in str(sent.body) and "25 available" in str(sent.body)
