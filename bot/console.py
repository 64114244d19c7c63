"""The console front door: the same registry in a terminal, acting as a chosen user.

Buttons and selects are shown as numbered choices under their card, forms are asked field by field (secret
fields without echo), attachments are written to a folder and their paths printed. A button keeps its number
when its message is shown again in another order. Ctrl-C or Ctrl-D inside a form or a choice drops it and
returns to the prompt; at the prompt they leave. Progress and direct messages arrive from other threads
(``bot.console_feed`` follows the database) without eating the prompt (``bot.terminal``).
"""

from __future__ import annotations

import getpass
import hashlib
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from bot.terminal import Screen
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
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
YES, NO = frozenset({"y", "yes", "true", "1"}), frozenset({"n", "no", "false", "0"})
SEARCH_ABOVE = 20
CHANNEL_LENGTH = 64
"""The width of the ``chat_channel`` column a deployment stores its console in."""


class Cancelled(Exception):
    """Ctrl-C or end of input at a prompt inside a form or a choice: it is dropped, the console goes on."""


def console_channel(key: IdentityKey) -> str:
    """The console "channel" of the user ``key``: deployments made there remember whose console it was."""
    name = str(key)
    if len(name) <= CHANNEL_LENGTH:
        return name
    return "console-" + hashlib.sha256(name.encode()).hexdigest()[:CHANNEL_LENGTH - 8]


def console_caller(identity: str) -> Caller:
    """``alice`` → the console user alice; ``slack:T:U`` / ``discord:ID`` act as that chat identity."""
    key = IdentityKey.parse(identity) if ":" in identity else IdentityKey("console", "", identity)
    return Caller(key, key.external_id)


ControlKey = tuple[str, str, str, int]


def control_key(control: Control, seen: dict[tuple[str, str, str], int]) -> ControlKey:
    """What identifies a control across renderings of its message.

    Its kind, action and value (not its label, which may change: "Publish (2 selected)"), and which occurrence
    of those it is.
    """
    base = (type(control).__name__, control.action_id, control.value)
    seen[base] = seen.get(base, 0) + 1
    return (*base, seen[base])


@dataclass
class Numbering:
    """The numbers of one message's buttons, by control; the user types them to press a button."""

    by_key: dict[ControlKey, int] = field(default_factory=dict)
    controls: dict[int, Control] = field(default_factory=dict)
    next_number: int = 1

    def renumbered(self, controls: list[Control]) -> tuple[Numbering, list[int]]:
        """The numbering of the same message shown again, and the number of each of ``controls``.

        Controls seen before keep their number; new ones get numbers never used in the message, so a number
        typed from an earlier rendering never presses another button.
        """
        seen: dict[tuple[str, str, str], int] = {}
        numbering = Numbering(next_number=self.next_number)
        numbers = []
        for control in controls:
            key = control_key(control, seen)
            number = self.by_key.get(key)
            if number is None:
                number, numbering.next_number = numbering.next_number, numbering.next_number + 1
            numbering.by_key[key], numbering.controls[number] = number, control
            numbers.append(number)
        return numbering, numbers

    def describe(self) -> str:
        """The numbers on offer, e.g. ``1-3`` or ``2, 4, 5``."""
        shown = sorted(self.controls)
        if shown and shown == list(range(shown[0], shown[-1] + 1)) and len(shown) > 1:
            return f"{shown[0]}-{shown[-1]}"
        return ", ".join(map(str, shown))


