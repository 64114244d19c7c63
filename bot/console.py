"""The console front door: the same registry in a terminal, acting as a chosen user.

Buttons and selects are shown as numbered choices, forms are asked field by field (secret fields
without echo), attachments are written to a folder and their paths printed.
"""

from __future__ import annotations

import getpass
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.markup import emojify
from commands.ui.model import (
    Button,
    Card,
    Control,
    Form,
    FormErrors,
    FormValue,
    Input,
    Outcome,
    Reply,
    SearchBox,
    Select,
)
from core.accounts.identity import Caller, IdentityKey
from core.conversations import ConversationRef

EXIT_WORDS = {"quit", "exit", ":q"}
SEARCH_ABOVE = 20


def console_caller(identity: str) -> Caller:
    """``alice`` → the console user alice; ``slack:T:U`` / ``discord:ID`` act as that chat identity."""
    key = IdentityKey.parse(identity) if ":" in identity else IdentityKey("console", "", identity)
    return Caller(key, key.external_id)


@dataclass
class Console:
    """A read-eval-print loop over the dispatcher; streams are injectable for tests."""

    dispatcher: Dispatcher
    caller: Caller
    files_dir: Path
    read: Callable[[str], str] = input
    read_secret: Callable[[str], str] = getpass.getpass
    out: TextIO = field(default_factory=lambda: sys.stdout)
    where: ConversationRef = field(default_factory=lambda: ConversationRef("console", channel="terminal"))

    def say(self, text: str = "") -> None:
        """Print ``text`` with its emoji codes turned into emoji."""
        print(emojify(text), file=self.out)

    def loop(self) -> None:
        """Read and run command lines until ``quit``, end of input or Ctrl-C."""
        slash = self.dispatcher.slash
        self.say(f"RAD console as {self.caller.key}. Type `help`, or `quit` to leave.")
        while True:
            try:
                line = self.read(f"{slash}> ").strip()
            except (EOFError, KeyboardInterrupt):
                self.say()
                return
            if line.lower() in EXIT_WORDS:
                return
            if line:
                self.run(line)

    def run(self, line: str) -> None:
        """Run one command line (with or without the leading slash command)."""
        slash = self.dispatcher.slash
        text = line[len(slash):] if line.startswith(slash) else line
        self.show(self.dispatcher.run_text(self.caller, text.strip(), where=self.where))

    # -- rendering ----------------------------------------------------------------------------------

    def show(self, outcome: Outcome | None) -> None:
        """Print what a command answered; a form is filled in at once."""
        if isinstance(outcome, Reply):
            self.show_reply(outcome)
        elif isinstance(outcome, Form):
            self.fill(outcome, {})
        elif isinstance(outcome, FormErrors):
            for name, message in outcome.errors.items():
                self.say(f"  {name}: {message}")

    def show_reply(self, reply: Reply, *, interactive: bool = True) -> None:
        """Print a reply's text, cards and attachments (saved to the files folder), then offer its controls."""
        if reply.text:
            self.say(reply.text)
        controls: list[Control] = []
        for card in reply.cards:
            self.show_card(card)
            controls += card.actions
        controls += reply.actions
        for attachment in reply.attachments:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / Path(attachment.filename).name
            path.write_bytes(attachment.content)
            self.say(f"  📎 {attachment.title or attachment.filename}: {path}")
        if controls and interactive:
            self.choose(controls)

    def show_card(self, card: Card) -> None:
        """Print a card's title, text and fields."""
        self.say(f"── {card.title}")
        if card.text:
            self.say(card.text)
        for item in card.fields:
            value = item.value.replace("\n", "\n    ")
            self.say(f"  {item.label}: {value}")

    def choose(self, controls: list[Control]) -> None:
        """Offer ``controls`` as numbered choices and run the action of the one chosen."""
        for number, control in enumerate(controls, 1):
            label = control.placeholder if isinstance(control, Select) else control.label
            self.say(f"  [{number}] {label}")
        answer = self.ask("Choose a number (Enter to skip): ")
        if not answer.isdigit() or not 1 <= int(answer) <= len(controls):
            return
        control = controls[int(answer) - 1]
        if isinstance(control, Button):
            if control.confirm and not self.confirm(f"{control.confirm.title}: {control.confirm.text}"):
                return
            event = ActionEvent(control.action_id, control.value)
        elif isinstance(control, SearchBox):
            event = ActionEvent(control.action_id, control.value, (self.ask(f"{control.placeholder}: "),))
        else:
            picked = self.pick(control)
            if picked is None:
                return
            event = ActionEvent(control.action_id, control.value, picked)
        self.show(self.dispatcher.run_action(self.caller, event, where=self.where))

    def pick(self, select: Select) -> tuple[str, ...] | None:
        """The values chosen from ``select`` (searched first when it has many options), or None when skipped."""
        if select.options_source and len(select.options) > SEARCH_ABOVE:
            query = self.ask(f"{len(select.options)} choices; type part of a name to search: ")
            found = self.dispatcher.suggest(self.caller, select.options_source, query, select.value)
            if not found:
                self.say("  Nothing matches.")
                return None
            select = replace(select, options=tuple(found[:SEARCH_ABOVE]))
        for number, option in enumerate(select.options, 1):
            mark = "*" if option.value in select.selected else " "
            self.say(f"   {mark}{number}. {option.label}")
        prompt = "Numbers, comma-separated: " if select.multi else "Number: "
        numbers = [p.strip() for p in self.ask(prompt).split(",") if p.strip()]
        if not numbers or not all(n.isdigit() and 1 <= int(n) <= len(select.options) for n in numbers):
            return None
        return tuple(select.options[int(n) - 1].value for n in (numbers if select.multi else numbers[:1]))

    # -- forms --------------------------------------------------------------------------------------

    def fill(self, form: Form, values: dict[str, FormValue], only: set[str] | None = None) -> None:
        """Ask each field (or only the failed ones), submit, and ask again on field errors."""
        self.say(f"== {form.title}")
        if form.intro:
            self.say(form.intro)
        for spec in form.inputs:
            if only is None or spec.name in only:
                values[spec.name] = self.ask_input(spec, values.get(spec.name, spec.default))
        outcome = self.dispatcher.submit_form(self.caller, form.action_id, values, form.state, where=self.where)
        if isinstance(outcome, FormErrors) and outcome.errors:
            for name, message in outcome.errors.items():
                self.say(f"  ✖ {name}: {message}")
            self.fill(form, values, set(outcome.errors))
            return
        self.show(outcome)

    def ask_input(self, spec: Input, current: FormValue) -> FormValue:
        """Ask for one form field the way its kind needs (secrets without echo); returns the value to submit."""
        mark = "" if spec.required else " (optional)"
        if spec.help:
            self.say(f"  {spec.help}")
        if spec.kind == "secret":
            return self.read_secret(f"{spec.label}{mark} (hidden): ").strip() or None
        if spec.kind == "bool":
            default = "Y/n" if current else "y/N"
            answer = self.ask(f"{spec.label} [{default}]: ").lower()
            return bool(current) if not answer else answer in ("y", "yes", "true", "1")
        if spec.kind in ("choice", "multichoice"):
            chosen = self.pick(Select(spec.name, spec.options, multi=spec.kind == "multichoice",
                                      selected=_as_tuple(current)))
            if chosen is None:
                return _as_tuple(current) if spec.kind == "multichoice" else (str(current) if current else None)
            return chosen if spec.kind == "multichoice" else chosen[0]
        if spec.kind == "multiline":
            self.say(f"{spec.label}{mark} (end with an empty line):")
            lines = []
            while (line := self.ask("  ")) != "":
                lines.append(line)
            return "\n".join(lines) or (str(current) if current else None)
        shown = f" [{current}]" if current not in (None, "") else ""
        answer = self.ask(f"{spec.label}{mark}{shown}: ")
        return answer or (str(current) if current not in (None, "") else None)

    def ask(self, prompt: str) -> str:
        """One line of input, stripped; empty at end of input."""
        try:
            return self.read(prompt).strip()
        except EOFError:
            return ""

    def confirm(self, question: str) -> bool:
        """Ask a yes/no ``question``; no unless the answer is yes."""
        return self.ask(f"{question} [y/N]: ").lower() in ("y", "yes")


def _as_tuple(value: FormValue) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return value
    return (str(value),) if value else ()


class ConsoleMessenger:
    """The Messenger of the console: background work (a deployment's progress) is printed as it happens."""

    platform = "console"

    def __init__(self, console: Console) -> None:
        self.console = console
        self._count = itertools.count(1)

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        """Print ``reply`` (without choices); returns a reference numbered in order of posting."""
        self.console.say()
        self.console.show_reply(reply, interactive=False)
        return replace(where, message=str(next(self._count)))

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        """Print ``reply`` again in its new form."""
        self.console.show_reply(reply, interactive=False)

    def notify(self, user: IdentityKey, reply: Reply) -> None:
        """Print ``reply`` as addressed to ``user``."""
        self.console.say(f"\n📬 To @{user.external_id}:")
        self.console.show_reply(reply, interactive=False)
