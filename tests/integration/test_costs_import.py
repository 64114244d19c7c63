"""Importing billing exports on a real database: whole or nothing, each row once, new files picked up,
rows attributed by label or by the deployment's project_id output, unattributed rows kept."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.accounts.identity import IdentityKey, create_user
from core.costs.imports import import_export, import_next
from core.costs.rows import BadExport
from core.costs.sources import open_source
from core.costs.sources.csv import csv_export
from storage.db import Database
from storage.models import CostImport, CostRow, Deployment
from tests.support.billing_export import COLUMNS, Line, write_export

pytestmark = pytest.mark.integration
JAN = datetime(2026, 1, 10, tzinfo=UTC)


def deployments(db: Database) -> dict[str, tuple[int, int]]:
    """Uma's two deployments: one reports project proj-a, one is only labelled."""
    with db.unit_of_work() as s:
        uma = create_user(s, IdentityKey("console", "", "uma"), "uma")
        a = Deployment(short_id="dep0000a", module_name="project", owner_id=uma.id, outputs={"project_id": "proj-a"})
        b = Deployment(short_id="dep0000b", module_name="bucket", owner_id=uma.id, outputs={})
        s.add_all([a, b])
        s.flush()
        return {"a": (a.id, uma.id), "b": (b.id, uma.id)}


def rows(db: Database) -> list[tuple[str, int, int | None, int | None]]:
    with db.unit_of_work() as s:
        return [tuple(r) for r in s.execute(select(CostRow.project_id, CostRow.cost_nanos, CostRow.deployment_id,
                                                   CostRow.user_id).order_by(CostRow.id))]  # type: ignore[misc]


def jan_lines() -> list[Line]:
    return [Line("proj-a", "1.5", JAN), Line("proj-z", "0.25", JAN, labels={"rad-deployment": "dep0000b"}),
            Line("proj-q", "2", JAN, service="BigQuery")]


def test_rows_are_attributed_by_label_then_project_and_kept_when_unattributed(db: Database, tmp_path: Path) -> None:
    ids = deployments(db)
    path = write_export(tmp_path / "jan.csv", jan_lines())
    with db.unit_of_work() as s:
        outcome = import_export(s, "csv:test", csv_export(path))
    assert (outcome.added, outcome.duplicates, outcome.attributed, outcome.unattributed) == (3, 0, 2, 1)
    assert outcome.totals == {"USD": 3_750_000_000}
    assert "3 rows imported (3.75 USD), 0 already imported; 2 attributed" in outcome.describe()
    assert rows(db) == [("proj-a", 1_500_000_000, *ids["a"]), ("proj-z", 250_000_000, *ids["b"]),
                        ("proj-q", 2_000_000_000, None, None)]


def test_the_same_rows_twice_count_once_and_the_same_file_is_not_read_again(db: Database, tmp_path: Path) -> None:
    deployments(db)
    first = write_export(tmp_path / "jan.csv", jan_lines())
    again = write_export(tmp_path / "jan-again.csv", [*jan_lines(), Line("proj-a", "0.5", JAN, sku="Egress")])
    with db.unit_of_work() as s:
        import_export(s, "csv:test", csv_export(first))
    with db.unit_of_work() as s:
        assert import_export(s, "csv:test", csv_export(first)).already
    with db.unit_of_work() as s:
        overlap = import_export(s, "csv:test", csv_export(again))
    assert (overlap.added, overlap.duplicates) == (1, 3)
    assert len(rows(db)) == 4


def test_a_folder_source_picks_up_new_files_only(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "billing"
    folder.mkdir()
    write_export(folder / "2026-01.csv", jan_lines())
    source = open_source(f"csv:{folder}")
    with db.unit_of_work() as s:
        assert import_next(s, source).added == 3  # type: ignore[union-attr]
    with db.unit_of_work() as s:
        assert import_next(s, source) is None
    write_export(folder / "2026-02.csv", [Line("proj-a", "4", datetime(2026, 2, 2, tzinfo=UTC))])
    (folder / "notes.txt").write_text("not an export")
    with db.unit_of_work() as s:
        second = import_next(s, source)
    assert second is not None and second.name == "2026-02.csv" and second.added == 1
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count(CostImport.id))) == 2


