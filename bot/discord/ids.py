"""Component custom ids: they carry only ids (an action id and a value), never state (DESIGN.md 2.2).

Buttons: ``rad|<action>|<value>`` (run), ``radc|…`` (ask to confirm first), ``radx||`` (cancel),
``radn|<draft>|<step>`` (open a form step), ``radr|<draft>|<step>`` (reopen a form after errors).
Selects: ``rads|<action>|<value>``. Modals: ``radf|<draft>|<step>``. A trailing ``|<n>`` keeps two
equal ids in one message apart. Discord allows 100 characters; longer ids fail loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CUSTOM_ID = 100
RUN, CONFIRM, CANCEL, NEXT_STEP, RETRY = "rad", "radc", "radx", "radn", "radr"
SELECT, FORM = "rads", "radf"
BUTTON_TEMPLATE = r"(?P<kind>rad[cxnr]?)\|(?P<a>[^|]*)\|(?P<b>[^|]*)(?:\|\d+)?"
SELECT_TEMPLATE = r"(?P<kind>rads)\|(?P<a>[^|]*)\|(?P<b>[^|]*)(?:\|\d+)?"
FORM_TEMPLATE = r"(?P<kind>radf)\|(?P<a>[0-9a-f]+)\|(?P<b>\d+)"
_ANY = re.compile("|".join(f"(?:{t})" for t in (BUTTON_TEMPLATE, SELECT_TEMPLATE, FORM_TEMPLATE))
                  .replace("?P<kind>", "").replace("?P<a>", "").replace("?P<b>", ""))


@dataclass(frozen=True)
class CustomId:
    """A decoded custom id: its kind and two id parts."""

    kind: str
    a: str
    b: str


def encode(kind: str, a: str, b: str = "", dup: int = 0) -> str:
    """Build a custom id; raises ValueError if a part holds ``|`` or the id exceeds 100 characters."""
    if "|" in a or "|" in b:
        raise ValueError(f"custom id parts may not contain '|': {a!r}, {b!r}")
    custom_id = f"{kind}|{a}|{b}" + (f"|{dup}" if dup else "")
    if len(custom_id) > MAX_CUSTOM_ID:
        raise ValueError(f"custom id longer than {MAX_CUSTOM_ID} characters: {custom_id!r}")
    return custom_id


def decode(custom_id: str) -> CustomId | None:
    """The parts of one of our custom ids, or None for anything else (an old or foreign id)."""
    for template in (BUTTON_TEMPLATE, SELECT_TEMPLATE, FORM_TEMPLATE):
        found = re.fullmatch(template, custom_id)
        if found:
            return CustomId(found["kind"], found["a"], found["b"])
    return None


def is_ours(custom_id: str) -> bool:
    return _ANY.fullmatch(custom_id) is not None


class UniqueIds:
    """Hands out custom ids that are unique within one message (Discord rejects duplicates)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def make(self, kind: str, a: str, b: str = "") -> str:
        dup = 0
        custom_id = encode(kind, a, b)
        while custom_id in self._seen:
            dup += 1
            custom_id = encode(kind, a, b, dup)
        self._seen.add(custom_id)
        return custom_id
