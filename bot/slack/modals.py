"""Form → modal view, submitted view → form values, FormErrors → ``response_action: errors`` (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.slack import elements, limits
from bot.slack.elements import Json, plain_text
from bot.slack.mrkdwn import split_text, to_mrkdwn
from commands.ui.model import Form, FormErrors, FormValue, Input, Option

BOOL_VALUE = "true"


@dataclass(frozen=True)
class FormMeta:
    """What a modal's ``private_metadata`` carries: ids only (form state, channel, thread)."""

    state: str = ""
    channel: str = ""
    thread: str = ""


def render_form(form: Form, *, channel: str = "", thread: str = "") -> Json:
    """A modal whose ``callback_id`` is the form's action id and whose blocks are named by input names."""
    if len(form.action_id) > limits.CALLBACK_ID:
        raise ValueError(f"form id {form.action_id!r} is longer than {limits.CALLBACK_ID} characters")
    names = [i.name for i in form.inputs]
    if len(set(names)) != len(names):
        raise ValueError(f"form {form.action_id!r} has two inputs with the same name")
    if len(form.inputs) > limits.MODAL_BLOCKS:
        raise ValueError(f"form {form.action_id!r} has more than {limits.MODAL_BLOCKS} inputs")
    intro = [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
             for chunk in split_text(to_mrkdwn(form.intro), limits.SECTION_TEXT)] if form.intro.strip() else []
    intro = intro[: limits.MODAL_BLOCKS - len(form.inputs)]
    view: Json = {
        "type": "modal",
        "callback_id": form.action_id,
        "title": plain_text(form.title, limits.MODAL_TITLE),
        "close": plain_text("Cancel", limits.MODAL_BUTTON),
        "blocks": intro + [input_block(i) for i in form.inputs],
        "private_metadata": encode_metadata(FormMeta(form.state, channel, thread)),
    }
    if form.inputs:
        view["submit"] = plain_text(form.submit_label, limits.MODAL_BUTTON)
    return view


def encode_metadata(meta: FormMeta) -> str:
    """The form's ids as compact JSON for ``private_metadata``; ValueError when too long for Slack."""
    data = {k: v for k, v in (("s", meta.state), ("c", meta.channel), ("t", meta.thread)) if v}
    encoded = json.dumps(data, separators=(",", ":")) if data else ""
    if len(encoded) > limits.PRIVATE_METADATA:
        raise ValueError("form state is too long for private_metadata; keep an id there, not data")
    return encoded


def form_metadata(view: Mapping[str, Any]) -> FormMeta:
    """The ids a submitted view carries; empty for a view we did not render."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return FormMeta()
    if not isinstance(data, dict):
        return FormMeta()
    return FormMeta(str(data.get("s", "")), str(data.get("c", "")), str(data.get("t", "")))


def input_block(field: Input) -> Json:
    """An ``input`` block named by the input's name, with its help (and a note when choices were cut) as the hint."""
    element, hidden = input_element(field)
    block: Json = {"type": "input", "block_id": field.name, "label": plain_text(field.label, limits.INPUT_LABEL),
                   "element": element, "optional": not field.required}
    hint = field.help
    if hidden:
        hint = f"{hint} {elements.more_note(hidden)}".strip()
    if hint:
        block["hint"] = plain_text(hint, limits.INPUT_HINT)
    if len(field.name) > limits.BLOCK_ID:
        raise ValueError(f"input name {field.name!r} is longer than {limits.BLOCK_ID} characters")
    return block


def input_element(field: Input) -> tuple[Json, int]:
    """The element for an input kind, and how many choices did not fit in a select."""
    if field.kind in ("choice", "multichoice"):
        options = field.options or (Option("-", "-"),)
        default = field.default
        selected = default if isinstance(default, tuple) else ((default,) if isinstance(default, str) else ())
        return elements.choice_element(options, selected, multi=field.kind == "multichoice",
                                       action_id=field.name, placeholder=field.placeholder or "Choose…")
    if field.kind == "bool":
        yes = {"text": plain_text("Yes", limits.OPTION_TEXT), "value": BOOL_VALUE}
        element: Json = {"type": "checkboxes", "action_id": field.name, "options": [yes]}
        if field.default is True:
            element["initial_options"] = [yes]
        return element, 0
    if field.kind == "number":
        element = {"type": "number_input", "action_id": field.name, "is_decimal_allowed": True}
        if field.default not in (None, "") and not isinstance(field.default, (bool, tuple)):
            element["initial_value"] = str(field.default)
    else:
        element = {"type": "plain_text_input", "action_id": field.name, "multiline": field.kind == "multiline"}
        length = min(field.max_length or limits.TEXT_INPUT_LENGTH, limits.TEXT_INPUT_LENGTH)
        if field.max_length:
            element["max_length"] = max(1, length)
        if field.kind != "secret" and isinstance(field.default, str) and field.default:
            element["initial_value"] = field.default[:length]
    if field.placeholder:
        element["placeholder"] = plain_text(field.placeholder, limits.PLACEHOLDER)
    return element, 0


def form_values(view: Mapping[str, Any]) -> dict[str, FormValue]:
    """The submitted values by input name, typed as the neutral model expects."""
    values: dict[str, FormValue] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for state in actions.values():
            values[block_id] = element_value(state)
    return values


def element_value(state: Mapping[str, Any]) -> FormValue:
    """One submitted element's value: bool for checkboxes, a tuple for multi selects, else a string or None."""
    kind = state.get("type")
    if kind == "checkboxes":
        return any(o.get("value") == BOOL_VALUE for o in state.get("selected_options") or [])
    if kind in ("static_select", "external_select"):
        chosen = state.get("selected_option") or {}
        return str(chosen["value"]) if chosen.get("value") else None
    if kind in ("multi_static_select", "multi_external_select"):
        return tuple(str(o["value"]) for o in state.get("selected_options") or [])
    value = state.get("value")
    return None if value is None else str(value)


def length_errors(view: Mapping[str, Any]) -> dict[str, str]:
    """Text values longer than their input's ``max_length``, by block id, each with the limit.

    Slack's client enforces the limit; a forged or replayed payload may not, so it is checked again here.
    """
    limits_by_block = {str(b.get("block_id")): int(b["element"]["max_length"]) for b in view.get("blocks") or []
                       if b.get("type") == "input" and isinstance((b.get("element") or {}).get("max_length"), int)}
    found: dict[str, str] = {}
    for name, value in form_values(view).items():
        most = limits_by_block.get(name)
        if most is not None and isinstance(value, str) and len(value) > most:
            found[name] = f"This is {len(value)} characters long; at most {most} fit here."
    return found


def errors_response(errors: FormErrors, view: Mapping[str, Any]) -> Json:
    """``response_action: errors``; an error for a name the view lacks is shown on its first input."""
    inputs = [b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"]
    shown: dict[str, str] = {}
    for name, text in errors.errors.items():
        target = name if name in inputs else (inputs[0] if inputs else name)
        if target != name and name:
            text = f"{name}: {text}"
        shown[target] = f"{shown[target]} {text}" if target in shown else text
    return {"response_action": "errors", "errors": {k: v[: limits.INPUT_HINT] for k, v in shown.items()}}
