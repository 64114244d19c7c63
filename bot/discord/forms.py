"""Forms as Discord modals: steps of five inputs, reading a submission, and showing field errors.

Text, secret, multiline and number inputs are text inputs (a secret is never prefilled); bool, choice
and multichoice inputs are selects inside labels (discord.py 2.7 modals), or a short text input when a
choice has more than 25 options. A form with more than five inputs is split in steps; secret inputs go
to the last steps so that they are not kept between steps. Modals carry custom id ``radf|<draft>|<step>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import discord

from bot.discord import ids
from bot.discord.controls import OPTIONS_MAX, ButtonSpec, select_option
from bot.discord.drafts import Draft
from bot.discord.render import CONTENT_MAX, OutMessage, notice
from bot.discord.text import shorten, to_discord
from commands.ui.model import Form, FormValue, Input

INPUTS_PER_MODAL, TITLE_MAX, LABEL_MAX, DESCRIPTION_MAX, PLACEHOLDER_MAX, TEXT_MAX = 5, 45, 45, 100, 100, 4000
YES, NO = "yes", "no"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
SELECT_KINDS = ("bool", "choice", "multichoice")


class FormModal(discord.ui.Modal):
    """A modal handled from its custom id when submitted (see ``client.on_interaction``).

    So discord.py never keeps it in memory, and a submission works after a restart.
    """

    def is_finished(self) -> bool:
        """Always True, so discord.py never stores the modal to wait for its submission."""
        return True


def steps(form: Form) -> list[tuple[Input, ...]]:
    """The inputs of each modal: all in one when they fit, else in fives with secret inputs last."""
    room = INPUTS_PER_MODAL - (1 if form.intro else 0)
    if len(form.inputs) <= room:
        return [form.inputs]
    ordered = [i for i in form.inputs if i.kind != "secret"] + [i for i in form.inputs if i.kind == "secret"]
    chunks = [tuple(ordered[:room])]
    rest = ordered[room:]
    chunks += [tuple(rest[i:i + INPUTS_PER_MODAL]) for i in range(0, len(rest), INPUTS_PER_MODAL)]
    return chunks


def step_of(form: Form, name: str) -> int:
    """The step holding input ``name`` (0 if unknown)."""
    return next((n for n, chunk in enumerate(steps(form)) if any(i.name == name for i in chunk)), 0)


def build_modal(draft: Draft, step: int) -> FormModal:
    """Step ``step`` of the draft's form, prefilled with the values entered so far."""
    form, chunks = draft.form, steps(draft.form)
    title = form.title if len(chunks) == 1 else f"{shorten(form.title, TITLE_MAX - 8)} ({step + 1}/{len(chunks)})"
    modal = FormModal(title=shorten(title, TITLE_MAX), custom_id=ids.encode(ids.FORM, draft.token, str(step)))
    if form.intro and step == 0:
        modal.add_item(discord.ui.TextDisplay(shorten(to_discord(form.intro), TEXT_MAX)))
    for item in chunks[step]:
        value = draft.values.get(item.name, item.default)
        modal.add_item(discord.ui.Label(text=shorten(item.label, LABEL_MAX), component=_component(item, value),
                                        description=shorten(item.help, DESCRIPTION_MAX) or None))
    return modal


def _component(item: Input, value: FormValue) -> discord.ui.Item[Any]:
    if item.kind == "bool" or (item.kind in SELECT_KINDS and 0 < len(item.options) <= OPTIONS_MAX):
        return _select(item, value)
    style = discord.TextStyle.paragraph if item.kind == "multiline" else discord.TextStyle.short
    default = None if item.kind == "secret" or value in (None, "") else _as_text(value)
    max_length = min(item.max_length or TEXT_MAX, TEXT_MAX)
    return discord.ui.TextInput(custom_id=item.name, style=style, required=item.required, max_length=max_length,
                                default=default[:max_length] if default else None,
                                placeholder=shorten(item.placeholder or _hint(item), PLACEHOLDER_MAX) or None)


