"""The shared chart renderer: PNG at chat size, an empty period draws nothing, safe from several threads."""

from __future__ import annotations

import struct
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.charts.render import MAX_BARS, PNG_SIGNATURE, WIDTH_PX, bar_chart, format_amount, time_series_chart

pytestmark = pytest.mark.unit


def size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_bar_chart_is_a_png_800_px_wide() -> None:
    png = bar_chart("Revenue", ["a", "b"], [Decimal("10.005"), Decimal("2")], unit="USD", subtitle="Total 12.01")
    assert png is not None
    width, height = size(png)
    assert width == WIDTH_PX and 250 <= height <= 800


def test_an_empty_period_draws_nothing() -> None:
    assert bar_chart("Revenue", [], [], unit="USD") is None
    assert bar_chart("Revenue", ["a"], [Decimal(0)], unit="USD") is None
    assert time_series_chart("Revenue", [], {}, unit="USD") is None
    assert time_series_chart("Revenue", [date(2026, 1, 1)], {"x": [Decimal(0)]}, unit="USD") is None


def test_many_bars_are_summed_into_other() -> None:
    labels = [f"module-{i}" for i in range(40)]
    png = bar_chart("Revenue", labels, [Decimal(i + 1) for i in range(40)], unit="USD")
    assert png is not None
    _, height = size(png)
    assert height <= 110 + 38 * MAX_BARS + 10


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        bar_chart("Revenue", ["a"], [], unit="USD")
    with pytest.raises(ValueError):
        time_series_chart("Revenue", [date(2026, 1, 1)], {"x": []}, unit="USD")


def test_amount_labels_round_half_even_to_cents() -> None:
    assert format_amount(Decimal("1234.565"), "USD") == "1,234.56 USD"
    assert format_amount(Decimal("0.015")) == "0.02"


def test_charts_render_from_several_threads_at_once() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]

    def draw(i: int) -> bytes | None:
        if i % 2:
            return time_series_chart(f"Series {i}", days, {"a": [Decimal(d) for d in range(30)],
                                                          "b": [Decimal(i) for _ in range(30)]}, unit="EUR")
        return bar_chart(f"Bars {i}", ["x", "y", "z"], [Decimal(i + 1), Decimal(2), Decimal(3)], unit="EUR")

    with ThreadPoolExecutor(max_workers=4) as pool:
        images = list(pool.map(draw, range(8)))
    assert all(image is not None and size(image)[0] == WIDTH_PX for image in images)
