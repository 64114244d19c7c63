"""The neutral UI model: what handlers return, rendered by each front door (DESIGN.md 2.1).

Handlers never build Slack blocks or Discord components; they return these frozen dataclasses.
Action ids and values carry only ids; the state lives in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

FORM_INPUTS_MAX = 50
"""The most inputs a handler puts in one Form: a longer form is split into steps by its handler. One Slack modal
holds 100 blocks (with the intro); Discord shows a Form in modals of five, one after the other."""

Style = Literal["default", "primary", "danger"]
LINK_ACTION = "link"
"""The action id of link buttons (``Button.link``): a click only opens the page, no handler runs."""
InputKind = Literal["text", "secret", "multiline", "number", "bool", "choice", "multichoice"]
FormValue = str | bool | tuple[str, ...] | None


@dataclass(frozen=True)
class Confirm:
    """A confirmation dialog shown before a destructive button runs."""

    title: str
    text: str
    confirm: str = "Confirm"
    deny: str = "Cancel"


@dataclass(frozen=True)
class Button:
    """A button; clicking it dispatches ``action_id`` with ``value``."""

    label: str
    action_id: str
    value: str = ""
    style: Style = "default"
    confirm: Confirm | None = None
    url: str = ""
    """A link button: it opens ``url`` in the browser (a Stripe Checkout page) and dispatches nothing."""

    @classmethod
    def link(cls, label: str, url: str, *, style: Style = "primary") -> Button:
        """A button that opens ``url``; its action id is :data:`LINK_ACTION`, which front doors never dispatch."""
        return cls(label, LINK_ACTION, style=style, url=url)


@dataclass(frozen=True)
class Option:
    """One choice of a select: the label shown, the value dispatched and an optional description."""
    label: str
    value: str
    description: str = ""


@dataclass(frozen=True)
class Select:
    """A single or multiple choice; choosing dispatches ``action_id`` with the chosen values."""

    action_id: str
    options: tuple[Option, ...]
    placeholder: str = "Choose…"
    multi: bool = False
    selected: tuple[str, ...] = ()
    value: str = ""
    options_source: str = ""
    """An options provider to search when there are more options than the platform's select holds
    (a Slack external select); front doors call it with what the user typed and ``value``."""


@dataclass(frozen=True)
class SearchBox:
    """A text box on a message; submitting it dispatches ``action_id`` with ``value``.

    The text typed is the only ``selected`` entry (Slack: an input that dispatches; Discord: a button opening a
    one-field form).
    """

    action_id: str
    label: str = "Search"
    placeholder: str = "Type part of a name"
    value: str = ""
    initial: str = ""


Control = Button | Select | SearchBox


@dataclass(frozen=True)
class Field:
    """A labelled value on a card."""
    label: str
    value: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply: a PNG chart, a PDF invoice, a CSV export, a log."""

    filename: str
    content: bytes
    mime: str = "application/octet-stream"
    title: str = ""


@dataclass(frozen=True)
class Card:
    """A titled block of text and fields with its own buttons (a module card, a deployment card)."""

    title: str
    text: str = ""
    fields: tuple[Field, ...] = ()
    image: str = ""
    actions: tuple[Control, ...] = ()


@dataclass(frozen=True)
class Reply:
    """A message for the user. ``text`` uses a small markdown subset: ``*bold*``, ``_italic_``, `` `code` ``."""

    text: str = ""
    cards: tuple[Card, ...] = ()
    actions: tuple[Control, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    ephemeral: bool = True
    replace_original: bool = False
    in_thread: bool = False

    def replacing(self) -> Reply:
        """The same reply, shown in place of the message whose button was clicked."""
        return replace(self, replace_original=True)


@dataclass(frozen=True)
class Input:
    """One field of a form."""

    name: str
    label: str
    kind: InputKind = "text"
    required: bool = True
    default: FormValue = None
    help: str = ""
    placeholder: str = ""
    options: tuple[Option, ...] = ()
    max_length: int | None = None


@dataclass(frozen=True)
class Form:
    """A dialog: a Slack modal, a Discord modal (split in steps of 5), prompts in the console.

    ``action_id`` names the registered form handler; ``state`` carries an id (a draft id), never data.
    """

    title: str
    action_id: str
    inputs: tuple[Input, ...]
    submit_label: str = "Submit"
    state: str = ""
    intro: str = ""
    part_action: str = ""
    """A form handler that checks part of the inputs (a Discord modal of five) before the rest is asked: it gets
    that part's values with the same ``state`` and answers FormErrors, empty when the part is fine."""


@dataclass(frozen=True)
class FormErrors:
    """Field-level validation errors returned by a form handler; the form stays open."""

    errors: Mapping[str, str] = field(default_factory=dict)


Outcome = Reply | Form | FormErrors
