"""Recurring cost debits on a real database: one PROJECT transaction per user and period, awarded credits first,
once however many clocks run, short balances flagged (rows kept for later); and the clock's import-then-debit."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cost_clock import run_cost_cycle
from bot.runtime import build_runtime
from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN, grant_role
from core.costs import debits
from core.costs.imports import import_export
from core.costs.sources.csv import csv_export
from core.credits import service as credits
from core.credits.ledger import check_balances
from core.settings import store as settings
from storage.db import Database
from storage.models import AuditEvent, CostDebit, CostRow, CreditTransaction, Deployment, Job, User
from tests.support.billing_export import Line, write_export

pytestmark = pytest.mark.integration
D = Decimal
NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)
JAN = datetime(2026, 1, 10, tzinfo=UTC)


def platform(db: Database, awarded: str, purchased: str, *, rate: str = "100") -> int:
    """Ada (admin) and Uma, who owns deployment dep0000a on project proj-a and has the given credits."""
    with db.unit_of_work() as s:
        ada = create_user(s, IdentityKey("console", "", "ada"), "ada")
        grant_role(s, ada, ADMIN)
        uma = create_user(s, IdentityKey("console", "", "uma"), "uma")
        s.add(Deployment(short_id="dep0000a", module_name="project", owner_id=uma.id, outputs={"project_id": "proj-a"}))
        if D(awarded):
            credits.award(s, ada, uma, D(awarded), reason="start")
        if D(purchased):
            credits.purchase(s, ada, uma, D(purchased), reason="start")
        settings.put(s, "credits_per_unit", rate)
        settings.put(s, "refresh_interval_hours", 6)
        return uma.id


def costs(db: Database, tmp_path: Path, name: str, *lines: Line) -> None:
    with db.unit_of_work() as s:
        import_export(s, "csv:test", csv_export(write_export(tmp_path / name, lines)))


def project_rows(db: Database, uid: int) -> list[CreditTransaction]:
    with db.unit_of_work() as s:
        return list(s.scalars(select(CreditTransaction).where(CreditTransaction.user_id == uid,
                                                              CreditTransaction.kind == "PROJECT")))


def test_a_period_debits_each_users_new_net_costs_once_awarded_first(db: Database, tmp_path: Path) -> None:
    uid = platform(db, "100", "500")
    costs(db, tmp_path, "jan.csv", Line("proj-a", "1.5", JAN, credits=("-0.25",)),
          Line("proj-a", "0.5", JAN, sku="egress"), Line("proj-nobody", "9", JAN))
    with db.unit_of_work() as s:
        run = debits.run(s, NOW)
    assert run is not None and [(d.user_id, d.net_nanos, d.credits, d.charged) for d in run.debits] == \
        [(uid, 1_750_000_000, D("175"), True)]
    [row] = project_rows(db, uid)
    assert (row.amount, row.awarded_delta, row.purchased_delta, row.balance_after) == (D(175), D(-100), D(-75), D(425))
    with db.unit_of_work() as s:
        assert debits.run(s, NOW + timedelta(hours=1)) is None  # the same 6-hour period
        assert check_balances(s) == []
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action.in_(("costs.import", "costs.debit")))
                            .order_by(AuditEvent.id)).all()
        assert [a.action for a in audited] == ["costs.import", "costs.debit"]
        unattributed = s.scalars(select(CostRow).where(CostRow.user_id.is_(None))).one()
        assert unattributed.debit_id is None
    costs(db, tmp_path, "jan2.csv", Line("proj-a", "0.01", JAN + timedelta(hours=5)))
    with db.unit_of_work() as s:
        later = debits.run(s, NOW + timedelta(hours=6))
    assert later is not None and [d.credits for d in later.debits] == [D(1)]
    assert [r.amount for r in project_rows(db, uid)] == [D(175), D(1)]


def test_a_balance_that_cannot_cover_it_is_flagged_once_and_the_costs_wait(db: Database, tmp_path: Path) -> None:
    uid = platform(db, "10", "0")
    costs(db, tmp_path, "jan.csv", Line("proj-a", "2", JAN))
    with db.unit_of_work() as s:
        run = debits.run(s, NOW)
        assert run is not None and run.short[0].available == D(10) and run.short[0].credits == D(200)
        from commands.handlers.cost_notices import tell_short
        assert tell_short(s, run, "/rad") == 1
    assert project_rows(db, uid) == []
    with db.unit_of_work() as s:
        assert s.scalars(select(CostDebit.status)).all() == ["short"]
        posts = [j.payload for j in s.scalars(select(Job).where(Job.kind == "chat.post"))]
        texts = {p["user"]["external_id"]: p["text"] for p in posts}
        assert "came to 2.00 USD, that is 200 credits, but only 10 are available" in texts["uma"]
        assert "`/rad costs`" in texts["uma"]
        assert "uma's project costs" in texts["ada"] and "does not switch off the cloud billing" in texts["ada"]
        ada = s.scalars(select(User).where(User.display_name == "ada")).one()
        credits.purchase(s, ada, s.get_one(User, uid), D(500), reason="top up")
    with db.unit_of_work() as s:
        again = debits.run(s, NOW + timedelta(hours=6))
    assert again is not None and again.debits[0].charged
    [row] = project_rows(db, uid)
    assert (row.awarded_delta, row.purchased_delta) == (D(-10), D(-190))


def test_two_clocks_at_once_debit_a_period_once(db: Database, tmp_path: Path) -> None:
    uid = platform(db, "0", "1000")
    costs(db, tmp_path, "jan.csv", Line("proj-a", "3", JAN))
    barrier = threading.Barrier(4)
    results: list[object] = []

    def clock() -> None:
        barrier.wait()
        with db.unit_of_work() as s:
            results.append(debits.run(s, NOW))

    threads = [threading.Thread(target=clock) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r is not None for r in results) == 1 and len(results) == 4
    assert [r.amount for r in project_rows(db, uid)] == [D(300)]


def test_the_clock_imports_new_files_then_debits_and_tells_admins_of_a_bad_file(db: Database, tmp_path: Path,
                                                                                config: object) -> None:
    uid = platform(db, "0", "1000", rate="1")
    folder = tmp_path / "billing"
    folder.mkdir()
    write_export(folder / "a.csv", [Line("proj-a", "7.5", JAN)])
    (folder / "b.csv").write_text("service.description,cost\nCompute,1\n")
    with (folder / "c-huge.csv").open("wb") as handle:
        handle.truncate(2 << 30)
    write_export(folder / "d.csv", [Line("proj-a", "0.5", JAN, sku="late")])
    runtime = build_runtime(dataclasses.replace(config, billing_source=f"csv:{folder}"))  # type: ignore[type-var]
    run = run_cost_cycle(runtime, NOW)
    assert run is not None and [d.credits for d in run.debits] == [D("8")]
    assert run_cost_cycle(runtime, NOW) is None
    with db.unit_of_work() as s:
        posts = [j.payload for j in s.scalars(select(Job).where(Job.kind == "chat.post").order_by(Job.id))]
    assert [p["user"]["external_id"] for p in posts] == ["ada", "ada"]
    assert "could not be imported from b.csv" in posts[0]["text"] and "no column `usage_start_time`" in posts[0]["text"]
    assert "c-huge.csv is 2.0 GiB; the largest file imported is 1 GiB" in posts[1]["text"]
    assert [r.amount for r in project_rows(db, uid)] == [D("8")]


def test_the_clock_schedules_the_cost_cycle(config: object) -> None:
    from bot.scheduler import COST_CYCLE_EVERY, build_scheduler

    scheduler = build_scheduler(build_runtime(config))  # type: ignore[arg-type]
    job = scheduler.get_job("cost_cycle")
    assert job is not None and job.func is run_cost_cycle
    assert job.trigger.interval == COST_CYCLE_EVERY