@dataclass
class Console:
    """A read-eval-print loop over the dispatcher; streams are injectable for tests.

    ``read`` and ``read_secret`` default to the terminal; ``where`` defaults to this user's console channel.
    """

    dispatcher: Dispatcher
    caller: Caller
    files_dir: Path
    read: Callable[[str], str] | None = None
    read_secret: Callable[[str], str] | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    where: ConversationRef | None = None
    ansi: bool | None = None
    """Terminal rendering (bold, italics, code; prompt redrawing); by default when ``out`` is a terminal."""

    def __post_init__(self) -> None:
        self.screen = Screen(self.out, read=self.read, read_secret=self.read_secret or getpass.getpass,
                             ansi=self.ansi)
        self.here = self.where or ConversationRef("console", channel=console_channel(self.caller.key))
        self.numbering = Numbering()
        self._progress: dict[str, str] = {}
        self.thread: ConversationRef | None = None
        """The last thread a message arrived in (a Jules session's): ``> text`` answers there."""
        self.thread_reply: Reply | None = None
        """The last message of that thread with buttons (a plan, a pull request): ``>`` alone offers them."""

    def say(self, text: str = "") -> None:
        """Print ``text`` (its markup rendered for a terminal, emoji codes as emoji)."""
        self.screen.show(text)

    def loop(self) -> None:
        """Read and run command lines until ``quit``, end of input or Ctrl-C at the prompt."""
        slash = self.dispatcher.slash
        self.say(f"RAD console as {self.caller.key}. Type `help` for the commands, `quit` to leave.")
        while True:
            try:
                line = self.screen.ask(f"{slash}> ").strip()
            except (EOFError, KeyboardInterrupt):
                self.say()
                return
            if line.lower() in EXIT_WORDS:
                return
            if not line:
                continue
            try:
                self.run(line)
            except Cancelled:  # a question asked outside a form or a choice was left with Ctrl-C
                self.say("\n✖ Cancelled.")
            except KeyboardInterrupt:  # Ctrl-C while a command was running: its transaction was rolled back
                self.say("\n✖ Interrupted. Type `quit` to leave.")

    def run(self, line: str) -> None:
        """Run one command line (with or without the leading slash command)."""
        if line.startswith(">"):
            self.in_thread(line[1:].strip())
            return
        slash = self.dispatcher.slash
        text = line[len(slash):] if line.startswith(slash) else line
        self.show(self.dispatcher.run_text(self.caller, text.strip(), where=self.here))

    def in_thread(self, text: str) -> None:
        """The session prompt: ``> text`` posts ``text`` in the last thread; ``>`` alone offers its last buttons."""
        if self.thread is None:
            self.say("No thread is open here yet: start one (`refine <module>`), then answer with `> message`.")
        elif text:
            self.show(self.dispatcher.thread_message(self.caller, self.thread, text))
        elif self.thread_reply is None:
            self.say("Nothing in the thread to choose from yet.")
        else:
            self.show_reply(self.thread_reply)

    def thread_post(self, where: ConversationRef, reply: Reply) -> None:
        """A message in a thread of this console (a Jules session's), printed; ``>`` answers it."""
        self.thread = where.in_thread(where.thread)
        if reply.actions:
            self.thread_reply = reply
        hint = " (`>` alone offers these buttons)" if reply.actions else ""
        self.tell(reply, lead=f"🧵 In the thread{hint}; answer with `> message`:")

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
        """Print a reply, each card with its buttons under it, then offer the buttons by number.

        Attachments are saved to the files folder and their paths printed. A reply replacing the message
        whose button was pressed keeps that message's numbers.
        """
        self.screen.show(self.render_reply(reply, interactive=interactive))
        if interactive and self.numbering.controls:
            self.choose()

    def render_reply(self, reply: Reply, *, interactive: bool = True) -> str:
        """A reply as the lines the console prints; numbers its buttons when ``interactive``."""
        controls = [c for card in reply.cards for c in card.actions] + list(reply.actions)
        numbers: Iterator[int | None] = iter([None] * len(controls))
        if interactive:
            previous = self.numbering if reply.replace_original else Numbering()
            self.numbering, assigned = previous.renumbered(controls)
            numbers = iter(assigned)
        lines = [reply.text] if reply.text else []
        for card in reply.cards:
            lines.append(self.render_card(card))
            lines += [self.render_control(control, next(numbers)) for control in card.actions]
        lines += [self.render_control(control, next(numbers)) for control in reply.actions]
        for attachment in reply.attachments:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / Path(attachment.filename).name
            path.write_bytes(attachment.content)
            lines.append(f"  📎 {attachment.title or attachment.filename}: {path}")
        return "\n".join(lines)

    @staticmethod
    def render_control(control: Control, number: int | None) -> str:
        """``  [3] Publish`` (or ``  [Publish]`` when it cannot be pressed from here)."""
        label = control.placeholder if isinstance(control, Select) else control.label
        if isinstance(control, Button) and control.url:
            label = f"{label}: {control.url}"  # a link: open it in a browser
        return f"  [{number}] {label}" if number is not None else f"  [{label}]"

    def show_card(self, card: Card) -> None:
        """Print a card's title, text and fields."""
        self.say(self.render_card(card))

    @staticmethod
    def render_card(card: Card) -> str:
        """A card's title, text and fields as lines."""
        lines = [f"── {card.title}"]
        if card.text:
            lines.append(card.text)
        for item in card.fields:
            value = item.value.replace("\n", "\n    ")
            lines.append(f"  {item.label}: {value}")
        return "\n".join(lines)

    def choose(self) -> None:
        """Ask for the number of a button of the message just shown and run its action.

        Enter skips; text or a number not on offer is explained and asked again; Ctrl-C or end of input
        skips too.
        """
        numbering = self.numbering
        try:
            while True:
                answer = self.ask("Choose a number (Enter to skip): ")
                if not answer:
                    return
                if answer.isdigit() and int(answer) in numbering.controls:
                    break
                what = f"There is no button {answer} here" if answer.isdigit() else f"`{answer}` is not a number"
                self.say(f"  {what}: type {numbering.describe()}, or press Enter to skip.")
            control = numbering.controls[int(answer)]
            event = self.event_for(control)
        except Cancelled:
            self.say()
            return
        if event is not None:
            self.show(self.dispatcher.run_action(self.caller, event, where=self.here))

    def event_for(self, control: Control) -> ActionEvent | None:
        """The action of pressing ``control`` (confirmed, searched or picked first), or None when dropped."""
        if isinstance(control, Button) and control.url:
            self.say(f"  Open this page in your browser: {control.url}")
            return None
        if isinstance(control, Button):
            if control.confirm and not self.confirm(f"{control.confirm.title}: {control.confirm.text}"):
                return None
            return ActionEvent(control.action_id, control.value)
        if isinstance(control, SearchBox):
            return ActionEvent(control.action_id, control.value, (self.ask(f"{control.placeholder}: "),))
        picked = self.pick(control)
        if picked is None:
            return None
        return ActionEvent(control.action_id, control.value, picked)

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
        prompt = "Numbers, comma-separated (Enter to skip): " if select.multi else "Number (Enter to skip): "
        while True:
            answer = self.ask(prompt)
            if not answer:
                return None
            chosen, problem = _chosen(select, answer)
            if chosen is not None:
                return chosen
            self.say(f"  {problem}")

    def ask_choice(self, spec: Input, current: FormValue) -> FormValue:
        """A choice field: numbers (or the options' names) until the answer is one; Enter keeps the current one.

        An answer that is not an option is explained and asked again, never replaced by a default.
        """
        multi = spec.kind == "multichoice"
        select = Select(spec.name, spec.options, multi=multi, selected=_as_tuple(current))
        for number, option in enumerate(select.options, 1):
            mark = "*" if option.value in select.selected else " "
            self.say(f"   {mark}{number}. {option.label}")
        keep = ", ".join(select.selected)
        hint = f"Enter keeps {keep}" if keep else ("required" if spec.required else "Enter for none")
        prompt = f"{spec.label} – {'numbers, comma-separated' if multi else 'number'} ({hint}): "
        while True:
            answer = self.ask(prompt)
            if not answer and (keep or not spec.required):
                return select.selected if multi else (select.selected[0] if keep else None)
            chosen, problem = _chosen(select, answer)
            if chosen is not None:
                return chosen if multi else chosen[0]
            self.say(f"  {problem or 'Choose one: this field is required.'}")

    # -- forms --------------------------------------------------------------------------------------

    def fill(self, form: Form, values: dict[str, FormValue], only: set[str] | None = None) -> None:
        """Ask each field (or only the failed ones), submit, and ask again on field errors.

        Ctrl-C or end of input at any field cancels the form: what earlier steps saved (a deploy draft) stays,
        and so do the answers given in this step when the form keeps parts (``Form.part_action``, as a Discord
        modal of a longer step does): running the command again offers Resume or Start again. The console goes
        back to its prompt.
        """
        self.say(f"== {form.title}")
        if form.intro:
            self.say(form.intro)
        try:
            for spec in form.inputs:
                if only is None or spec.name in only:
                    values[spec.name] = self.ask_input(spec, values.get(spec.name, spec.default))
        except Cancelled:
            if self._keep_part(form, values):
                self.say(f"\n✖ Cancelled “{form.title}”: the answers you gave are kept (not secret ones); run the "
                         "command again to resume or start again.")
                return
            kept = " What earlier steps saved is kept." if form.state else ""
            self.say(f"\n✖ Cancelled “{form.title}”: nothing of this step was sent.{kept}")
            return
        outcome = self.dispatcher.submit_form(self.caller, form.action_id, values, form.state, where=self.here)
        if isinstance(outcome, FormErrors) and outcome.errors:
            for name, message in outcome.errors.items():
                self.say(f"  ✖ {name}: {message}")
            self.fill(form, values, set(outcome.errors))
            return
        self.show(outcome)

    def _keep_part(self, form: Form, values: dict[str, FormValue]) -> bool:
        """Hand the answers given so far to the form's part handler, which keeps those that check; True if any."""
        answered = {name: value for name, value in values.items() if value not in (None, "", ())}
        if not form.part_action or not answered:
            return False
        outcome = self.dispatcher.submit_form(self.caller, form.part_action, answered, form.state, where=self.here)
        refused = set(outcome.errors) if isinstance(outcome, FormErrors) else set(answered)
        return bool(set(answered) - refused)

    def ask_input(self, spec: Input, current: FormValue) -> FormValue:
        """Ask for one form field the way its kind needs (secrets without echo); returns the value to submit."""
        mark = "" if spec.required else " (optional)"
        if spec.help:
            self.say(f"  {spec.help}")
        if spec.kind == "secret":
            return self.ask(f"{spec.label}{mark} (hidden): ", secret=True) or None
        if spec.kind == "bool":
            default = "Y/n" if current else "y/N"
            while True:
                answer = self.ask(f"{spec.label} [{default}]: ").lower()
                if not answer:
                    return bool(current)
                if answer in YES or answer in NO:
                    return answer in YES
                kept = "yes" if current else "no"
                self.say(f"  `{answer}` is neither yes nor no: answer y or n (Enter keeps {kept}).")
        if spec.kind in ("choice", "multichoice"):
            return self.ask_choice(spec, current)
        if spec.kind == "multiline":
            self.say(f"{spec.label}{mark} (end with an empty line):")
            lines = []
            while (line := self.ask("  ")) != "":
                lines.append(line)
            return "\n".join(lines) or (str(current) if current else None)
        shown = f" [{current}]" if current not in (None, "") else ""
        answer = self.ask(f"{spec.label}{mark}{shown}: ")
        return answer or (str(current) if current not in (None, "") else None)

    def ask(self, prompt: str, *, secret: bool = False) -> str:
        """One line of input, stripped (typed without echo when ``secret``).

        Raises Cancelled on Ctrl-C or end of input, so the form or choice being answered is dropped.
        """
        try:
            return self.screen.ask(prompt, secret=secret).strip()
        except (EOFError, KeyboardInterrupt) as stop:
            raise Cancelled from stop

    # -- output from other threads ------------------------------------------------------------------

    def tell(self, reply: Reply, lead: str = "") -> None:
        """Print ``reply`` from another thread (its buttons listed, not offered), keeping the prompt intact."""
        body = self.render_reply(reply, interactive=False)
        self.screen.show_async("\n".join(part for part in (lead, body) if part))

    def progress(self, subject: str, line: str) -> None:
        """Print ``line`` about ``subject`` (a deployment) from another thread, unless it was the last one."""
        if self._progress.get(subject) == line:
            return
        self._progress[subject] = line
        self.screen.show_async(line)

    def confirm(self, question: str) -> bool:
        """Ask a yes/no ``question``: Enter is no; an answer that is neither is asked again."""
        while True:
            answer = self.ask(f"{question} [y/N]: ").lower()
            if not answer or answer in NO:
                return False
            if answer in YES:
                return True
            self.say(f"  `{answer}` is neither yes nor no: answer y or n.")