def _select(item: Input, value: FormValue) -> discord.ui.Select[Any]:
    chosen = _chosen(value)
    if item.kind == "bool":
        options = [select_option("Yes", YES, default=value is True), select_option("No", NO, default=value is False)]
    else:
        options = [select_option(o.label, o.value, o.description, o.value in chosen) for o in item.options]
    multi = item.kind == "multichoice"
    return discord.ui.Select(custom_id=item.name, options=options, required=item.required,
                             min_values=1 if item.required else 0, max_values=len(options) if multi else 1,
                             placeholder=shorten(item.placeholder, PLACEHOLDER_MAX) or None)


def _chosen(value: FormValue) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return value
    return (value,) if isinstance(value, str) and value else ()


def _as_text(value: FormValue) -> str:
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def _hint(item: Input) -> str:
    if item.kind in ("choice", "multichoice"):
        return "One of: " + ", ".join(o.value for o in item.options)
    return "A number" if item.kind == "number" else ""


def read_components(components: Sequence[Mapping[str, Any]]) -> dict[str, str | list[str] | bool]:
    """The raw values of a modal submission by custom id (labels and action rows unwrapped)."""
    found: dict[str, str | list[str] | bool] = {}
    for component in components:
        inner = [component["component"]] if "component" in component else component.get("components", [])
        for part in inner:
            if "custom_id" not in part:
                continue
            if "values" in part:
                found[part["custom_id"]] = list(part["values"])
            elif "value" in part:
                found[part["custom_id"]] = part["value"]
    return found


def convert(inputs: Sequence[Input], raw: Mapping[str, str | list[str] | bool]) -> tuple[
        dict[str, FormValue], dict[str, str]]:
    """Form values for the inputs of one step, and the errors Discord itself cannot check."""
    values: dict[str, FormValue] = {}
    errors: dict[str, str] = {}
    for item in inputs:
        got = raw.get(item.name)
        if item.kind == "bool":
            chosen = got if isinstance(got, list) else []
            values[item.name] = (YES in chosen) if chosen else (got if isinstance(got, bool) else None)
            continue
        if isinstance(got, list):
            values[item.name] = tuple(got) if item.kind == "multichoice" else (got[0] if got else None)
            continue
        text = str(got).strip() if got not in (None, "") else ""
        if item.required and not text:
            errors[item.name] = "This is required."
        elif item.kind == "number" and text and not NUMBER.fullmatch(text):
            errors[item.name] = "Enter a number."
        elif item.kind in ("choice", "multichoice") and text:
            values[item.name], problem = _typed_choice(item, text)
            if problem:
                errors[item.name] = problem
            continue
        values[item.name] = text or None
    return values, errors


def _typed_choice(item: Input, text: str) -> tuple[FormValue, str]:
    """A choice typed as text (more than 25 options): matched case-insensitively against the options."""
    by_key = {o.value.lower(): o.value for o in item.options} | {o.label.lower(): o.value for o in item.options}
    picked = [p.strip() for p in text.split(",")] if item.kind == "multichoice" else [text]
    unknown = [p for p in picked if p.lower() not in by_key]
    if unknown:
        return None, f"Not an option: {', '.join(unknown)}."
    chosen = tuple(by_key[p.lower()] for p in picked)
    return (chosen if item.kind == "multichoice" else chosen[0]), ""


def errors_notice(draft: Draft, errors: Mapping[str, str]) -> OutMessage:
    """Discord cannot mark fields in a modal: list the errors, with a button that reopens the form."""
    lines = [":warning: Please fix this and try again:"]
    for name, message in errors.items():
        found = draft.input(name)
        lines.append(f"• *{found.label if found else name}*: {message}")
    first = step_of(draft.form, next(iter(errors), ""))
    retry = ButtonSpec("Try again", ids.encode(ids.RETRY, draft.token, str(first)), discord.ButtonStyle.primary)
    return notice("\n".join(lines)[:CONTENT_MAX], [retry])


def next_step_notice(draft: Draft, step: int) -> OutMessage:
    """After a step: a button opening the next one (a modal cannot open another modal)."""
    total = len(steps(draft.form))
    label = "Open the form" if step == 0 else f"Continue ({step + 1}/{total})"
    text = f":pencil: *{draft.form.title}*" + (f": step {step} of {total} saved." if step else "")
    return notice(text, [ButtonSpec(label, ids.encode(ids.NEXT_STEP, draft.token, str(step)),
                                    discord.ButtonStyle.primary)])
