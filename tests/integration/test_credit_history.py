"""Credit history and low-balance notices in core, on a real database."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.scheduler import LOW_BALANCE_HOUR, build_scheduler, queue_low_balance_check
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Reply
from core.accounts.identity import Caller, IdentityKey, create_user
from core.accounts.profile import preferences
from core.accounts.roles import ADMIN, FINANCE, grant_role
from core.config import Config
from core.credits import history, low_balance
from core.credits import service as credits
from core.dates import Period, parse_period
from core.errors import InvalidInput, NotAllowed, NotFound
from core.settings import platform as settings
from storage.db import Database
from storage.models import CreditTransaction, Deployment, Job, JobStatus, User, utcnow
from tests.support.credit_story import DEPLOYMENT, JANUARY_GRANTS, write_story

D = Decimal
ADMIN_CALLER = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
BOB_CALLER = Caller(IdentityKey("slack", "T1", "UBOB"), "Bob")


def person(s: Session, name: str, role: str | None = None) -> User:
    user = create_user(s, IdentityKey("console", "", name), name)
    if role:
        grant_role(s, user, role)
    return user


@pytest.fixture
def story(db: Database) -> tuple[int, int]:
    """Bob's story written by Ada (an admin); their ids."""
    with db.unit_of_work() as s:
        ada, bob = person(s, "ada", ADMIN), person(s, "bob")
        write_story(s, bob, ada)
        return ada.id, bob.id


def test_the_csv_is_the_ledger_row_by_row_with_running_balances(db: Database, story: tuple[int, int]) -> None:
    ada, bob = story
    with db.unit_of_work() as s:
        wanted = history.history_filter(s, s.get_one(User, ada), s.get_one(User, bob), Period())
        table = list(csv.reader(io.StringIO(history.to_csv(s, wanted).decode())))
        ledger = list(s.scalars(select(CreditTransaction).where(CreditTransaction.user_id == bob)
                                .order_by(CreditTransaction.id)))
    assert table[0] == list(history.CSV_HEADER) and len(table) == 1 + len(ledger)
    running = D(0)
    for line, row in zip(table[1:], ledger, strict=True):
        record = dict(zip(history.CSV_HEADER, line, strict=True))
        running += D(record["awarded_delta"]) + D(record["purchased_delta"])
        assert D(record["balance_after"]) == running == row.balance_after
        assert (int(record["id"]), record["type"], D(record["amount"])) == (row.id, row.kind, row.amount)
        assert record["date"].endswith("Z") and record["date"][:19] == row.created_at.strftime("%Y-%m-%dT%H:%M:%S")
        assert "E" not in record["amount"] + record["balance_after"]
    holds = [dict(zip(history.CSV_HEADER, line, strict=True)) for line in table[1:] if line[2] == "HOLD"]
    assert holds and all(h["awarded_delta"] == h["purchased_delta"] == "0" and D(h["held_delta"]) > 0 for h in holds)
    assert table[22][9] == "bought, with, commas" and table[22][3] == "12.5"


def test_filters_by_days_and_deployment(db: Database, story: tuple[int, int]) -> None:
    _, bob = story
    with db.unit_of_work() as s:
        viewer, user = s.get_one(User, bob), s.get_one(User, bob)
        days = history.history_filter(s, viewer, user, parse_period("2026-01-05", "2026-01-10"))
        assert [r.description for r in history.rows(s, days)] == [f"day {d}" for d in range(5, 11)]
        assert history.count(s, days) == 6
        assert history.csv_name(days, "Bob Smith") == "credits-bob-smith-2026-01-05-2026-01-10.csv"
        until = history.history_filter(s, viewer, user, parse_period("-", "2026-01-02"))
        assert history.count(s, until) == 2 and history.csv_name(until, "b") == "credits-b-all-2026-01-02.csv"
        deployed = history.history_filter(s, viewer, user, Period(), DEPLOYMENT.upper())
        assert [r.kind for r in history.rows(s, deployed)] == ["HOLD", "SPEND", "HOLD"]
        page = history.page(s, history.history_filter(s, viewer, user, Period()), 0, 10)
        assert len(page) == 10 and page[0].id > page[-1].id  # newest first
        total = history.count(s, history.history_filter(s, viewer, user, Period()))
        assert total == JANUARY_GRANTS + 7


