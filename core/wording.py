"""Counts as sentences say them: ``1 credit``, ``2 credits``, ``0 modules``."""

from __future__ import annotations

from decimal import Decimal

IRREGULAR = {"person": "people", "is": "are", "was": "were", "has": "have", "it": "they", "its": "their"}


def plural(noun: str, how_many: int | Decimal) -> str:
    """``noun`` in the form ``how_many`` asks for: singular for exactly one (or minus one), else plural."""
    if abs(how_many) == 1:
        return noun
    if noun in IRREGULAR:
        return IRREGULAR[noun]
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


def count(how_many: int, noun: str, plural_form: str = "") -> str:
    """``1 module``, ``3 modules``, ``1,200 files``: the number and its noun agreeing."""
    word = noun if abs(how_many) == 1 else (plural_form or plural(noun, how_many))
    return f"{how_many:,} {word}"
