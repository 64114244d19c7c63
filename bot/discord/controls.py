"""The neutral controls as Discord components: buttons five to a row, selects of 25 options, search buttons.

Pure functions; custom ids carry only ids (``bot.discord.ids``). A search box becomes a 🔍 button, since a
message cannot hold a text input: clicking it opens a one-field modal (``bot.discord.search``).
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.discord import ids
from bot.discord.text import shorten
from commands.ui.model import Button, Control, Reply, SearchBox, Select

BUTTONS_PER_ROW, OPTIONS_MAX, OPTION_TEXT_MAX, BUTTON_LABEL_MAX, PLACEHOLDER_MAX = 5, 25, 100, 80, 150
SEARCH_EMOJI = "🔍"
STYLES = {"default": discord.ButtonStyle.secondary, "primary": discord.ButtonStyle.primary,
          "danger": discord.ButtonStyle.danger}


@dataclass(frozen=True)
class ButtonSpec:
    """A button to build: its label, custom id, style and emoji."""
    label: str
    custom_id: str
    style: discord.ButtonStyle = discord.ButtonStyle.secondary
    emoji: str = ""
    url: str = ""
    """A link button (style ``link``, no custom id): Discord opens the page and sends the bot nothing."""


@dataclass(frozen=True)
class SelectSpec:
    """A select to build: its custom id, placeholder, options, and how many may be chosen."""
    custom_id: str
    placeholder: str
    options: tuple[discord.SelectOption, ...]
    min_values: int = 1
    max_values: int = 1


Row = list[ButtonSpec | SelectSpec]


def control_rows(controls: tuple[Control, ...], unique: ids.UniqueIds) -> list[Row]:
    """Buttons (and search buttons) five to a row; each select in its own row, split in selects of 25 options."""
    rows: list[Row] = []
    buttons: Row = []
    for control in controls:
        if isinstance(control, Select):
            if buttons:
                rows.append(buttons)
                buttons = []
            rows += [[spec] for spec in select_specs(control, unique)]
            continue
        if len(buttons) == BUTTONS_PER_ROW:
            rows.append(buttons)
            buttons = []
        buttons.append(button_spec(control, unique) if isinstance(control, Button)
                       else search_button_spec(control, unique))
    if buttons:
        rows.append(buttons)
    return rows


def button_spec(button: Button, unique: ids.UniqueIds) -> ButtonSpec:
    """A button as a Discord button; one with a confirmation asks first (``ids.CONFIRM``)."""
    if button.url:
        return ButtonSpec(shorten(button.label or "•", BUTTON_LABEL_MAX), "", discord.ButtonStyle.link, url=button.url)
    kind = ids.CONFIRM if button.confirm is not None else ids.RUN
    return ButtonSpec(shorten(button.label or "•", BUTTON_LABEL_MAX), unique.make(kind, button.action_id, button.value),
                      STYLES[button.style])


def search_button_spec(box: SearchBox, unique: ids.UniqueIds) -> ButtonSpec:
    """A message cannot hold a text box: a 🔍 button that opens a one-field modal (``bot.discord.search``).

    The magnifier is the button's emoji; a label that starts with one loses it, so it does not show twice.
    """
    label = box.label.strip().removeprefix(SEARCH_EMOJI).strip() or "Search"
    return ButtonSpec(shorten(label, BUTTON_LABEL_MAX), unique.make_search(box.action_id, box.value, box.initial),
                      discord.ButtonStyle.secondary, SEARCH_EMOJI)


def searchable(select: Select) -> bool:
    """A select with more options than Discord shows, whose options the user can search by typing."""
    return bool(select.options_source) and len(select.options) > OPTIONS_MAX


def search_notes(reply: Reply) -> list[str]:
    """For each searchable select, how to pick one of the options it does not list."""
    controls = [*reply.actions, *(c for card in reply.cards for c in card.actions)]
    return [f"_The list below shows the first {OPTIONS_MAX} of {len(c.options)}; to pick another, type the "
            "command and start typing the name: Discord suggests matches._"
            for c in controls if isinstance(c, Select) and searchable(c)]


def select_specs(select: Select, unique: ids.UniqueIds) -> list[SelectSpec]:
    """Selects of 25 options; a searchable one shows its first 25 (``search_notes`` tells about the rest)."""
    specs = []
    shown = select.options
    if searchable(select):  # the pre-selected options first, so that they stay selected
        chosen = [o for o in shown if o.value in select.selected]
        shown = tuple(chosen + [o for o in shown if o.value not in select.selected])[:OPTIONS_MAX]
    parts = [shown[i:i + OPTIONS_MAX] for i in range(0, len(shown), OPTIONS_MAX)]
    for number, part in enumerate(parts):
        options = tuple(select_option(o.label, o.value, o.description, o.value in select.selected) for o in part)
        placeholder = select.placeholder
        if searchable(select):
            placeholder += f" (first {OPTIONS_MAX} of {len(select.options)})"
        elif len(parts) > 1:
            placeholder += f" ({number * OPTIONS_MAX + 1}–{number * OPTIONS_MAX + len(part)})"
        specs.append(SelectSpec(unique.make(ids.SELECT, select.action_id, select.value),
                                shorten(placeholder, PLACEHOLDER_MAX), options,
                                min_values=0 if select.multi else 1,
                                max_values=max(1, len(options)) if select.multi else 1))
    return specs


def select_option(label: str, value: str, description: str = "", default: bool = False) -> discord.SelectOption:
    """An option; a value (an id) over 100 characters is a bug and raises ValueError."""
    if len(value) > OPTION_TEXT_MAX:
        raise ValueError(f"select option value longer than {OPTION_TEXT_MAX} characters: {value!r}")
    return discord.SelectOption(label=shorten(label or value, OPTION_TEXT_MAX), value=value,
                                description=shorten(description, OPTION_TEXT_MAX) or None, default=default)