@pytest.mark.parametrize(("bad_line", "says"), [
    ({"cost": "12,50"}, "line 5: the cost `12,50` is not a number"),
    ({"currency": "ZZZ"}, "line 5: `ZZZ` is not a known currency"),
    ({"usage_start_time": "yesterday"}, "line 5: `usage_start_time` `yesterday` is not a date"),
])
def test_a_bad_row_late_in_a_file_imports_nothing_of_it(db: Database, tmp_path: Path, bad_line: dict[str, str],
                                                         says: str) -> None:
    path = tmp_path / "bad.csv"
    write_export(path, jan_lines())
    values = Line("proj-a", "1", JAN).values() | bad_line
    with path.open("a", newline="") as handle:
        import csv
        csv.writer(handle).writerow([values[c] for c in COLUMNS])
    with pytest.raises(BadExport) as caught, db.unit_of_work() as s:
        import_export(s, "csv:test", csv_export(path))
    assert says in caught.value.message and "bad.csv" in caught.value.message
    assert rows(db) == []
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count(CostImport.id))) == 0


def test_missing_columns_a_huge_file_and_a_vanished_folder_are_refused_clearly(db: Database, tmp_path: Path) -> None:
    thin = write_export(tmp_path / "thin.csv", jan_lines(), columns=tuple(c for c in COLUMNS if c != "project.id"))
    with pytest.raises(BadExport, match=r"the header has no column `project\.id`"), db.unit_of_work() as s:
        import_export(s, "csv:test", csv_export(thin))
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(2 << 30)  # 2 GiB, sparse: refused before a byte is read
    with pytest.raises(BadExport, match=r"huge.csv is 2.0 GiB; the largest file imported is 1 GiB"):
        csv_export(huge)
    folder = tmp_path / "gone"
    folder.mkdir()
    source = open_source(f"csv:{folder}")
    os.rmdir(folder)
    with pytest.raises(BadExport, match="does not exist"), db.unit_of_work() as s:
        import_next(s, source)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(BadExport, match=r"empty\.csv is empty"), db.unit_of_work() as s:
        import_export(s, "csv:test", csv_export(empty))
    assert rows(db) == []


def test_costs_stay_exact_on_the_database(db: Database, tmp_path: Path) -> None:
    path = write_export(tmp_path / "tiny.csv", [Line("p", "0.000000001", JAN), Line("p", "123456789.123456789", JAN,
                                                                                      sku="big")])
    with db.unit_of_work() as s:
        import_export(s, "csv:test", csv_export(path))
    assert [r[1] for r in rows(db)] == [1, 123_456_789_123_456_789]


def test_a_large_file_goes_in_chunks_whole_or_not_at_all(db: Database, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from core.costs import imports
    from tests.support.billing_export import generated

    monkeypatch.setattr(imports, "BATCH", 700)
    monkeypatch.setattr(imports, "CHUNK", 2000)
    lines = list(generated(9000, ["p1", "p2", "p3"], JAN))
    good = write_export(tmp_path / "good.csv", lines)
    bad = write_export(tmp_path / "bad.csv", [*lines[4500:], Line("p1", "oops", JAN)])
    with pytest.raises(BadExport, match=r"bad\.csv, line 4502: the cost `oops`"), db.unit_of_work() as s:
        import_export(s, "csv:test", csv_export(bad))
    assert rows(db) == []
    with db.unit_of_work() as s:
        first = import_export(s, "csv:test", csv_export(good))
    assert (first.added, first.duplicates) == (9000, 0)
    again = write_export(tmp_path / "again.csv", [*lines[::-1], Line("p9", "1", JAN)])
    with db.unit_of_work() as s:
        second = import_export(s, "csv:test", csv_export(again))
    assert (second.added, second.duplicates, second.totals) == (1, 9000, {"USD": 1_000_000_000})
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count(CostRow.id))) == 9001
