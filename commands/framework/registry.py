"""One registry of commands, actions, forms and thread handlers, shared by every front door."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from commands.ui.model import FormValue, Option, Outcome, Reply
from core.accounts.identity import IdentityKey

if TYPE_CHECKING:
    from commands.framework.context import Context, JobContext

ParamKind = Literal["word", "text", "int", "user", "choice"]
ArgValue = str | int | IdentityKey | None
Args = Mapping[str, ArgValue]

CommandHandler = Callable[..., Outcome]
"""``handler(ctx, **params)``: one keyword argument per :class:`Param`, typed as :data:`PARAM_TYPES` says."""
ActionHandler = Callable[["Context", "ActionEvent"], Outcome]
FormHandler = Callable[["Context", Mapping[str, FormValue], str], Outcome]
ThreadHandler = Callable[["Context", "ThreadMessage"], Reply | None]
AfterCommit = Callable[[], None]
"""What a job may return: work to do once its transaction is committed (a network call, e.g. a Slack publish)."""
JobHandler = Callable[["JobContext", Mapping[str, Any]], AfterCommit | None]
"""``handler(ctx, payload)`` runs in the job's unit of work; what it returns, if anything, runs after the commit."""
OptionsHandler = Callable[["Context", str, str], list[Option]]
SlowWhen = Callable[[Args], bool]
"""Whether a command is slow, decided from its checked arguments (``connect repo <name>`` is, ``connect`` not)."""


PARAM_TYPES: dict[str, str] = {"word": "str", "text": "str", "choice": "str", "int": "int", "user": "IdentityKey"}
"""The annotation a handler gives each kind of parameter (``| None`` when it is optional)."""


