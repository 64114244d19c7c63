"""The dispatcher: every front door calls it; one unit of work and one authorisation check per call."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from commands.framework.context import Context
from commands.framework.metrics import COMMAND_LATENCY, LATENCY, REQUESTS, command_name
from commands.framework.parsing import UnknownCommand, check_args, find_command, parse_args, tokenize
from commands.framework.registry import ActionEvent, ArgValue, Registry, ThreadMessage
from commands.handlers.help import unknown_command_reply
from commands.ui.model import FormValue, Option, Outcome, Reply
from core import audit
from core.accounts.identity import Caller, IdentityKey, known_caller, resolve_caller
from core.accounts.roles import has_any, require_any
from core.config import Config
from core.conversations import ConversationRef, find_binding
from core.errors import NotAllowed, NotFound, RadError
from core.incidents import report
from core.services import Services
from storage.db import Database, again_if_lost, dialect_insert
from storage.models import Delivery, User, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")


_CORE_COMMAND = re.compile(r"(?<=`)/rad(?=[ `])")
"""Core names commands as ``/rad ...`` (it does not know ``RAD_COMMAND``); replies name the configured one."""


def error_reply(error: RadError, slash: str = "/rad") -> Reply:
    """What a user sees for a user error: its message, its hint, and the configured command in both."""
    text = f":warning: {error.message}"
    if error.hint:
        text += f"\n{error.hint}"
    return Reply(text=_CORE_COMMAND.sub(slash, text), ephemeral=True)


@dataclass
class _Call:
    """One request on its way through the dispatcher's chain."""

    caller: Caller
    where: ConversationRef | None
    delivery: str | None
    label: str
    slow: bool
    read_only: bool = False
    outcome: str = "ok"


