"""PNG charts sized for chat (800 px wide), drawn with matplotlib's Agg canvas and never with pyplot.

pyplot keeps a global figure manager and is not thread-safe; these functions build a
:class:`matplotlib.figure.Figure` and its Agg canvas directly, so they run in a worker thread (off the event
loop) without a display. Text rendering shares matplotlib's font cache between threads, so one lock keeps two
renders from interleaving; a chart takes a few tens of milliseconds.

Every chart uses :data:`PALETTE`, a title, labelled axes with the unit, thousands separators, no frame or
grid beyond what helps reading values. An empty period returns None: the caller says so in words instead of
posting an empty chart.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, cast

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

PALETTE = ("#2563EB", "#F59E0B", "#10B981", "#EF4444", "#8B5CF6", "#06B6D4", "#EC4899", "#84CC16")
"""Series colours for every chart of the bot, in order (colour-blind friendly enough, distinct in greyscale)."""
INK = "#1F2937"
"""Titles and value labels."""
MUTED = "#6B7280"
"""Axis labels, ticks and subtitles."""
GRID = "#E5E7EB"
"""The light value grid behind bars and lines."""

WIDTH_PX = 800
DPI = 100
MAX_BARS = 12
"""Bars beyond this many are summed into one ``Other`` bar so labels stay readable at chat size (or, when that
bar would dwarf the others, named in the subtitle)."""
MAX_SERIES = len(PALETTE)
"""Lines beyond this many are summed into ``Other``."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_RENDER_LOCK = threading.Lock()
CENT = Decimal("0.01")


def format_amount(value: Decimal, unit: str = "") -> str:
    """``value`` rounded half-even to cents with thousands separators, and the unit after it if given."""
    text = f"{value.quantize(CENT, rounding=ROUND_HALF_EVEN):,}"
    return f"{text} {unit}".strip()


def _axis_formatter() -> FuncFormatter:
    def tick(value: float, _position: Any) -> str:
        if abs(value) >= 1_000_000:
            return f"{value / 1_000_000:,.1f}M"
        if abs(value) >= 10_000:
            return f"{value / 1_000:,.0f}k"
        if value == int(value):
            return f"{value:,.0f}"
        return f"{value:,.2f}"

    return FuncFormatter(tick)


def _figure(height_px: int) -> tuple[Figure, Any]:
    figure = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID)
    axes.tick_params(colors=MUTED, labelsize=10, length=0)
    return figure, axes


def _titles(figure: Figure, title: str, subtitle: str) -> float:
    """Title and subtitle at fixed pixel offsets from the top; returns the top of the plot area (fraction)."""
    height = figure.get_figheight() * DPI
    figure.text(0.015, 1 - 12 / height, title, ha="left", va="top", fontsize=14, fontweight="bold", color=INK)
    if subtitle:
        figure.text(0.015, 1 - 38 / height, subtitle, ha="left", va="top", fontsize=10, color=MUTED)
    return 1 - (62 if subtitle else 44) / height


