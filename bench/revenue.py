"""Partner revenue: ``/rad revenue`` for finance over many SPEND rows on PostgreSQL, the chart, a digest.

Run: ``.venv/bin/python bench/revenue.py --postgres postgresql://postgres@127.0.0.1:5432/bench_revenue
[--rows 1000000] [--days 30]``. The database (``--postgres``, else ``RAD_BENCH_DATABASE_URL``) is wiped and
migrated, then ``--rows`` SPEND rows are generated in the database itself (``generate_series``) over 2026: 50
partners owning 200 modules, 2,000 deployers, a third of the SPENDs paid with awarded credits only, shares of
20% or 30% snapshotted. Prints:

- rollup: the daily revenue rollup rebuilt from those rows (they are written in SQL, not through the credit
  services that keep it in the same transaction as each SPEND);
- report: ``/rad revenue <first> <last>`` for a finance user through the real dispatcher, a period of
  ``--days`` days ending 2026-11-30 (totals, modules, payouts, the first page of rows, the chart, and the CSV
  of every paying row when it has at most ``CSV_NOW_ROWS`` rows, else the queued job that writes it): median
  of 5, and the same split into its parts (goal: < 1 s);
- csv: the worker's ``revenue.csv`` jobs those replies queued, when the CSV is too large to write at once: the
  CSV written and handed to the outbox, posted as a direct message to a recording messenger;
- chart: the bar chart of the report alone, median of 20 (goal: < 300 ms);
- digest: a monthly digest end to end: the clock's claim, the worker's ``revenue.digest`` job (message, chart,
  CSV into the outbox) and the outbox post to a recording messenger;
- plan: ``EXPLAIN ANALYZE`` of the report's sums (the rollup) and of its first page of rows (the ledger), and
  the index each reads.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, text

from bot.digest_clock import run_digests
from bot.runtime import Runtime
from bot.worker import Worker
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.ui.model import Reply
from commands.views import revenue as views
from core.accounts.identity import Caller, IdentityKey, create_user
from core.accounts.roles import ADMIN, FINANCE, PARTNER, grant_role
from core.config import Config
from core.conversations import ConversationRef
from core.revenue import digests, export, report, rollup
from core.revenue.scope import digest_scope
from core.settings import platform as settings
from storage.db import Database
from storage.migrate import upgrade
from storage.models import DigestCadence, DigestTarget, Job, Module, User
from tests.support.schema import reset_schema

PARTNERS, MODULES, DEPLOYERS = 50, 200, 2_000
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
FIN = Caller(IdentityKey("slack", "T1", "UFIN"), "Fin")
CHANNEL = ConversationRef("slack", "T1", "CDIGEST")


class Recorder:
    """A messenger that keeps what it is asked to post (the bench measures our side, not Slack's)."""

    platform = "slack"

    def __init__(self) -> None:
        self.posted: list[Reply] = []

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        self.posted.append(reply)
        return ConversationRef(where.platform, where.workspace, where.channel, "", f"{len(self.posted)}.0")

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        self.posted.append(reply)

    def notify(self, user: IdentityKey, reply: Reply) -> ConversationRef | None:
        self.posted.append(reply)
        return None


def seed(db: Database, rows: int) -> None:
    with db.unit_of_work() as s:
        admin = create_user(s, IdentityKey("slack", "T1", "UADMIN"), "Ada")
        grant_role(s, admin, ADMIN)
        fin = create_user(s, FIN.key, "Fin")
        grant_role(s, fin, FINANCE)
        settings.change(s, admin, "credits_per_unit", "100")
        partners = []
        for i in range(PARTNERS):
            partner = User(display_name=f"Partner {i:02d}")
            s.add(partner)
            partners.append(partner)
        s.flush()
        for partner in partners:
            grant_role(s, partner, PARTNER)
        for i in range(MODULES):
            owner = partners[i % PARTNERS]
            s.add(Module(name=f"module-{i:03d}", source="partner", owner_id=owner.id, commit="c0ffee",
                         credit_cost=100 + i))
        s.add_all(User(display_name=f"Deployer {i:04d}") for i in range(DEPLOYERS))
        s.flush()
        first_partner, first_deployer = partners[0].id, partners[-1].id + 1
    started = time.perf_counter()
    with db.engine.begin() as connection:
        # one SPEND per row, spread over 2026; a third paid with awarded credits only (no revenue)
        connection.execute(text("""
            INSERT INTO credit_transactions (key, user_id, kind, amount, awarded_delta, purchased_delta, held_delta,
                purchased_only, balance_after, purchased_part, revenue_share_pct, partner_id, deployment_ref, module,
                description, created_at)
            SELECT 'bench:' || g, :deployer + (g % :deployers), 'SPEND', 100 + (g % :modules),
                   CASE WHEN g % 3 = 0 THEN -(100 + (g % :modules)) ELSE -((g % 7) * 10) END,
                   CASE WHEN g % 3 = 0 THEN 0 ELSE -(100 + (g % :modules) - (g % 7) * 10) END,
                   -(100 + (g % :modules)), false, 0,
                   CASE WHEN g % 3 = 0 THEN 0 ELSE 100 + (g % :modules) - (g % 7) * 10 END,
                   CASE WHEN g < :rows / 2 THEN 20 ELSE 30 END,
                   :partner + ((g % :modules) % :partners), lpad(to_hex(g), 8, '0'),
                   'module-' || lpad(((g % :modules))::text, 3, '0'), 'Spent',
                   :year + (g::float / :rows) * interval '365 days'
            FROM generate_series(1, :rows) AS g
        """), {"rows": rows, "deployer": first_deployer, "deployers": DEPLOYERS, "modules": MODULES,
               "partners": PARTNERS, "partner": first_partner, "year": YEAR})
        connection.execute(text("ANALYZE credit_transactions"))
    print(f"generated {rows:,} SPEND rows in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with db.unit_of_work() as s:
        days = rollup.rebuild(s)
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE revenue_days"))
    print(f"rollup: {days:,} rows (day, module, partner, share, own module) rebuilt in "
          f"{time.perf_counter() - started:.1f} s")


def timed(fn: Callable[[], Any], times: int) -> tuple[float, Any]:
    took, result = [], None
    for _ in range(times):
        started = time.perf_counter()
        result = fn()
        took.append(time.perf_counter() - started)
    return statistics.median(took), result


def bench_report(db: Database, dispatcher: Dispatcher, first: date, last: date) -> None:
    words = f"revenue {first.isoformat()} {last.isoformat()}"
    where = ConversationRef("slack", "T1", "C1")
    took, reply = timed(lambda: dispatcher.run_text(FIN, words, where=where), 5)
    assert isinstance(reply, Reply), reply
    sizes = {a.filename: len(a.content) for a in reply.attachments}
    tables = [a for a in reply.attachments if a.filename.endswith((".csv", ".csv.gz"))]
    csv_rows = -1  # not attached: written in the background, or too large for chat even gzipped (the reply says)
    for table in tables:
        plain_csv = gzip.decompress(table.content) if table.filename.endswith(".gz") else table.content
        csv_rows = plain_csv.count(b"\n") - 1
    later = "direct message" in reply.text
    print(f"report: /rad {words} for finance: {took * 1000:.0f} ms to the reply (median of 5; goal < 1,000 ms); "
          f"{csv_rows:,} paying rows in the CSV (-1: not attached); files {sizes}; CSV "
          f"{'queued for a direct message' if later else 'with the reply'}")
    with db.unit_of_work() as s:
        scope = digest_scope(datetime.combine(first, datetime.min.time(), UTC),
                             datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC))
        built_took, built = timed(lambda: report.build(s, scope), 5)
        page_took, _ = timed(lambda: list(report.rows(s, scope, newest_first=True, limit=10)), 5)
        csv_took, _ = timed(lambda: export.to_csv(s, scope, "usd"), 3)
        rows_took, by_rows = timed(lambda: report.row_groups(s, scope), 3)
        assert sorted(by_rows) == sorted(report.groups(s, scope)), "the rollup disagrees with the ledger rows"
    chart_took, _ = timed(lambda: views.chart(built, "Platform revenue"), 20)
    print(f"  parts: totals, modules and payouts {built_took * 1000:.0f} ms (from the rollup; the same sums from "
          f"the ledger rows: {rows_took * 1000:.0f} ms, equal); first page {page_took * 1000:.0f} ms; "
          f"CSV {csv_took * 1000:.0f} ms ({'background' if later else 'in the reply'}); "
          f"chart {chart_took * 1000:.0f} ms")
    print(f"chart: {len(built.modules)} modules, {chart_took * 1000:.0f} ms (median of 20; goal < 300 ms)")


def bench_csv(db: Database, runtime: Runtime) -> None:
    with db.unit_of_work() as s:
        queued = len(list(s.scalars(select(Job.id).where(Job.kind == "revenue.csv"))))
    if not queued:
        print("csv: no background CSV job (every CSV came with its reply)")
        return
    recorder = Recorder()
    worker = Worker(runtime, {"slack": recorder})
    started = time.perf_counter()
    while worker.run_once():
        pass
    took = (time.perf_counter() - started) / queued
    last = recorder.posted[-1]
    files = {a.filename: len(a.content) for a in last.attachments}
    print(f"csv: {queued} background revenue.csv jobs, {took * 1000:.0f} ms each (written, handed to the outbox, "
          f"posted as a direct message); the message: {last.text.splitlines()[-1][:120]!r}, files {files}")


def bench_digest(db: Database, runtime: Runtime) -> None:
    with db.unit_of_work() as s:
        fin = s.scalars(select(User).where(User.display_name == "Fin")).one()
        digests.set_target(s, fin, CHANNEL, DigestCadence.MONTHLY, datetime(2026, 11, 15, tzinfo=UTC))
    recorder = Recorder()
    worker = Worker(runtime, {"slack": recorder})
    started = time.perf_counter()
    claimed = run_digests(runtime, datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    claim_took = time.perf_counter() - started
    while worker.run_once():
        pass
    took = time.perf_counter() - started
    [posted] = recorder.posted
    files = {a.filename: len(a.content) for a in posted.attachments}
    print(f"digest: monthly, November 2026, end to end {took * 1000:.0f} ms (claim {claim_took * 1000:.0f} ms, "
          f"{claimed} period); posted {len(posted.text):,} characters and {files}")
    with db.unit_of_work() as s:
        assert s.scalars(select(DigestTarget)).one().status == "active"


def show_plan(db: Database, first: date, last: date) -> None:
    scope = digest_scope(datetime.combine(first, datetime.min.time(), UTC),
                         datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC))
    from sqlalchemy import func

    from storage.models import CreditTransaction as T
    from storage.models import RevenueDay as R

    sums = (select(R.module, R.partner_id, func.sum(R.deployments), func.sum(R.purchased_units),
                   func.sum(R.share_units)).where(R.day >= scope.first, R.day <= scope.last)
            .group_by(R.module, R.partner_id))
    month = sums.where(R.day >= last - timedelta(days=29))
    page = report.where(select(T.id, T.created_at), scope).order_by(T.created_at.desc(), T.id.desc()).limit(10)
    for what, query in ((f"the report's sums (the daily rollup, {scope.describe()})", sums),
                        ("the same sums over the last 30 days", month),
                        ("the report's first page of rows (the ledger)", page)):
        with db.engine.connect() as connection:
            compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
            plan = [r[0] for r in connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))]
        found = re.findall(r"Index (?:Only )?Scan(?: Backward)? using (\S+)|Bitmap Index Scan on (\S+)", " ".join(plan))
        used = sorted({name for pair in found for name in pair if name})
        read = ", ".join(used) if used else "no index: a sequential scan (the period spans nearly the whole table)"
        print(f"plan of {what}: reads {read}")
        for line in plan:
            print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="the report's period, ending 2026-11-30")
    parser.add_argument("--postgres", default=os.environ.get("RAD_BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.postgres.startswith("postgresql"):
        parser.error("give a PostgreSQL database with --postgres (it is wiped)")
    db = Database(args.postgres)
    reset_schema(db)
    upgrade(db.engine)
    seed(db, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(data_dir=Path(tmp) / "data", database_url=args.postgres, admins=("slack:T1:UADMIN",))
        dispatcher = Dispatcher(load_registry(), db, config)
        runtime = Runtime(config, db, dispatcher.registry, dispatcher)
        last = date(2026, 11, 30)
        first = last - timedelta(days=args.days - 1)
        bench_report(db, dispatcher, first, last)
        bench_csv(db, runtime)
        bench_digest(db, runtime)
        show_plan(db, first, last)
    db.dispose()


if __name__ == "__main__":
    main()
