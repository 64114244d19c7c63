"""Paged lists: which slice a page shows, and its ◀ Previous / Next ▶ buttons (state travels as ids only)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from commands.ui.model import Button
from core.errors import InvalidInput

PREVIOUS, NEXT = "◀ Previous", "Next ▶"


@dataclass(frozen=True)
class Page:
    """Page ``number`` of ``pages`` over ``total`` items, ``size`` per page."""

    number: int
    pages: int
    total: int
    size: int

    @property
    def offset(self) -> int:
        """How many items come before this page."""
        return (self.number - 1) * self.size

    @property
    def label(self) -> str:
        """``page 2 of 5``."""
        return f"page {self.number} of {self.pages}"

    def buttons(self, action_id: str, value: Callable[[int], str]) -> tuple[Button, ...]:
        """Previous and Next buttons where there is such a page; ``value(n)`` is the value that opens page n."""
        found = []
        if self.number > 1:
            found.append(Button(PREVIOUS, action_id, value(self.number - 1)))
        if self.number < self.pages:
            found.append(Button(NEXT, action_id, value(self.number + 1)))
        return tuple(found)


def page_of(total: int, number: int, size: int, *, strict: bool = False) -> Page:
    """The page ``number`` of ``total`` items; clamped to the pages there are unless ``strict``.

    Raises:
        InvalidInput: ``strict`` and there is no such page.
    """
    pages = max(1, math.ceil(total / size))
    if strict and not 1 <= number <= pages:
        raise InvalidInput(f"There is no page {number}.", hint=f"Pages go from 1 to {pages}.")
    return Page(min(max(1, number), pages), pages, total, size)


def page_number(text: str) -> int:
    """A page number from a button value (1 when it is not a number: values are never trusted)."""
    return int(text) if text.isdigit() and len(text) < 7 else 1