def check_signature(name: str, handler: Callable[..., object], params: tuple[Param, ...]) -> None:
    """Raise TypeError unless ``handler(ctx, ...)`` takes exactly ``params``, each annotated with its type.

    Annotations are compared as written (``from __future__ import annotations`` keeps them as strings).
    """
    given = list(inspect.signature(handler).parameters.values())[1:]
    expected = [(p.name, PARAM_TYPES[p.kind] + ("" if p.required else " | None")) for p in params]
    found = [(p.name, p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", ""))
             for p in given]
    if found != expected:
        raise TypeError(f"the handler of `{name}` must be ({', '.join(f'{n}: {t}' for n, t in expected)}) after ctx, "
                        f"not ({', '.join(f'{n}: {t}' for n, t in found)})")


@dataclass(frozen=True)
class Param:
    """One argument of a command.

    ``word`` is one token, ``text`` the rest of the line, ``int`` a whole number, ``user`` a mention
    (``<@U123>`` on Slack, a user option on Discord, ``@name`` in the console), ``choice`` one of ``choices``.
    """

    name: str
    kind: ParamKind = "word"
    description: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()
    options: str = ""
    """An options provider offering values as the user types (Discord autocomplete)."""
    options_value: str = ""
    """The ``value`` handed to that provider (e.g. which connection's repositories to offer)."""


@dataclass(frozen=True)
class CommandSpec:
    """A command: its words (``"admin grant"``), help text, arguments and the roles that may run it."""

    name: str
    summary: str
    handler: CommandHandler
    params: tuple[Param, ...] = ()
    roles: frozenset[str] = frozenset()
    details: str = ""
    slow: bool | SlowWhen = False
    read_only: bool = False
    """Whether the handler only reads: it runs in a read-only unit of work (no write lock on SQLite)."""

    def is_slow(self, args: Args) -> bool:
        """Whether this call (with these arguments) may take long, so it must hold no transaction."""
        return self.slow(args) if callable(self.slow) else self.slow

    @property
    def usage(self) -> str:
        """How to type the command, e.g. ``admin grant <@user> user|partner|finance|admin`` (optional in brackets)."""
        parts = [self.name]
        for p in self.params:
            label = f"<@{p.name}>" if p.kind == "user" else ("|".join(p.choices) if p.choices else f"<{p.name}>")
            parts.append(label if p.required else f"[{label}]")
        return " ".join(parts)


@dataclass(frozen=True)
class ActionSpec:
    """A registered button or select handler."""

    handler: ActionHandler
    roles: frozenset[str]
    slow: bool = False
    read_only: bool = False
    """Whether the handler only reads, as for commands."""


@dataclass(frozen=True)
class FormSpec:
    """A registered form handler.

    ``slow`` ones (they call GitHub, Jules...) are closed at once by front doors, and their outcome arrives as a
    follow-up message instead of inside the form.
    """

    handler: FormHandler
    roles: frozenset[str]
    slow: bool = False


@dataclass(frozen=True)
class ActionEvent:
    """A click on a button or a choice in a select."""

    action_id: str
    value: str = ""
    selected: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThreadMessage:
    """A message posted in a thread bound to a handler, with the subject the binding names."""

    text: str
    subject: str


@dataclass
class Registry:
    """Handlers registered once by name; front doors look them up here."""

    commands: dict[str, CommandSpec] = field(default_factory=dict)
    actions: dict[str, ActionSpec] = field(default_factory=dict)
    forms: dict[str, FormSpec] = field(default_factory=dict)
    threads: dict[str, ThreadHandler] = field(default_factory=dict)
    jobs: dict[str, JobHandler] = field(default_factory=dict)
    options: dict[str, tuple[OptionsHandler, frozenset[str]]] = field(default_factory=dict)

    def command(
        self,
        name: str,
        summary: str,
        *,
        params: tuple[Param, ...] = (),
        roles: tuple[str, ...] = (),
        details: str = "",
        slow: bool | SlowWhen = False,
        read_only: bool = False,
    ) -> Callable[[CommandHandler], CommandHandler]:
        """Register a command; ``roles`` lists the roles of which the caller needs one (admins pass all).

        ``slow`` commands (they call GitHub, scan a repository...) get a placeholder at once from the front
        doors, which then replace it in place with the outcome; a :data:`SlowWhen` decides it per call.
        ``read_only`` commands only read (lists, details): their handler runs in a read-only unit of work, where
        any write fails.
        """

        def register(fn: CommandHandler) -> CommandHandler:
            self._unique(self.commands, name)
            check_signature(name, fn, params)
            self.commands[name] = CommandSpec(name, summary, fn, params, frozenset(roles), details, slow,
                                                 read_only)
            return fn

        return register

    def action(self, action_id: str, *, roles: tuple[str, ...] = (), slow: bool = False, read_only: bool = False,
               ) -> Callable[[ActionHandler], ActionHandler]:
        """Register a button or select handler; ``slow`` and ``read_only`` as for commands."""

        def register(fn: ActionHandler) -> ActionHandler:
            self._unique(self.actions, action_id)
            self.actions[action_id] = ActionSpec(fn, frozenset(roles), slow, read_only)
            return fn

        return register

    def form(self, form_id: str, *, roles: tuple[str, ...] = (), slow: bool = False,
             ) -> Callable[[FormHandler], FormHandler]:
        """Register a form's submission handler; ``slow`` ones are closed at once and answered by a follow-up."""
        def register(fn: FormHandler) -> FormHandler:
            self._unique(self.forms, form_id)
            self.forms[form_id] = FormSpec(fn, frozenset(roles), slow)
            return fn

        return register

    def options_provider(self, name: str, *, roles: tuple[str, ...] = (),
                         ) -> Callable[[OptionsHandler], OptionsHandler]:
        """Register a provider of options matching what the user typed: ``(ctx, query, value) -> options``."""

        def register(fn: OptionsHandler) -> OptionsHandler:
            self._unique(self.options, name)
            self.options[name] = (fn, frozenset(roles))
            return fn

        return register

    def thread(self, name: str) -> Callable[[ThreadHandler], ThreadHandler]:
        """Register the handler of messages posted in threads bound to ``name``."""
        def register(fn: ThreadHandler) -> ThreadHandler:
            self._unique(self.threads, name)
            self.threads[name] = fn
            return fn

        return register

    def job(self, kind: str) -> Callable[[JobHandler], JobHandler]:
        """Register the handler of a background job kind (run by the worker)."""

        def register(fn: JobHandler) -> JobHandler:
            self._unique(self.jobs, kind)
            self.jobs[kind] = fn
            return fn

        return register

    def copy(self) -> Registry:
        """A registry holding the same handlers, to extend without touching this one (tests, plugins)."""
        return Registry(dict(self.commands), dict(self.actions), dict(self.forms), dict(self.threads),
                        dict(self.jobs), dict(self.options))

    def command_groups(self) -> dict[str, list[CommandSpec]]:
        """Commands by their first word, for front doors that nest subcommands (Discord)."""
        groups: dict[str, list[CommandSpec]] = {}
        for spec in self.commands.values():
            groups.setdefault(spec.name.split()[0], []).append(spec)
        return groups

    @staticmethod
    def _unique(table: Mapping[str, object], name: str) -> None:
        if name in table:
            raise ValueError(f"{name!r} is registered twice")


REGISTRY = Registry()
"""The registry every front door uses; handler modules register into it when imported."""

command = REGISTRY.command
action = REGISTRY.action
form = REGISTRY.form
thread = REGISTRY.thread
job = REGISTRY.job
options_provider = REGISTRY.options_provider
