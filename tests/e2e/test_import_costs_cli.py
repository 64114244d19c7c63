"""``python -m bot import-costs <file.csv>`` run as a real process: it imports the file whole, once, and says so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.test_cli import rad
from tests.support.billing_export import Line, write_export

pytestmark = pytest.mark.e2e
JAN = datetime(2026, 1, 10, tzinfo=UTC)


def test_import_costs_imports_a_file_once_and_refuses_a_bad_one_whole(tmp_path: Path) -> None:
    env = {"RAD_DATA_DIR": str(tmp_path / "data")}
    export = write_export(tmp_path / "jan.csv", [Line("proj-a", "1.5", JAN), Line("proj-b", "0.125", JAN)])
    first = rad("import-costs", str(export), env=env)
    assert first.returncode == 0, first.stderr
    assert "jan.csv: 2 rows imported (1.62 USD), 0 already imported; 0 attributed to deployments, 2 unattributed" \
        in first.stdout
    again = rad("import-costs", str(export), env=env)
    assert again.returncode == 0 and "jan.csv: already imported, nothing to do." in again.stdout
    bad = write_export(tmp_path / "bad.csv", [Line("proj-c", "2", JAN), Line("proj-c", "lots", JAN, sku="x")])
    refused = rad("import-costs", str(bad), env=env)
    assert refused.returncode == 2 and "bad.csv, line 3: the cost `lots` is not a number" in refused.stderr
    assert "nothing of it was imported" in refused.stderr
    missing = rad("import-costs", str(tmp_path / "nope.csv"), env=env)
    assert missing.returncode == 2 and "nope.csv cannot be read" in missing.stderr
