"""Project costs: importing a large billing export, the ``/rad costs`` report over a year, an invoice PDF.

Run: ``.venv/bin/python bench/costs.py [--rows 1000000] [--postgres postgresql://.../db]``. The database (by
default ``RAD_BENCH_DATABASE_URL``, else a temporary SQLite file) is wiped and migrated. Prints:

- import: a generated CSV export of ``--rows`` rows (and one a tenth of that size), half of them attributed to
  500 deployments of 50 users, each imported in a fresh child process: rows per second and the child's peak
  memory above its baseline, to show it stays flat in the file's size (goal: >= 50,000 rows/s, memory flat);
- report: a user with 200 deployments and a year of daily rows (two services each), the work of ``/rad costs``
  for that year: the grouped queries, the message, the chart and the CSV (goal: < 1 s);
- invoice: the PDF of a user with 200 projects in one month.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.views import costs as views
from core.accounts.identity import IdentityKey, create_user
from core.costs import report
from core.costs.imports import import_export
from core.costs.sources.csv import csv_export
from core.dates import Period
from core.invoices import numbering
from core.invoices.pdf import render
from core.invoices.statement import statement
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Deployment, User
from tests.support.billing_export import Line, generated, write_export
from tests.support.schema import reset_schema

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)


def import_child(url: str, path: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db = Database(url)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with db.unit_of_work() as s:
        outcome = import_export(s, "csv:bench", csv_export(Path(path)))
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((outcome.added, outcome.attributed, took, base, peak))
    db.dispose()


def timed_import(url: str, path: Path) -> tuple[int, int, float, int, int]:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    child = multiprocessing.get_context("fork").Process(target=import_child, args=(url, str(path), queue))
    child.start()
    result = queue.get()
    child.join()
    return result  # type: ignore[no-any-return]


def bench_import(db: Database, url: str, rows: int, folder: Path) -> None:
    projects = [f"bench-proj-{i:04d}" for i in range(1000)]
    with db.unit_of_work() as s:  # half the projects belong to deployments: half the rows are attributed
        owners = [create_user(s, IdentityKey("console", "", f"import-owner-{i}"), f"Owner {i}") for i in range(50)]
        s.flush()
        for i, project in enumerate(projects[::2]):
            s.add(Deployment(short_id=f"p{i:07d}", module_name="project", owner_id=owners[i % 50].id,
                             outputs={"project_id": project}))
    for count in (max(1, rows // 10), rows):
        path = folder / f"export-{count}.csv"
        started = time.perf_counter()
        write_export(path, generated(count, projects, YEAR_START + timedelta(days=400 * (count == rows))))
        made = time.perf_counter() - started
        added, attributed, took, base, peak = timed_import(url, path)
        print(f"import {count:>9,} rows ({path.stat().st_size / 1e6:,.0f} MB, generated in {made:.1f} s): "
              f"{added:,} added ({attributed:,} attributed) in {took:.2f} s = {added / took:,.0f} rows/s; "
              f"peak RSS +{(peak - base) / 1024:,.0f} MB "
              f"(child peak {peak / 1024:,.0f} MB)")


def bench_report(db: Database, folder: Path) -> None:
    with db.unit_of_work() as s:
        owner = create_user(s, IdentityKey("console", "", "bench-owner"), "Bench Owner")
        for i in range(200):
            s.add(Deployment(short_id=f"b{i:07d}", module_name=f"module-{i % 12}", owner_id=owner.id,
                             outputs={"project_id": f"year-proj-{i:03d}"}))
        owner_id = owner.id

    def year() -> list[Line]:
        return [Line(f"year-proj-{i:03d}", f"{(i * 37 + day) % 997 / 100:.2f}", YEAR_START + timedelta(days=day),
                     service=service)
                for day in range(365) for i in range(200) for service in ("Compute Engine", "Cloud Storage")]

    path = write_export(folder / "year.csv", year())
    with db.unit_of_work() as s:
        added = import_export(s, "csv:bench-year", csv_export(path)).added
    for attempt in range(3):
        with db.unit_of_work() as s:
            viewer = s.get_one(User, owner_id)
            started = time.perf_counter()
            scope = report.cost_scope(viewer, None, Period(date(2025, 1, 1), date(2025, 12, 31)))
            built = report.build(s, scope)
            text = views.summary(built, viewer.id)
            picture = views.chart(built)
            table = report.to_csv(s, scope)
            took = time.perf_counter() - started
        print(f"report  a year, 200 deployments, {added:,} rows: {took * 1000:,.0f} ms to the reply "
              f"(text {len(text):,} chars, chart {len(picture.content) if picture else 0:,} B, CSV "
              f"{len(table) / 1e6:,.1f} MB){' (first run)' if attempt == 0 else ''}")


def bench_invoice(db: Database, folder: Path) -> None:
    with db.unit_of_work() as s:
        owner = create_user(s, IdentityKey("console", "", "invoice-owner"), "Invoice Owner")
        for i in range(200):
            s.add(Deployment(short_id=f"i{i:07d}", module_name="project", owner_id=owner.id,
                             outputs={"project_id": f"inv-proj-{i:03d}"}))
        owner_id = owner.id
    lines = [Line(f"inv-proj-{i:03d}", f"{i + 1}.25", datetime(2025, 3, 1 + h % 28, tzinfo=UTC), sku=f"sku {h}",
                  credits=("-0.5",)) for i in range(200) for h in range(5)]
    with db.unit_of_work() as s:
        import_export(s, "csv:bench-invoice", csv_export(write_export(folder / "inv.csv", lines)))
    for attempt in range(3):
        with db.unit_of_work() as s:
            user = s.get_one(User, owner_id)
            started = time.perf_counter()
            found = statement(s, user, "2025-03")
            pdf = render(found, numbering.issue(s, user, "2025-03"), "RAD")
            took = time.perf_counter() - started
        print(f"invoice {len(found.lines)} projects: PDF of {len(pdf) / 1024:,.0f} KiB in {took * 1000:,.0f} ms"
              f"{' (first run: fonts loaded)' if attempt == 0 else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("RAD_BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.postgres or f"sqlite:///{folder / 'bench.db'}"
        db = Database(url)
        reset_schema(db)
        upgrade(db.engine)
        print(f"database: {db.engine.dialect.name}; rows: {args.rows:,}")
        bench_import(db, url, args.rows, folder)
        bench_report(db, folder)
        bench_invoice(db, folder)
        db.dispose()


if __name__ == "__main__":
    main()
