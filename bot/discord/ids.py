"""Component custom ids: they carry only ids (an action id and a value), never state (DESIGN.md 2.2).

Buttons: ``rad|<action>|<value>`` (run), ``radc|…`` (ask to confirm first), ``radx||`` (cancel),
``radn|<draft>|<step>`` (open a form step), ``radr|<draft>|<step>`` (reopen a form after errors).
Selects: ``rads|<action>|<value>``. Modals: ``radf|<draft>|<step>``. A trailing ``|<n>`` keeps two
equal ids in one message apart. Discord allows 100 characters; longer ids fail loudly.
Search boxes: a button ``radq|<action>|<value>|<n>|<text to prefill>`` (the text, which may hold any
character, is cut to fit) opening a modal ``radqs|<action>|<value>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_CUSTOM_ID = 100
RUN, CONFIRM, CANCEL, NEXT_STEP, RETRY = "rad", "radc", "radx", "radn", "radr"
SELECT, FORM, SEARCH, SEARCH_FORM = "rads", "radf", "radq", "radqs"
BUTTON_TEMPLATE = r"(?P<kind>rad[cxnr]?)\|(?P<a>[^|]*)\|(?P<b>[^|]*)(?:\|\d+)?"
SELECT_TEMPLATE = r"(?P<kind>rads)\|(?P<a>[^|]*)\|(?P<b>[^|]*)(?:\|\d+)?"
FORM_TEMPLATE = r"(?P<kind>radf)\|(?P<a>[0-9a-f]+)\|(?P<b>\d+)"
SEARCH_TEMPLATE = r"(?P<kind>radq)\|(?P<a>[^|]*)\|(?P<b>[^|]*)\|\d*\|(?P<text>[\s\S]*)"
SEARCH_FORM_TEMPLATE = r"(?P<kind>radqs)\|(?P<a>[^|]*)\|(?P<b>[^|]*)"
TEMPLATES = tuple(re.compile(t) for t in (BUTTON_TEMPLATE, SELECT_TEMPLATE, FORM_TEMPLATE, SEARCH_TEMPLATE,
                                          SEARCH_FORM_TEMPLATE))


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


def encode_search(a: str, b: str, text: str = "", dup: int = 0) -> str:
    """A search box's button: its action and value, and the text to prefill, cut to fit in 100 characters."""
    head = encode(SEARCH, a, b) + f"|{dup or ''}|"
    if len(head) > MAX_CUSTOM_ID:
        raise ValueError(f"custom id longer than {MAX_CUSTOM_ID} characters: {head!r}")
    return head + text[: MAX_CUSTOM_ID - len(head)]


def decode(custom_id: str) -> CustomId | None:
    """The kind and id parts of one of our custom ids, or None for anything else (an old or foreign id)."""
    for template in TEMPLATES:
        found = template.fullmatch(custom_id)
        if found:
            return CustomId(found["kind"], found["a"], found["b"])
    return None


def is_ours(custom_id: str) -> bool:
    """True for a custom id this bot made (of any version it still decodes)."""
    return decode(custom_id) is not None


class UniqueIds:
    """Hands out custom ids that are unique within one message (Discord rejects duplicates)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def make(self, kind: str, a: str, b: str = "") -> str:
        """A custom id of ``kind`` for ``a`` and ``b``, numbered if the message already has it."""
        return self._unique(lambda dup: encode(kind, a, b, dup))

    def make_search(self, a: str, b: str, text: str) -> str:
        """A search button's custom id, numbered if the message already has it."""
        return self._unique(lambda dup: encode_search(a, b, text, dup))

    def _unique(self, build: Callable[[int], str]) -> str:
        dup = 0
        custom_id = build(dup)
        while custom_id in self._seen:
            dup += 1
            custom_id = build(dup)
        self._seen.add(custom_id)
        return custom_id
