"""Credit amounts: exact decimals read from text, checked, and shown."""

from __future__ import annotations

import re
from decimal import Decimal

from core.errors import InvalidInput

PLACES = 4
"""Decimal places an amount may have (the ledger stores ``Numeric(18, 4)``, like module credit costs)."""
QUANTUM = Decimal(1).scaleb(-PLACES)
MAX_AMOUNT = Decimal(1_000_000_000)
"""The largest single amount; keeps balances within the 15 significant digits SQLite's NUMERIC keeps exactly."""
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
EXAMPLE = "Write digits with an optional decimal point, like 25 or 12.5."


def parse_amount(text: str, what: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """Read an amount typed by a user: plain digits only (no exponent, no separators), checked."""
    written = text.strip()
    if not NUMBER.fullmatch(written):
        raise InvalidInput(f"`{written or text}` is not an {what}.", hint=EXAMPLE)
    return check_amount(Decimal(written), what, allow_zero=allow_zero)


def check_amount(value: Decimal, what: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """``value`` if it is a finite, positive (or zero when allowed) amount with at most four decimals."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput(f"`{value}` is not an {what}.", hint=EXAMPLE)
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"The {what} must be more than 0, not {format_credits(value)}.",
                           hint="Only positive amounts can be added or held.")
    if value > MAX_AMOUNT:
        raise InvalidInput(f"{format_credits(value)} is more than one operation may move.",
                           hint=f"The most is {format_credits(MAX_AMOUNT)}.")
    exact = value.quantize(QUANTUM)
    if exact != value:
        raise InvalidInput(f"`{value}` has too many decimals.", hint=f"Credits have at most {PLACES} decimal places.")
    return exact


def format_credits(value: Decimal) -> str:
    """An amount as people read it: ``1,250.5``, ``0``, ``-3``; no exponent, no trailing zeros."""
    return "0" if value == 0 else f"{value.normalize():,f}"


def credit_count(value: Decimal, kind: str = "") -> str:
    """An amount with its noun agreeing: ``1 credit``, ``2.5 credits``, ``1 purchased credit``."""
    noun = f"{kind} credit" if kind else "credit"
    return f"{format_credits(value)} {noun if abs(value) == 1 else noun + 's'}"
