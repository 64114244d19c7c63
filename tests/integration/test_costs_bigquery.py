"""The BigQuery billing source, through the real google-cloud-bigquery client against the local emulator:
incremental by export time, exact, whole or nothing, and clear about 403 and 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.costs.imports import import_all, import_next
from core.costs.rows import BadExport
from core.costs.sources import open_source
from core.costs.sources.bigquery import BigQuerySource
from core.network import NetworkInTransaction
from storage.db import Database
from storage.models import CostRow
from tests.emulators.bigquery import running
from tests.support.billing_export import Line

pytestmark = pytest.mark.integration
TABLE = "billing-proj.billing_export.gcp_billing_export_v1_01ABCD"
JAN = datetime(2026, 1, 10, tzinfo=UTC)


def stored(db: Database) -> list[tuple[str, int, int]]:
    with db.unit_of_work() as s:
        return [tuple(r) for r in s.execute(select(CostRow.project_id, CostRow.cost_nanos, CostRow.credits_nanos)
                                             .order_by(CostRow.id))]  # type: ignore[misc]


def test_rows_are_read_after_the_last_export_time_and_kept_exact(db: Database) -> None:
    with running(TABLE) as bq:
        bq.add([Line("proj-a", "0.1", JAN, credits=("-0.05",)), Line("proj-b", "1.5e-05", JAN)])
        source = open_source(f"bigquery:{TABLE}", api_url=bq.url)
        [first], failed = import_all(db, source)
        assert failed == [] and (first.added, first.duplicates) == (2, 0)
        assert stored(db) == [("proj-a", 100_000_000, -50_000_000), ("proj-b", 15_000, 0)]
        assert import_all(db, source) == ([], [])
        assert bq.queries[-1]["queryParameters"][0]["parameterValue"]["value"].startswith("2026-01-10 04:00:00")
        bq.add([Line("proj-a", "2", JAN + timedelta(days=1))])
        [later], _ = import_all(db, source)
        assert later.added == 1 and later.duplicates == 0
        assert len(stored(db)) == 3
        assert "FROM `" + TABLE + "`" in bq.queries[0]["query"] and "CAST(cost AS STRING)" in bq.queries[0]["query"]


@pytest.mark.parametrize(("code", "says"), [(403, "BigQuery refused to read"), (404, "BigQuery has no table"),
                                             (500, "BigQuery failed while reading")])
def test_refusals_and_failures_are_clear_and_import_nothing(db: Database, code: int, says: str) -> None:
    with running(TABLE) as bq:
        bq.add([Line("proj-a", "1", JAN)])
        bq.faults.append(code)
        source = BigQuerySource(TABLE, api_url=bq.url, retry_seconds=0)
        done, [(name, error)] = import_all(db, source)
        assert done == [] and name == source.label and isinstance(error, BadExport)
        assert says in error.message and "nothing was imported" in error.hint
        assert stored(db) == []
        with db.unit_of_work() as s:
            assert s.scalar(select(func.count(CostRow.id))) == 0


def test_a_bad_row_from_bigquery_imports_nothing_and_the_read_never_runs_in_a_transaction(db: Database) -> None:
    with running(TABLE) as bq:
        bq.add([Line("proj-a", "1", JAN), Line("proj-a", "1", JAN, currency="XXY")])
        source = BigQuerySource(TABLE, api_url=bq.url, retry_seconds=0)
        export = next(source.exports(None, set()))
        from core.costs.imports import import_export
        with pytest.raises(BadExport, match="`XXY` is not a known currency"), db.unit_of_work() as s:
            import_export(s, source.label, export)
        assert stored(db) == []
        with pytest.raises(NetworkInTransaction), db.unit_of_work() as s:
            import_next(s, source)


def test_a_large_answer_is_read_page_by_page(db: Database) -> None:
    with running(TABLE) as bq:
        bq.page_size = 3
        bq.add([Line("proj-a", f"0.{i}", JAN, sku=f"sku {i}") for i in range(1, 8)])
        [done], failed = import_all(db, open_source(f"bigquery:{TABLE}", api_url=bq.url))
        assert failed == [] and done.added == 7
        assert sum(nanos for _, nanos, _ in stored(db)) == 2_800_000_000
        pages = [q["params"].get("pageToken") for q in bq.queries if q["path"].endswith("/queries/job_1")]
        assert pages == ["3", "6"] and any(q["path"].endswith("/jobs/job_1") for q in bq.queries)