class Dispatcher:
    """Runs commands, actions, form submissions and thread messages from any front door.

    Each call returns what to show (a Reply, a Form to open, FormErrors) or None when there is nothing
    to do: a delivery seen before (a Slack retry, a double-delivered interaction) or an unbound thread.
    """

    def __init__(self, registry: Registry, db: Database, config: Config,
                 clock: Callable[[], datetime] = utcnow, services: Services | None = None) -> None:
        self.registry = registry
        self.db = db
        self.config = config
        self.clock = clock
        self.services = services or Services(config)

    @property
    def slash(self) -> str:
        """The slash command as users type it, e.g. ``/rad``."""
        return f"/{self.config.command}"

    # -- entry points -------------------------------------------------------------------------------

    def run_text(self, caller: Caller, text: str, *, where: ConversationRef | None = None,
                 delivery: str | None = None) -> Outcome | None:
        """A slash command as typed: ``admin grant <@U1> partner``. Empty text shows help."""
        def body(ctx: Context) -> Outcome:
            tokens = tokenize(text) or ["help"]
            try:
                spec, rest = find_command(self.registry, tokens)
            except UnknownCommand as unknown:
                return unknown_command_reply(ctx, unknown)
            args = parse_args(spec, rest, caller, self.slash)
            return self._invoke(ctx, spec.name, args)

        return self._run(caller, where, delivery, f"command:{text[:40]}", body,
                         slow=self.is_slow_command(text, caller), read_only=self.is_read_only_command(text))

    def run_command(self, caller: Caller, name: str, args: Mapping[str, str | int | IdentityKey | None], *,
                    where: ConversationRef | None = None, delivery: str | None = None) -> Outcome | None:
        """A command with structured arguments (Discord options), checked like typed ones."""
        def body(ctx: Context) -> Outcome:
            spec = self.registry.commands.get(name)
            if spec is None:
                return unknown_command_reply(ctx, UnknownCommand(name, []))
            return self._invoke(ctx, name, check_args(spec, args, caller, self.slash))

        return self._run(caller, where, delivery, f"command:{name}", body,
                         slow=self.is_slow_command(name, caller, args), read_only=self.is_read_only_command(name))

    def run_action(self, caller: Caller, event: ActionEvent, *, where: ConversationRef | None = None,
                   delivery: str | None = None) -> Outcome | None:
        """A button click or select choice; re-authorised here, the value is only an id."""
        def body(ctx: Context) -> Outcome:
            entry = self.registry.actions.get(event.action_id)
            if entry is None:
                raise NotFound("That button no longer does anything.",
                               hint=f"Run `{self.slash} help` to start again.")
            self._authorise(ctx, entry.roles, "use this button")
            return entry.handler(ctx, event)

        entry = self.registry.actions.get(event.action_id)
        return self._run(caller, where, delivery, f"action:{event.action_id}", body,
                         slow=self.is_slow_action(event.action_id), read_only=entry is not None and entry.read_only)

    def submit_form(self, caller: Caller, form_id: str, values: Mapping[str, FormValue], state: str = "", *,
                    where: ConversationRef | None = None, delivery: str | None = None) -> Outcome | None:
        """A submitted form; the handler may answer with FormErrors to keep it open."""
        def body(ctx: Context) -> Outcome:
            entry = self.registry.forms.get(form_id)
            if entry is None:
                raise NotFound("That form is no longer available.", hint=f"Run `{self.slash} help`.")
            self._authorise(ctx, entry.roles, "submit this form")
            return entry.handler(ctx, values, state)

        return self._run(caller, where, delivery, f"form:{form_id}", body, slow=self.is_slow_form(form_id))

    def is_slow_command(self, text_or_name: str, caller: Caller,
                        args: Mapping[str, ArgValue] | None = None) -> bool:
        """Whether a command is slow: answer with a placeholder, then replace it; hold no transaction.

        Args:
            text_or_name: the typed text, or the command's name when ``args`` come structured (Discord).
            caller: who runs it (mentions in the arguments are read in their platform).
            args: structured arguments, if any.
        """
        try:
            spec, rest = find_command(self.registry, tokenize(text_or_name) or ["help"])
            if not callable(spec.slow):
                return spec.slow
            checked = (parse_args(spec, rest, caller, self.slash) if args is None
                       else check_args(spec, args, caller, self.slash))
        except RadError:
            return False  # the command itself will answer with the error, quickly
        return spec.is_slow(checked)

    def is_read_only_command(self, text_or_name: str) -> bool:
        """Whether the command only reads (registered ``read_only``): it runs in a read-only unit of work."""
        try:
            spec, _rest = find_command(self.registry, tokenize(text_or_name) or ["help"])
        except RadError:
            return False
        return spec.read_only

    def is_slow_action(self, action_id: str) -> bool:
        """Whether a button's or select's handler may take long: it holds no transaction; front doors defer it."""
        entry = self.registry.actions.get(action_id)
        return entry is not None and entry.slow

    def is_slow_form(self, form_id: str) -> bool:
        """Whether a form's handler may take long: front doors close it and deliver the outcome later."""
        entry = self.registry.forms.get(form_id)
        return entry is not None and entry.slow

    def suggest(self, caller: Caller, provider: str, query: str, value: str = "", *,
                limit: int = 100) -> list[Option]:
        """Options of ``provider`` matching ``query`` (typeahead); empty when unknown or not allowed."""
        def body(ctx: Context) -> list[Option]:
            entry = self.registry.options.get(provider)
            if entry is None:
                return []
            handler, roles = entry
            if not has_any(ctx.actor, roles):  # typeahead: no audit event per keystroke, just nothing
                return []
            return handler(ctx, query, value)[:limit]

        found = self._run(caller, None, None, f"options:{provider}", body)
        return found if isinstance(found, list) else []

    def thread_message(self, caller: Caller, where: ConversationRef, text: str, *,
                       delivery: str | None = None) -> Outcome | None:
        """A message in a thread; handled only when the thread is bound to a thread handler."""
        def body(ctx: Context) -> Outcome | None:
            binding = find_binding(ctx.session, where)
            if binding is None or binding.handler not in self.registry.threads:
                return None
            return self.registry.threads[binding.handler](ctx, ThreadMessage(text=text, subject=binding.subject))

        return self._run(caller, where, delivery, "thread", body)

    # -- machinery ----------------------------------------------------------------------------------

    def _invoke(self, ctx: Context, name: str, args: Mapping[str, ArgValue]) -> Outcome:
        spec = self.registry.commands[name]
        self._authorise(ctx, spec.roles, f"run `{self.slash} {name}`")
        return spec.handler(ctx, **{param.name: args.get(param.name) for param in spec.params})

    @staticmethod
    def _authorise(ctx: Context, roles: frozenset[str], what: str) -> None:
        """Refuse unless the actor holds one of ``roles``; ``_guarded`` audits the refusal."""
        require_any(ctx.actor, roles, what)

    def _run(self, caller: Caller, where: ConversationRef | None, delivery: str | None, label: str,
             body: Callable[[Context], T], *, slow: bool = False, read_only: bool = False) -> T | Reply | None:
        """One request through the chain: measure → report errors → dedupe → caller → transaction → body.

        The body authorises itself (``_authorise``) against the caller the chain resolved.
        """
        call = _Call(caller, where, delivery, label, slow, read_only)
        return self._measured(call, lambda: self._reported(call, lambda: self._retried(call, body)))

    def _retried(self, call: _Call, body: Callable[[Context], T]) -> T | Reply | None:
        """Admit the request; once more when the database connection was lost meanwhile (a restart, a failover).

        Its units of work were rolled back with the connection, so nothing of it stayed. A slow body is not run
        again: its network calls (GitHub, a scan) may have had their effects.
        """
        if call.slow:
            return self._admitted(call, body)
        return again_if_lost(lambda: self._admitted(call, body), call.label)

    def _measured(self, call: _Call, proceed: Callable[[], T]) -> T:
        """Count the request by kind and outcome, and time it (a slash command by its name too)."""
        kind = call.label.split(":", 1)[0]
        started = time.perf_counter()
        try:
            return proceed()
        finally:
            seconds = time.perf_counter() - started
            REQUESTS.labels(kind, call.outcome).inc()
            LATENCY.labels(kind).observe(seconds)
            command = command_name(call.label, self.registry.commands)
            if command is not None:
                COMMAND_LATENCY.labels(command).observe(seconds)

    def _reported(self, call: _Call, proceed: Callable[[], T]) -> T | Reply:
        """A user error becomes its message; anything else an incident: logged with an id the user sees."""
        try:
            return proceed()
        except RadError as error:
            call.outcome = "refused"
            return self.error_reply(error)
        except Exception:
            call.outcome = "error"
            incident = report(log, "unexpected error", label=call.label)
            return Reply(text=incident.message, ephemeral=True)

    def _admitted(self, call: _Call, body: Callable[[Context], T]) -> T | Reply | None:
        """Drop a seen delivery, resolve the caller, then run ``body`` in its transaction.

        Normally all of it is one unit of work, the body in a savepoint. A ``slow`` body (it calls GitHub,
        scans a repository) must not hold a transaction over its network calls: the delivery and the caller
        are committed first, and the body gets a fresh session that begins only when it first touches the
        database. A ``read_only`` body runs in a read-only unit of work (no write lock on SQLite): alone when
        there is nothing to write first (no delivery key, a known caller), else after a short writer's unit.
        """
        if call.read_only and not call.slow:
            return self._admitted_read(call, body)
        with self.db.unit_of_work() as session:
            if call.delivery is not None and not claim_delivery(session, call.delivery):
                log.info("duplicate delivery dropped", extra={"delivery": call.delivery, "label": call.label})
                call.outcome = "duplicate"
                return None
            actor = resolve_caller(session, call.caller, self.config.admins)
            if not call.slow:
                return self._guarded(self._context(session, actor, call.caller, call.where), body, call.label)
        with self.db.unit_of_work() as session:
            attached = session.merge(actor, load=False)  # no SQL: the transaction begins at first use
            return self._guarded_slow(self._context(session, attached, call.caller, call.where), body, call.label)

    def _admitted_read(self, call: _Call, body: Callable[[Context], T]) -> T | Reply | None:
        """A read-only body: in a read-only unit of work, after a writer's one only when something is written."""
        actor: User | None = None
        with self.db.read() as session:
            actor = known_caller(session, call.caller, self.config.admins) if call.delivery is None else None
            if actor is not None:
                return self._guarded_read(self._context(session, actor, call.caller, call.where), body, call.label)
        with self.db.unit_of_work() as session:
            if call.delivery is not None and not claim_delivery(session, call.delivery):
                log.info("duplicate delivery dropped", extra={"delivery": call.delivery, "label": call.label})
                call.outcome = "duplicate"
                return None
            actor = resolve_caller(session, call.caller, self.config.admins)
        with self.db.read() as session:
            attached = session.merge(actor, load=False)
            return self._guarded_read(self._context(session, attached, call.caller, call.where), body, call.label)

    def _guarded_read(self, ctx: Context, body: Callable[[Context], T], label: str) -> T | Reply:
        """As ``_guarded`` for a read-only body; the audit of a refusal is written in a unit of its own."""
        try:
            return body(ctx)
        except NotAllowed as refusal:
            with self.db.unit_of_work() as session:
                actor = session.merge(ctx.actor, load=False)
                audit.record(session, actor, "access.denied", target=label, platform=ctx.platform,
                             outcome="denied", reason=refusal.message)
            return error_reply(refusal, ctx.slash)
        except RadError as error:
            return error_reply(error, ctx.slash)

    def error_reply(self, error: RadError) -> Reply:
        """A user error's message and hint, naming the configured command (core writes ``/rad``)."""
        return error_reply(error, self.slash)

    def _context(self, session: Session, actor: User, caller: Caller, where: ConversationRef | None) -> Context:
        return Context(session=session, actor=actor, caller=caller, where=where, config=self.config,
                       registry=self.registry, now=self.clock(), services=self.services, db=self.db)

    @staticmethod
    def _guarded(ctx: Context, body: Callable[[Context], T], label: str) -> T | Reply:
        """Run the handler in a savepoint: a user error undoes the handler's changes only.

        The caller's registration, the delivery key and the audit of a refusal are kept.
        """
        try:
            with ctx.session.begin_nested():
                return body(ctx)
        except NotAllowed as refusal:
            ctx.audit("access.denied", target=label, outcome="denied", reason=refusal.message)
            return error_reply(refusal, ctx.slash)
        except RadError as error:
            return error_reply(error, ctx.slash)

    @staticmethod
    def _guarded_slow(ctx: Context, body: Callable[[Context], T], label: str) -> T | Reply:
        """As ``_guarded``, without a savepoint (it would begin the transaction before the network calls)."""
        try:
            return body(ctx)
        except NotAllowed as refusal:
            ctx.session.rollback()
            ctx.audit("access.denied", target=label, outcome="denied", reason=refusal.message)
            return error_reply(refusal, ctx.slash)
        except RadError as error:
            ctx.session.rollback()
            return error_reply(error, ctx.slash)


def claim_delivery(session: Session, key: str) -> bool:
    """Record a delivery key; False if it was handled before (the retry is dropped).

    One statement, ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL and SQLite alike): no savepoint
    round trips, and a key another transaction is inserting waits for it to commit or roll back.
    """
    claimed = session.execute(dialect_insert(session)(Delivery).values(key=key[:200], at=utcnow())
                              .on_conflict_do_nothing(index_elements=[Delivery.key]).returning(Delivery.key))
    return claimed.first() is not None
