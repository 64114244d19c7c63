"""Partner revenue in core, on a real database: the worked scenario, snapshots, scopes, CSV, the index used."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN, grant_role
from core.credits import service as credits
from core.dates import Period, parse_period
from core.errors import InvalidInput, NotAllowed, NotFound
from core.revenue import export, report
from core.revenue.money import cents
from core.revenue.scope import revenue_scope
from core.settings import platform as settings
from storage.db import Database
from storage.models import CreditTransaction, User, utcnow
from tests.support.revenue_story import Story, deploy_for_real, module, person, spent, write_story

D = Decimal
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


def economy(s: Session, per_unit: str = "100", share: str = "20") -> User:
    admin = create_user(s, IdentityKey("console", "", f"root{per_unit}{share}"), "Root")
    grant_role(s, admin, ADMIN)
    settings.change(s, admin, "credits_per_unit", per_unit)
    settings.change(s, admin, "partner_revenue_share", share)
    return admin


@pytest.fixture
def story(db: Database) -> Story:
    with db.unit_of_work() as s:
        economy(s)
        return write_story(s)


def build(s: Session, viewer: int, period: Period = NOVEMBER, **filters: object) -> report.Report:
    scope = revenue_scope(s, s.get_one(User, viewer), period, **filters)  # type: ignore[arg-type]
    return report.build(s, scope)


def test_the_worked_scenario_through_the_credit_services(db: Database) -> None:
    """§5 of the domain notes: 500 awarded, 1,000 purchased, an 800-credit deploy: $3.00, the partner $0.60."""
    with db.unit_of_work() as s:
        admin = economy(s, "100", "20")
        partner = person(s, "console", "p", "P", "partner")
        user = person(s, "console", "u", "U")
        module(s, "m", partner, "800")
        credits.award(s, admin, user, D(500), reason="signup")
        credits.purchase(s, admin, user, D(1000), reason="bought $10")
        deploy_for_real(s, user, "m", "800", "hold:dep-real1")
        row = s.scalars(select(CreditTransaction).where(CreditTransaction.kind == "SPEND")).one()
        assert (row.purchased_part, row.revenue_share_pct, row.partner_id) == (D(300), D(20), partner.id)
        settings.change(s, admin, "partner_revenue_share", "50")  # later: never rewrites what is owed
        finance = build(s, admin.id, Period(utcnow().date(), utcnow().date()))
        mine = build(s, partner.id, Period(utcnow().date(), utcnow().date()))
    assert cents(finance.total.revenue) == D("3.00") and cents(finance.total.share) == D("0.60")
    assert mine.scope.partner_view and cents(mine.shown_total) == D("0.60")
    assert [(p.name, p.deployments, p.purchased, cents(p.share)) for p in finance.payouts] == \
        [("P", 1, D(300), D("0.60"))]


def test_finance_sees_the_platform_partners_see_their_own(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        finance = build(s, story.fin)
        pat = build(s, story.pat)
        quinn = build(s, story.quinn)
        pat_rows = list(report.rows(s, pat.scope))
    # true revenue: 3 + 8 + 2.50 + 0.40 + 0.01; awarded-only and Pat's own deployment bring nothing
    assert finance.total.revenue == D("13.91") and finance.total.deployments == 5
    assert finance.total.share == D("0.60") + D("1.60") + D("1.25") + D("0.005")
    assert [(p.name, p.deployments, p.purchased, p.share) for p in finance.payouts] == \
        [("Pat", 3, D(1101), D("2.205")), ("Quinn", 1, D(250), D("1.25"))]
    assert pat.total.share == D("2.205") and cents(pat.total.share) == D("2.20")  # half-even: 2.205 -> 2.20
    assert {r.module for r in pat_rows} == {"net-plan"} and all(r.deployer_id != story.pat for r in pat_rows)
    assert [m.name for m in quinn.modules] == ["queue"] and quinn.total.share == D("1.25")


def test_the_share_is_the_one_snapshotted_on_each_spend(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        before = build(s, story.fin).total
        admin = s.scalars(select(User).where(User.display_name == "Root")).one()
        settings.change(s, admin, "partner_revenue_share", "90")
        after = build(s, story.fin).total
    assert before == after


def test_periods_are_half_open_utc_days(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        day30 = build(s, story.fin, Period(date(2026, 11, 30), date(2026, 11, 30)))
        december = build(s, story.fin, Period(date(2026, 12, 1), date(2026, 12, 1)))
        early = build(s, story.fin, Period(date(2026, 11, 1), date(2026, 11, 2)))
    assert day30.total.deployments == 1 and december.total.deployments == 0
    assert early.total.revenue == D(3)


def test_filters_by_module_and_partner(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        quinn = s.get_one(User, story.quinn)
        one = build(s, story.fin, partner=quinn)
        queue = build(s, story.fin, module="QUEUE")
    assert one.total.revenue == D("2.5") and [p.name for p in one.payouts] == ["Quinn"]
    assert queue.scope.module == "queue" and queue.total.deployments == 1


def test_bad_scopes_are_refused(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        pat, quinn, uma = (s.get_one(User, i) for i in (story.pat, story.quinn, story.uma))
        with pytest.raises(NotAllowed, match="only the revenue of their own"):
            revenue_scope(s, pat, NOVEMBER, partner=quinn)
        with pytest.raises(NotAllowed):
            revenue_scope(s, uma, NOVEMBER)
        with pytest.raises(InvalidInput, match="both its first and its last day"):
            revenue_scope(s, pat, parse_period("2026-11-01", "-"))
        with pytest.raises(InvalidInput, match="after it ends"):
            parse_period("2026-11-30", "2026-11-01")
        with pytest.raises(InvalidInput, match="367 days"):
            revenue_scope(s, pat, parse_period("2026-01-01", "2027-01-02"))
        assert revenue_scope(s, pat, parse_period("2026-01-01", "2027-01-01")).last == date(2027, 1, 1)
        with pytest.raises(NotFound, match="no module `nope`"):
            revenue_scope(s, s.get_one(User, story.fin), NOVEMBER, module="nope")
        with pytest.raises(NotFound, match="not one of your modules"):
            revenue_scope(s, pat, NOVEMBER, module="queue")
        with pytest.raises(NotFound, match="not a partner"):
            revenue_scope(s, s.get_one(User, story.fin), NOVEMBER, partner=uma)


def test_the_csv_is_the_ledger_row_by_row(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        scope = revenue_scope(s, s.get_one(User, story.fin), NOVEMBER)
        table = list(csv.reader(io.StringIO(export.to_csv(s, scope, "usd").decode())))
        ledger = list(s.scalars(select(CreditTransaction).where(
            CreditTransaction.kind == "SPEND", CreditTransaction.purchased_part > 0).order_by(CreditTransaction.id)))
        mine = list(csv.reader(io.StringIO(export.to_csv(s, revenue_scope(s, s.get_one(User, story.pat), NOVEMBER),
                                                         "usd").decode())))
    assert table[0] == list(export.FINANCE_HEADER) and len(table) == 1 + len(ledger) == 6
    for line, row in zip(table[1:], ledger, strict=True):
        got = dict(zip(export.FINANCE_HEADER, line, strict=True))
        assert (int(got["id"]), got["module"], D(got["purchased_credits"]), D(got["credit_cost"])) == \
            (row.id, row.module, row.purchased_part, row.amount)
        assert D(got["true_revenue"]) == D(row.purchased_part or 0) / 100
        assert got["deployer"] == "Uma" and got["currency"] == "USD"
    assert mine[0] == list(export.PARTNER_HEADER) and "deployer" not in mine[0]
    assert [line[2] for line in mine[1:]] == ["net-plan"] * 3 and mine[-1][8] == "0.005"


def test_formula_like_names_stay_text_in_the_csv(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        s.get_one(User, story.uma).display_name = "=HYPERLINK(1)"
        scope = revenue_scope(s, s.get_one(User, story.fin), NOVEMBER)
        table = list(csv.reader(io.StringIO(export.to_csv(s, scope, "usd").decode())))
    assert {line[4] for line in table[1:]} == {"'=HYPERLINK(1)"}


def test_the_report_query_reads_an_index(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        scope = revenue_scope(s, s.get_one(User, story.fin), NOVEMBER)
        query = report.where(select(CreditTransaction.id), scope)
        compiled = query.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: show the plan the index gives
            plan = " ".join(r[0] for r in s.execute(text(f"EXPLAIN {compiled}")))
        else:
            plan = " ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_credit_transactions_kind_created_at" in plan


def test_postgresql_writes_the_same_csv_as_python(db: Database, story: Story) -> None:
    """On PostgreSQL the CSV is COPY'd by the database: byte for byte what Python writes (on SQLite, Python's)."""
    with db.unit_of_work() as s:
        uma = s.get_one(User, story.uma)
        uma.display_name = '=Uma "U", 1+1'
        odd = module(s, "50%-off,=x", s.get_one(User, story.quinn), "3")
        spent(s, uma, odd.name, s.get_one(User, story.quinn), "3", "2.5", "12.5",
              datetime(2026, 11, 12, 8, 30, 1, 123456, tzinfo=UTC), "rev:dep00099")
        s.flush()
        for viewer in (story.fin, story.pat):
            scope = revenue_scope(s, s.get_one(User, viewer), NOVEMBER)
            written = export.to_csv(s, scope, "usd")
            assert written == export.python_csv(s, scope, "usd")
            assert written.count(b"\n") == (7 if viewer == story.fin else 4)
            if viewer == story.fin:
                assert b'"\'=Uma ""U"", 1+1"' in written and b"50%-off,=x" in written
                assert b"2026-11-12T08:30:01.123456Z" in written and b",0.025,0.003125,USD" in written
    assert b"Uma" not in written  # the partner's CSV names no deployer