def test_who_may_read_which_history(db: Database, story: tuple[int, int]) -> None:
    _, bob = story
    with db.unit_of_work() as s:
        eve, fin, user = person(s, "eve"), person(s, "fin", FINANCE), s.get_one(User, bob)
        with pytest.raises(NotAllowed, match="Only finance and admins"):
            history.history_filter(s, eve, user, Period())
        assert history.history_filter(s, fin, user, Period()).user.id == bob
        with pytest.raises(NotFound, match="no deployment `nope`"):
            history.history_filter(s, user, user, Period(), "nope")
        s.add(Deployment(short_id="eve00001", module_name="m", owner_id=eve.id))
        s.flush()
        with pytest.raises(NotFound, match="no deployment"):  # not Bob's, and Bob may not know it exists
            history.history_filter(s, user, user, Period(), "eve00001")
        with pytest.raises(NotFound, match="is not bob's"):  # finance sees it, but it is not Bob's history
            history.history_filter(s, fin, user, Period(), "eve00001")


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2026-13-01", None, "is not a start date"), ("01/02/2026", None, "is not a start date"),
    ("2026-02-30", None, "is not a start date"), (None, "yesterday", "is not a end date"),
    ("2026-02-01", "2026-01-01", "after it ends"),
])
def test_bad_periods_are_refused_with_the_format(start: str | None, end: str | None, expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected) as refused:
        parse_period(start, end)
    assert "YYYY-MM-DD" in refused.value.hint


def test_low_balances_are_told_once_per_24_hours(db: Database) -> None:
    now = utcnow()
    with db.unit_of_work() as s:
        ada = person(s, "ada", ADMIN)
        low, rich, muted, _never_funded = (person(s, n) for n in ("low", "rich", "muted", "empty"))
        for user, amount in ((low, "20"), (rich, "500"), (muted, "1")):
            credits.award(s, ada, user, D(amount))
        credits.hold(s, rich, D(450), key="big-deploy")  # holds count: 50 available
        preferences(s, muted).notify_billing = False
        assert low_balance.due(s, now) == []  # the trigger is 0 by default: nobody is told
        settings.change(s, ada, "low_credit_trigger", "60")
        due = low_balance.due(s, now)
        assert [(d.user.display_name, d.balance.available_total) for d in due] == [("low", D(20)), ("rich", D(50))]
        for d in due:
            low_balance.mark_told(s, d, now)
    with db.unit_of_work() as s:
        assert low_balance.due(s, now + timedelta(hours=23, minutes=59)) == []
        assert [d.user.display_name for d in low_balance.due(s, now + timedelta(hours=24, seconds=1))] == \
            ["low", "rich"]
        settings.change(s, s.scalars(select(User).where(User.display_name == "ada")).one(), "enable_credits", "off")
        assert low_balance.due(s, now + timedelta(days=2)) == []


def test_the_clock_queues_the_low_balance_check_daily(dispatcher: Dispatcher, config: Config, db: Database) -> None:
    runtime = Runtime(config, db, dispatcher.registry, dispatcher)
    scheduler = build_scheduler(runtime)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("low_balance")
        assert job is not None and str(job.trigger) == f"cron[hour='{LOW_BALANCE_HOUR}', minute='0']"
    finally:
        scheduler.shutdown(wait=False)
    assert queue_low_balance_check(runtime) and not queue_low_balance_check(runtime)
    with db.unit_of_work() as s:
        [queued] = s.scalars(select(Job).where(Job.kind == "credits.low_balance"))
        assert queued.status == JobStatus.QUEUED


def test_a_reason_that_looks_like_a_formula_stays_text_in_the_csv(db: Database) -> None:
    with db.unit_of_work() as s:
        ada, bob = person(s, "ada", ADMIN), person(s, "bob")
        credits.award(s, ada, bob, D(5), reason='=HYPERLINK("http://evil")')
        credits.award(s, ada, bob, D(1), reason="-2+3")
        table = list(csv.reader(io.StringIO(history.to_csv(s, history.history_filter(s, bob, bob, Period()))
                                            .decode())))
    assert [line[9] for line in table[1:]] == ['\'=HYPERLINK("http://evil")', "'-2+3"]


@pytest.mark.parametrize(("value", "expected"), [
    ("99999999999999999999:::: 1", "no longer available"), ("x:y", "no longer available"),
    ("{bob}:2026-01-01:2025-01-01::1", "after it ends"), ("{bob}:::nope:1", "There is no deployment"),
    ("{ada}::::1", "Only finance and admins"),
])
def test_forged_history_page_buttons_are_refused(dispatcher: Dispatcher, db: Database, value: str,
                                                 expected: str) -> None:
    dispatcher.run_text(ADMIN_CALLER, "whoami")
    dispatcher.run_text(BOB_CALLER, "whoami")
    with db.unit_of_work() as s:
        ids = {u.display_name.lower(): u.id for u in s.scalars(select(User))}
    forged = value.format(bob=ids["bob"], ada=ids["ada"])
    reply = dispatcher.run_action(BOB_CALLER, ActionEvent("credits:history:page", forged))
    assert isinstance(reply, Reply) and expected in reply.text and "transactions, page" not in reply.text
    fine = dispatcher.run_action(BOB_CALLER, ActionEvent("credits:history:page", f"{ids['bob']}::::7"))
    assert isinstance(fine, Reply) and "no transactions" in fine.text