def _png(figure: Figure, top: float, *, left_px: float = 64, bottom_px: float = 48) -> bytes:
    """The figure as PNG, laid out with fixed pixel margins (``tight_layout`` would draw it twice)."""
    height = figure.get_figheight() * DPI
    figure.subplots_adjust(left=left_px / WIDTH_PX, right=1 - 24 / WIDTH_PX, bottom=bottom_px / height, top=top)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _shorten(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def bar_chart(title: str, labels: Sequence[str], values: Sequence[Decimal], *, unit: str,
              subtitle: str = "") -> bytes | None:
    """Horizontal bars, one per label in the order given (largest first reads best), valued on the bar.

    Args:
        title: the chart's heading (what and which period).
        labels: one name per bar (modules, partners, deployments); long names are shortened.
        values: the amounts, exact; drawn as floats, labelled rounded half-even to cents.
        unit: the currency or unit shown on the value axis and labels (``USD``, ``credits``).
        subtitle: a smaller line under the title (totals, filters).

    Returns:
        PNG bytes about 800 px wide, or None when there is nothing to draw (no bars, or every value zero).

    Raises:
        ValueError: labels and values differ in length.
    """
    if len(labels) != len(values):
        raise ValueError("bar_chart needs one value per label")
    pairs = [(str(label), Decimal(value)) for label, value in zip(labels, values, strict=True)]
    if not pairs or all(value == 0 for _, value in pairs):
        return None
    if len(pairs) > MAX_BARS:
        kept, rest = pairs[: MAX_BARS - 1], pairs[MAX_BARS - 1:]
        other = sum((v for _, v in rest), Decimal(0))
        if other <= max(v for _, v in kept):
            pairs = [*kept, (f"Other ({len(rest)})", other)]
        else:  # one huge bar would flatten the others: the rest is said in words instead
            pairs = kept
            more = f"{len(rest)} more: {format_amount(other, unit)}"
            subtitle = f"{subtitle} · {more}" if subtitle else more
    height = max(300, 110 + 38 * len(pairs))
    with _RENDER_LOCK:
        figure, axes = _figure(height)
        positions = list(range(len(pairs)))
        floats = [float(value) for _, value in pairs]
        bars = axes.barh(positions, floats, color=PALETTE[0], height=0.62, zorder=2)
        axes.set_yticks(positions, [_shorten(label) for label, _ in pairs])
        axes.invert_yaxis()
        axes.xaxis.set_major_formatter(_axis_formatter())
        axes.grid(axis="x", color=GRID, linewidth=0.8, zorder=0)
        axes.set_xlabel(f"Amount ({unit})", color=MUTED, fontsize=10)
        axes.tick_params(axis="y", colors=INK, labelsize=10)
        peak = max(max(floats), 0.0)
        axes.set_xlim(min(min(floats), 0.0), peak * 1.18 if peak > 0 else 1.0)
        axes.bar_label(bars, labels=[format_amount(value) for _, value in pairs], padding=4, fontsize=9,
                       color=INK)
        names = [_shorten(label) for label, _ in pairs]
        return _png(figure, _titles(figure, title, subtitle), left_px=min(330, 28 + 7.5 * max(map(len, names))))


def time_series_chart(title: str, days: Sequence[date], series: Mapping[str, Sequence[Decimal]], *, unit: str,
                      subtitle: str = "") -> bytes | None:
    """Lines over days, one per series (partners, modules), with a legend when there is more than one.

    Args:
        title: the chart's heading.
        days: the x axis, oldest first (one point per day, week or month).
        series: name -> one exact amount per day; more than :data:`MAX_SERIES` lines sum into ``Other``.
        unit: the currency or unit of the value axis.
        subtitle: a smaller line under the title.

    Returns:
        PNG bytes about 800 px wide, or None when there are no days or every amount is zero.

    Raises:
        ValueError: a series does not have one value per day.
    """
    lines = {name: [Decimal(v) for v in values] for name, values in series.items()}
    for values in lines.values():
        if len(values) != len(days):
            raise ValueError("time_series_chart needs one value per day in every series")
    if not days or not lines or all(v == 0 for values in lines.values() for v in values):
        return None
    if len(lines) > MAX_SERIES:
        ranked = sorted(lines, key=lambda name: sum(lines[name], Decimal(0)), reverse=True)
        kept, rest = ranked[: MAX_SERIES - 1], ranked[MAX_SERIES - 1:]
        other = [sum((lines[name][i] for name in rest), Decimal(0)) for i in range(len(days))]
        lines = {**{name: lines[name] for name in kept}, f"Other ({len(rest)})": other}
    with _RENDER_LOCK:
        figure, axes = _figure(450)
        for index, (name, values) in enumerate(lines.items()):
            axes.plot(list(days), [float(v) for v in values], color=PALETTE[index % len(PALETTE)], linewidth=2,
                      marker="o" if len(days) <= 31 else None, markersize=3.5, label=_shorten(name, 24), zorder=2)
        axes.yaxis.set_major_formatter(_axis_formatter())
        axes.grid(axis="y", color=GRID, linewidth=0.8, zorder=0)
        axes.set_ylabel(f"Amount ({unit})", color=MUTED, fontsize=10)
        axes.set_ylim(bottom=min(0.0, *(float(v) for values in lines.values() for v in values)))
        axes.spines["left"].set_visible(False)
        if len(days) == 1:
            axes.set_xticks(list(days))
        _date_axis(axes, days)
        if len(lines) > 1:
            axes.legend(frameon=False, fontsize=9, labelcolor=INK, loc="best", ncols=min(4, len(lines)))
        return _png(figure, _titles(figure, title, subtitle))


def _date_axis(axes: Any, days: Sequence[date]) -> None:
    locator = cast(Any, AutoDateLocator)(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(cast(Any, ConciseDateFormatter)(locator))
    if len(days) > 1:
        axes.set_xlim(days[0], days[-1])
