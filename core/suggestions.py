"""Suggesting what the user probably meant: the closest names, and the sentence that offers them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


def closest(word: str, names: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` names close to ``word``, best first."""
    return difflib.get_close_matches(word, list(names), n=n, cutoff=cutoff)


def did_you_mean(names: Sequence[str]) -> str:
    """``Did you mean `a`, `b` or `c`?`` for names already quoted as they should show; '' for none."""
    if not names:
        return ""
    listed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
    return f"Did you mean {listed}?"
