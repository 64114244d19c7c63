"""Billing-export rows: columns, dates, exact money, currencies, labels and credits; and the source setting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.costs.money import from_nanos, plain_amount, shown, to_nanos
from core.costs.rows import BadExport, Header, parse_row
from core.costs.sources import parse_source
from core.errors import InvalidInput
from tests.support.billing_export import COLUMNS, Line

pytestmark = pytest.mark.unit
WHEN = datetime(2026, 1, 31, 9, tzinfo=UTC)


def parsed(**changes: str) -> object:
    values = Line("proj-a", "1.25", WHEN, labels={"rad-deployment": "Dep1A2B3"}, credits=("-0.25",)).values()
    values.update(changes)
    return parse_row(Header(COLUMNS, "jan.csv"), [values[c] for c in COLUMNS], 7, "jan.csv")


def test_a_row_is_read_exactly_with_its_label_credits_and_month() -> None:
    row = parsed()
    assert row.cost_nanos == 1_250_000_000 and row.credits_nanos == -250_000_000  # type: ignore[attr-defined]
    assert row.label_deployment == "dep1a2b3" and row.invoice_month == "202601"  # type: ignore[attr-defined]
    assert row.usage_start == WHEN and row.currency == "USD"  # type: ignore[attr-defined]
    assert parsed().key == row.key != parsed(cost="1.250000001").key  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "nanos"), [("0.1", 100_000_000), ("1.5e-05", 15_000), ("-3", -3_000_000_000),
                                              ("0.0000000005", 0), ("0.0000000015", 2), ("12", 12 * 10**9)])
def test_money_is_exact_to_the_nano_half_even(text: str, nanos: int) -> None:
    assert to_nanos(text) == nanos


def test_money_is_shown_in_cents_and_written_exactly() -> None:
    assert shown(12_345_000_000, "usd") == "12.34 USD" and shown(12_355_000_000, "EUR") == "12.36 EUR"
    assert plain_amount(1) == "0.000000001" and plain_amount(0) == "0" and from_nanos(2_500_000_000) == Decimal("2.5")
    for bad in ("", "abc", "NaN", "inf", "1,5", "1e30"):
        assert to_nanos(bad) is None


@pytest.mark.parametrize(("change", "says"), [
    ({"cost": "twelve"}, "line 7: the cost `twelve` is not a number"),
    ({"cost": "NaN"}, "the cost `NaN` is not a number"),
    ({"currency": "XYZ"}, "`XYZ` is not a known currency"),
    ({"usage_start_time": "31/01/2026 09:00"}, "`usage_start_time` `31/01/2026 09:00` is not a date"),
    ({"usage_end_time": "2026-01-30 00:00:00 UTC"}, "`usage_end_time` is before `usage_start_time`"),
    ({"labels": "{not json"}, "`labels` is not JSON"),
    ({"credits": '[{"amount": "x"}]'}, "a credit's `amount` is not a number"),
    ({"invoice.month": "2026-01"}, "`invoice.month` `2026-01` is not a month"),
    ({"service.description": " "}, "`service.description` is empty"),
])
def test_a_bad_row_names_its_file_line_and_reason(change: dict[str, str], says: str) -> None:
    with pytest.raises(BadExport) as caught:
        parsed(**change)
    assert says in caught.value.message and caught.value.message.startswith("jan.csv, line 7")
    assert "nothing of it was imported" in caught.value.hint


def test_a_header_without_required_columns_is_refused_by_name() -> None:
    with pytest.raises(BadExport, match=r"no column `cost`, `currency`"):
        Header([c for c in COLUMNS if c not in ("cost", "currency")], "jan.csv")
    flat = Header(["service_description", "usage_start_time", "usage_end_time", "project_id", "cost", "currency"],
                  "flat.csv")
    assert flat.index["project.id"] == 3 and flat.index["labels"] == -1


def test_labels_may_be_an_object_and_a_short_row_is_refused() -> None:
    assert parsed(labels='{"rad-deployment": "abc"}').label_deployment == "abc"  # type: ignore[attr-defined]
    with pytest.raises(BadExport, match="it has 2 fields where the header has"):
        parse_row(Header(COLUMNS, "x.csv"), ["a", "b"], 3, "x.csv")


def test_the_billing_source_setting() -> None:
    assert parse_source("") == ("", "")
    assert parse_source("csv:/data/billing") == ("csv", "/data/billing")
    assert parse_source("bigquery:p.d.t") == ("bigquery", "p.d.t")
    for bad in ("s3:bucket", "csv:", "bigquery:dataset.table"):
        with pytest.raises(InvalidInput):
            parse_source(bad)
