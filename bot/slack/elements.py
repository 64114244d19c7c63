"""Block Kit elements for the neutral controls.

Buttons, selects, search boxes, options, confirm dialogs, and the action ids that name them in a block.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.slack import limits
from bot.slack.mrkdwn import fit
from commands.ui.model import Button, Confirm, Option, SearchBox, Select

log = logging.getLogger(__name__)

Json = dict[str, Any]
SEPARATOR = "#"


def plain_text(text: str, limit: int) -> Json:
    """A ``plain_text`` object, cut to ``limit`` (labels and titles cannot be split)."""
    return {"type": "plain_text", "text": fit(text.strip() or "-", limit), "emoji": True}


def encode_action_id(action_id: str, index: int, value: str = "") -> str:
    """``<action_id>#<index>`` (unique within a block), plus ``:<value>`` for a select's own value."""
    if SEPARATOR in action_id:
        raise ValueError(f"action id {action_id!r} must not contain {SEPARATOR!r}")
    encoded = f"{action_id}{SEPARATOR}{index}" + (f":{value}" if value else "")
    if len(encoded) > limits.ACTION_ID:
        raise ValueError(f"action id {action_id!r} with its value is longer than {limits.ACTION_ID} characters")
    return encoded


def decode_action_id(encoded: str) -> tuple[str, str]:
    """The registered action id and the select's own value from an encoded Slack ``action_id``."""
    action_id, separator, suffix = encoded.partition(SEPARATOR)
    if not separator:
        return encoded, ""
    _, _, value = suffix.partition(":")
    return action_id, value


def confirm_dialog(confirm: Confirm, *, danger: bool) -> Json:
    """A Block Kit confirm dialog; ``danger`` makes its confirm button red."""
    dialog: Json = {
        "title": plain_text(confirm.title, limits.CONFIRM_TITLE),
        "text": plain_text(confirm.text, limits.CONFIRM_TEXT),
        "confirm": plain_text(confirm.confirm, limits.CONFIRM_BUTTON),
        "deny": plain_text(confirm.deny, limits.CONFIRM_BUTTON),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def button(control: Button, action_id: str) -> Json:
    """A Block Kit button; ValueError when its value exceeds Slack's limit."""
    if len(control.value) > limits.BUTTON_VALUE:
        raise ValueError(f"button {control.action_id!r}: value longer than {limits.BUTTON_VALUE} characters")
    element: Json = {"type": "button", "text": plain_text(control.label, limits.BUTTON_TEXT), "action_id": action_id}
    if control.value:
        element["value"] = control.value
    if control.url:
        element["url"] = control.url
    if control.style != "default":
        element["style"] = control.style
    if control.confirm is not None:
        element["confirm"] = confirm_dialog(control.confirm, danger=control.style == "danger")
    return element


def option(choice: Option) -> Json:
    """A Block Kit option; ValueError when its value exceeds Slack's limit."""
    if len(choice.value) > limits.OPTION_VALUE:
        raise ValueError(f"option value {choice.value[:20]!r}… is longer than {limits.OPTION_VALUE} characters")
    built: Json = {"text": plain_text(choice.label, limits.OPTION_TEXT), "value": choice.value}
    if choice.description:
        built["description"] = plain_text(choice.description, limits.OPTION_DESCRIPTION)
    return built


def visible_options(options: Sequence[Option], selected: Sequence[str]) -> tuple[list[Option], int]:
    """At most 100 options, the selected ones first among them; and how many were left out.

    A longer list with an options provider becomes an external select (``bot.slack.suggestions``); others are
    cut here and the caller shows "…and N more".
    """
    if len(options) <= limits.SELECT_OPTIONS:
        return list(options), 0
    chosen = [o for o in options if o.value in selected]
    rest = [o for o in options if o.value not in selected]
    shown = (chosen + rest)[: limits.SELECT_OPTIONS]
    order = {id(o): i for i, o in enumerate(options)}
    shown.sort(key=lambda o: order[id(o)])
    log.info("select cut to %d options", limits.SELECT_OPTIONS, extra={"hidden": len(options) - len(shown)})
    return shown, len(options) - len(shown)


def choice_element(options: Sequence[Option], selected: Sequence[str], *, multi: bool, action_id: str,
                   placeholder: str = "") -> tuple[Json, int]:
    """A static (multi) select; returns the element and how many options did not fit."""
    shown, hidden = visible_options(options, selected)
    built = [option(o) for o in shown]
    element: Json = {"type": "multi_static_select" if multi else "static_select", "action_id": action_id,
                     "options": built}
    if placeholder:
        element["placeholder"] = plain_text(placeholder, limits.PLACEHOLDER)
    initial = [b for o, b in zip(shown, built, strict=True) if o.value in selected]
    if multi and initial:
        element["initial_options"] = initial
    elif initial:
        element["initial_option"] = initial[0]
    return element, hidden


def select(control: Select, action_id: str) -> tuple[Json, int]:
    """A static (multi) select for a neutral Select; returns the element and how many options did not fit."""
    return choice_element(control.options, control.selected, multi=control.multi, action_id=action_id,
                          placeholder=control.placeholder)


def search_input(box: SearchBox, action_id: str) -> Json:
    """An ``input`` block whose text box dispatches a block action when the user presses Enter.

    The typed text arrives as the action's ``value``; the box's own value travels in ``action_id``.
    """
    element: Json = {"type": "plain_text_input", "action_id": action_id,
                     "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]}}
    if box.placeholder.strip():
        element["placeholder"] = plain_text(box.placeholder, limits.PLACEHOLDER)
    if box.initial:
        element["initial_value"] = box.initial[: limits.TEXT_INPUT_LENGTH]
    return {"type": "input", "dispatch_action": True, "label": plain_text(box.label, limits.INPUT_LABEL),
            "element": element}


def more_note(hidden: int) -> str:
    """The note under a cut select saying how many choices are not shown."""
    return f"…and {hidden} more not shown: the list holds at most {limits.SELECT_OPTIONS} choices."
