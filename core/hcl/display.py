"""Values as people read them in chat: written the way a ``.tfvars`` file writes them.

Strings are quoted (``"rad-data"``), booleans and null are keywords (``false``, ``null``), numbers are plain
(``90``, ``1.5``, never an exponent), lists use brackets (``["a", "b"]``) and maps and objects HCL's braces
(``{ age_days = 90 }``). Unicode is shown as the text it is, never escaped; only quotes, backslashes and
control characters are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hcl_value(value: Any) -> str:
    """``value`` (a JSON-like value: str, bool, number, None, list, tuple or mapping) as HCL writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return number(value)
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {hcl_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(hcl_value(v) for v in items) + "]"
    return quoted(str(value))


def quoted(text: str) -> str:
    """A string in double quotes; quotes, backslashes and control characters escaped, unicode kept."""
    return '"' + "".join(ESCAPES.get(c, c if c.isprintable() or c == " " else f"\\u{ord(c):04x}") for c in text) \
        + '"'


def key(name: object) -> str:
    """An attribute name: bare when it is an identifier, quoted otherwise."""
    text = str(name)
    return text if BARE_KEY.fullmatch(text) else quoted(text)


def number(value: float | Decimal) -> str:
    """A number without an exponent or trailing zeros (``1.5``, ``90``); infinities and NaN as words."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("-" if value < 0 else "") + "Infinity"
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not exact.is_finite():
        return str(exact)
    if exact == exact.to_integral_value():
        return str(int(exact))
    return f"{exact.normalize():f}"
