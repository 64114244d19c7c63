"""Searchable selects: a select longer than Slack's 100 options becomes an ``external_select``.

Slack asks for its options as the user types (``block_suggestion``); the answer comes from the select's options
provider.

The provider travels in the actions block's ``block_id`` (``opts:<provider>``); the select's own value
travels in its action id (``<action_id>#<n>:<value>``), as for static selects.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.slack import elements, limits
from bot.slack.elements import Json, plain_text
from commands.ui.model import Control, Option, Select

log = logging.getLogger(__name__)

BLOCK_PREFIX = "opts:"
MIN_QUERY_LENGTH = 0
"""Slack asks for options as soon as the menu opens, so the first matches show before anything is typed."""


def options_source(control: Control) -> str:
    """The provider to search for ``control``: set only for a select too long for a static select."""
    if isinstance(control, Select) and control.options_source and len(control.options) > limits.SELECT_OPTIONS:
        return control.options_source
    return ""


def encode_block_id(provider: str) -> str:
    """The block id naming ``provider`` (made unique per message by ``unique_block_ids``)."""
    if elements.SEPARATOR in provider:
        raise ValueError(f"options provider {provider!r} must not contain {elements.SEPARATOR!r}")
    encoded = BLOCK_PREFIX + provider
    if len(encoded) > limits.BLOCK_ID - 4:
        raise ValueError(f"options provider {provider!r} is too long for a block id")
    return encoded


def decode_block_id(block_id: str) -> str:
    """The provider a block id names; empty for a block id we did not make."""
    if not block_id.startswith(BLOCK_PREFIX):
        return ""
    return block_id.removeprefix(BLOCK_PREFIX).partition(elements.SEPARATOR)[0]


def unique_block_ids(blocks: list[Json]) -> list[Json]:
    """The blocks with a ``#n`` suffix on repeated block ids (Slack refuses a message that repeats one)."""
    seen: set[str] = set()
    unique: list[Json] = []
    for block in blocks:
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            candidate, n = block_id, 1
            while candidate in seen:
                n += 1
                candidate = f"{block_id}{elements.SEPARATOR}{n}"
            seen.add(candidate)
            if candidate != block_id:
                block = {**block, "block_id": candidate}
        unique.append(block)
    return unique


def external_select(control: Select, action_id: str) -> Json:
    """An ``external_select`` (or ``multi_external_select``) showing the pre-selected options."""
    element: Json = {"type": "multi_external_select" if control.multi else "external_select",
                     "action_id": action_id, "min_query_length": MIN_QUERY_LENGTH,
                     "placeholder": plain_text(control.placeholder or "Type to search…", limits.PLACEHOLDER)}
    labels = {o.value: o for o in control.options}
    initial = [elements.option(labels.get(v) or Option(v, v)) for v in control.selected]
    if control.multi and initial:
        element["initial_options"] = initial
    elif initial:
        element["initial_option"] = initial[0]
    return element


def options_answer(found: Sequence[Option]) -> list[Json]:
    """The ``options`` of a ``block_suggestion`` answer: at most 100, labels cut, over-long values left out."""
    answer: list[Json] = []
    for choice in found:
        if len(answer) == limits.SELECT_OPTIONS:
            break
        if not choice.value or len(choice.value) > limits.OPTION_VALUE:
            log.warning("option left out: its value is empty or too long", extra={"length": len(choice.value)})
            continue
        answer.append(elements.option(choice))
    return answer
