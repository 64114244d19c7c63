"""Days typed by users (``YYYY-MM-DD``) and the UTC periods they name, for reports and histories."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from core.errors import InvalidInput

DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FORMAT_HINT = "Write dates as YYYY-MM-DD, like 2026-01-31 (days are in UTC)."
OPEN = ("", "-", "*")
"""Words that leave a bound of a period open (``-`` skips ``from`` to give only ``to``)."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``first`` to ``last`` (both included; None leaves that side open)."""

    first: date | None = None
    last: date | None = None

    @property
    def start(self) -> datetime | None:
        """The first instant inside the period (midnight UTC of ``first``), or None."""
        return None if self.first is None else datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime | None:
        """The first instant after the period (midnight UTC after ``last``), or None."""
        return None if self.last is None else datetime.combine(self.last + timedelta(days=1), time(), UTC)

    def label(self, side: str) -> str:
        """``first`` or ``last`` as ``YYYY-MM-DD``, or ``all`` when that side is open."""
        day = self.first if side == "first" else self.last
        return "all" if day is None else day.isoformat()

    def describe(self) -> str:
        """The period as people read it: ``2026-01-01 to 2026-01-31``, ``since 2026-01-01``, ``all time``."""
        if self.first and self.last:
            return f"{self.first.isoformat()} to {self.last.isoformat()}"
        if self.first:
            return f"since {self.first.isoformat()}"
        if self.last:
            return f"until {self.last.isoformat()}"
        return "all time"


def parse_day(text: str | None, what: str = "date") -> date | None:
    """A day typed as ``YYYY-MM-DD``; None for an open bound (nothing, ``-`` or ``*``).

    Raises:
        InvalidInput: the text is not a real day in that format.
    """
    written = (text or "").strip()
    if written in OPEN:
        return None
    if DAY.fullmatch(written):
        try:
            return date.fromisoformat(written)
        except ValueError:
            pass
    raise InvalidInput(f"`{written}` is not a {what}.", hint=FORMAT_HINT)


def parse_period(first: str | None, last: str | None) -> Period:
    """The period from two typed days, each optional.

    Raises:
        InvalidInput: a day does not parse, or the first comes after the last.
    """
    period = Period(parse_day(first, "start date"), parse_day(last, "end date"))
    if period.first and period.last and period.first > period.last:
        raise InvalidInput(f"The period starts on {period.first.isoformat()}, after it ends "
                           f"({period.last.isoformat()}).",
                           hint="Give the earlier day first (start, then end), as YYYY-MM-DD.")
    return period
