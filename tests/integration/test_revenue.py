"""Partner revenue in core, on a real database: the worked scenario, snapshots, scopes, CSV, the index used, the
daily rollup against the ledger rows and its back-fill."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN, grant_role
from core.credits import service as credits
from core.credits.ledger import locked_account, post
from core.dates import Period, parse_period
from core.errors import InvalidInput, NotAllowed, NotFound
from core.revenue import export, report, rollup
from core.revenue.money import cents
from core.revenue.scope import digest_scope, revenue_scope
from core.settings import platform as settings
from storage.db import Database
from storage.migrate import alembic_config, upgrade
from storage.models import CreditTransaction, RevenueDay, User, utcnow
from tests.support.revenue_story import Story, deploy_for_real, module, november, person, spent, write_story

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


def _odd_spends(s: Session, story: Story) -> None:
    """SPENDs at the edges of days, of fractional credits, of a share not snapshotted, and one for real."""
    pat, quinn, uma = (s.get_one(User, i) for i in (story.pat, story.quinn, story.uma))
    spent(s, uma, "queue", quinn, "0.0003", "0.0001", "12.5", datetime(2026, 11, 15, 23, 59, 59, 999999, tzinfo=UTC),
          "rev:odd00001")
    spent(s, uma, "queue", quinn, "7.5", "2.5", "33.33", datetime(2026, 11, 16, 0, 0, tzinfo=UTC), "rev:odd00002")
    spent(s, pat, "net-plan", pat, "5", "5", "20", datetime(2026, 11, 16, 6, 0, tzinfo=UTC), "rev:odd00003")
    spent(s, uma, "platform-net", None, "3", "3", "20", datetime(2026, 11, 16, 18, 0, tzinfo=UTC), "rev:odd00004")
    account = locked_account(s, uma.id)
    post(s, account, "PURCHASE", "rev:odd5:buy", D(9), purchased=D(9), created_at=november(17))
    row = post(s, account, "SPEND", "rev:odd00005", D(9), purchased=D(-9), purchased_part=D(9), revenue_share_pct=None,
               partner_id=pat.id, module="net-plan", deployment_ref="odd00005", created_at=november(17))
    rollup.count_spend(s, row)
    credits.purchase(s, s.scalars(select(User).where(User.display_name == "Root")).one(), uma, D(50))
    deploy_for_real(s, uma, "net-plan", "40", "hold:odd-real1")


def test_the_rollup_agrees_with_the_ledger_rows_for_every_scope(db: Database, story: Story) -> None:
    """Whole days come from the rollup, partial days from the rows: the same sums as the rows alone, exactly."""
    today = utcnow().date()
    with db.unit_of_work() as s:
        _odd_spends(s, story)
        fin, pat, quinn = (s.get_one(User, i) for i in (story.fin, story.pat, story.quinn))
        whole = Period(date(2026, 11, 1), max(today, date(2026, 11, 30)))
        scopes = [revenue_scope(s, fin, whole), revenue_scope(s, pat, whole), revenue_scope(s, quinn, whole),
                  revenue_scope(s, fin, whole, partner=pat), revenue_scope(s, fin, whole, module="queue"),
                  revenue_scope(s, fin, Period(date(2026, 11, 16), date(2026, 11, 16))),
                  revenue_scope(s, fin, Period(today, today)),
                  digest_scope(datetime(2026, 11, 15, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 16, 12, tzinfo=UTC)),
                  digest_scope(datetime(2026, 11, 2, 6, tzinfo=UTC), datetime(2026, 11, 30, 22, tzinfo=UTC)),
                  digest_scope(datetime(2026, 11, 16, 1, tzinfo=UTC), datetime(2026, 11, 16, 2, tzinfo=UTC))]
        for scope in scopes:
            assert sorted(report.groups(s, scope)) == sorted(report.row_groups(s, scope)), scope.describe()
            built, rows = report.build(s, scope), list(report.rows(s, scope))
            assert built.total.deployments == len(rows)
            assert built.total.revenue == sum((r.revenue for r in rows), D(0))
            assert built.total.share == sum((r.share for r in rows), D(0))
        kept = _rollup(s)
        assert rollup.rebuild(s) == len(kept) and _rollup(s) == kept  # maintained as SPENDs came == summed again
    assert kept[(date(2026, 11, 15), "queue", story.quinn, 1250, False)] == (1, 1, 1 * 1250)
    assert kept[(date(2026, 11, 16), "net-plan", story.pat, 2000, True)] == (1, 50_000, 0)  # Pat's own: no share
    assert kept[(date(2026, 11, 17), "net-plan", story.pat, -1, False)] == (1, 90_000, 0)  # no share snapshotted


def test_a_period_ending_inside_a_day_counts_only_its_hours(db: Database, story: Story) -> None:
    """A digest 'so far' ends at a moment, not a midnight: the SPENDs after it that day are not counted."""
    with db.unit_of_work() as s:
        so_far = report.build(s, digest_scope(datetime(2026, 11, 1, tzinfo=UTC),
                                              datetime(2026, 11, 30, 22, 59, tzinfo=UTC)))
        whole = report.build(s, digest_scope(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)))
    assert (so_far.total.deployments, whole.total.deployments) == (4, 5)
    assert whole.total.revenue - so_far.total.revenue == D("0.01")


def test_the_migration_fills_the_rollup_from_the_spends_already_written(db: Database, story: Story) -> None:
    with db.unit_of_work() as s:
        _odd_spends(s, story)
        kept = _rollup(s)
    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, f"{ROLLUP_REVISION}-1")
    upgrade(db.engine)
    with db.unit_of_work() as s:
        assert _rollup(s) == kept and len(kept) == 11


ROLLUP_REVISION = "0017"
"""The migration that creates and back-fills ``revenue_days``."""


def _rollup(s: Session) -> dict[tuple[date, str, int, int, bool], tuple[int, int, int]]:
    return {(r.day, r.module, r.partner_id, r.share_bp, bool(r.own_module)): (r.deployments, r.purchased_units,
                                                                             r.share_units)
            for r in s.scalars(select(RevenueDay))}