def _chosen(select: Select, answer: str) -> tuple[tuple[str, ...] | None, str]:
    """The values an answer picks from ``select`` (numbers, or option names for the lazy), else what is wrong."""
    by_name = {o.value.lower(): o.value for o in select.options} | {o.label.lower(): o.value for o in select.options}
    parts = [p.strip() for p in (answer.split(",") if select.multi else [answer]) if p.strip()]
    count = len(select.options)
    picked: list[str] = []
    for part in parts:
        if part.isdigit() and 1 <= int(part) <= count:
            picked.append(select.options[int(part) - 1].value)
        elif part.lower() in by_name:
            picked.append(by_name[part.lower()])
        else:
            what = f"There is no choice {part}" if part.isdigit() else f"`{part}` is not one of the choices"
            return None, f"{what}: type a number from 1 to {count}."
    return (tuple(dict.fromkeys(picked)), "") if picked else (None, "")


def _as_tuple(value: FormValue) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return value
    return (str(value),) if value else ()


class ConsoleMessenger:
    """The Messenger of the console process, for the workers running in it.

    It shows only what belongs to this console's user: a deployment's status message becomes one line per
    step of the run (its status and result come from the database through ``bot.console_feed``, wherever
    the run was claimed), and direct messages to another user are left for their own console.
    """

    platform = "console"

    def __init__(self, console: Console) -> None:
        self.console = console
        self._count = itertools.count(1)

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        """Show ``reply`` when it is for this console; returns a reference numbered in order of posting."""
        self._show(where, reply)
        return replace(where, message=str(next(self._count)))

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        """Show what changed in the message ``where`` (a deployment's status: its new step)."""
        self._show(where, reply)

    def notify(self, user: IdentityKey, reply: Reply) -> None:
        """Print ``reply`` when ``user`` is this console's user; raises LookupError for anyone else.

        The outbox then keeps the message for that user's own console (which takes it from the database).
        """
        if user != self.console.caller.key:
            raise LookupError(f"{user} has no console in this process")
        self.console.tell(reply, lead=f"📬 To @{user.external_id}:")

    def _show(self, where: ConversationRef, reply: Reply) -> None:
        if where.channel != self.console.here.channel:
            return  # another user's console: it follows the database itself
        if where.thread and reply.in_thread:
            return  # a run's result, in the status message's thread: the feed prints it from the database
        if where.thread:
            self.console.thread_post(where, reply)  # a Jules session's thread, posted through the outbox
            return
        status = deployment_status(reply)
        if status is None:
            self.console.tell(reply)
        elif status[1]:
            self.console.progress(status[0], f"{status[0]}: {status[1]}")


def deployment_status(reply: Reply) -> tuple[str, str] | None:
    """The title and current step of a deployment's status message, or None if ``reply`` is not one."""
    card = reply.cards[0] if reply.cards else None
    labels = {item.label: item.value for item in card.fields} if card is not None else {}
    if card is None or "Status" not in labels or "Owner" not in labels:
        return None
    return card.title, labels.get("Step", "")
