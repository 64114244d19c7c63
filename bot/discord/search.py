"""Search boxes on Discord: a message cannot hold a text input, so a 🔍 button opens a one-field modal.

The button's custom id carries the action, its value and the text to prefill (``ids.encode_search``); the
modal's carries the action and the value. Both are handled from their custom ids alone, so a search box
keeps working after a restart. Submitting the modal dispatches the action with the typed text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import discord

from bot.discord import ids
from bot.discord.forms import LABEL_MAX, TEXT_MAX, TITLE_MAX, FormModal, read_components
from bot.discord.text import shorten

QUERY = "query"
"""The custom id of the modal's text input."""


def search_modal(action_id: str, value: str, label: str, text: str = "") -> FormModal:
    """The modal of a search button: titled by its label, its one text input prefilled with ``text``."""
    title = shorten(label.strip() or "Search", TITLE_MAX)
    modal = FormModal(title=title, custom_id=ids.encode(ids.SEARCH_FORM, action_id, value))
    box: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id=QUERY, style=discord.TextStyle.short, required=False, max_length=TEXT_MAX,
        default=text[:TEXT_MAX] or None)
    modal.add_item(discord.ui.Label(text=shorten(title, LABEL_MAX), component=box))
    return modal


def typed_text(components: Sequence[Mapping[str, Any]]) -> str:
    """What was typed in a submitted search modal (empty when the box was cleared)."""
    typed = read_components(components).get(QUERY)
    return typed.strip() if isinstance(typed, str) else ""
