"""The dispatcher on a real database: registration, authorisation, audit, errors, deliveries."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from sqlalchemy import select

from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent, Param
from commands.ui.model import Reply
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.conversations import ConversationRef, bind_thread
from storage.db import Database
from storage.models import AuditEvent, ChatIdentity, User

ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
BOB = Caller(IdentityKey("slack", "T1", "UBOB"), "Bob")


def text(outcome: object) -> str:
    assert isinstance(outcome, Reply), outcome
    return outcome.text


def audits(db: Database, action: str) -> list[AuditEvent]:
    with db.unit_of_work() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_first_contact_registers_a_user_with_the_user_role(dispatcher: Dispatcher, db: Database) -> None:
    dispatcher.run_text(BOB, "whoami")
    with db.unit_of_work() as s:
        identity = s.scalars(select(ChatIdentity).where(ChatIdentity.external_id == "UBOB")).one()
        assert identity.user.role_names == {"user"}
        assert identity.user.display_name == "Bob"
    assert [e.detail["identity"] for e in audits(db, "user.register")] == ["slack:T1:UBOB"]


def test_bootstrap_admin_gets_the_admin_role_once(dispatcher: Dispatcher, db: Database) -> None:
    dispatcher.run_text(ADMIN, "whoami")
    dispatcher.run_text(ADMIN, "whoami")
    grants = audits(db, "role.grant")
    assert len(grants) == 1 and grants[0].detail == {"role": "admin", "reason": "RAD_ADMINS"}


def test_admin_grants_and_revokes_roles(dispatcher: Dispatcher, db: Database) -> None:
    dispatcher.run_text(BOB, "whoami")
    assert "is now a partner" in text(dispatcher.run_text(ADMIN, "admin grant <@UBOB|bob> partner"))
    assert "already has the partner role" in text(dispatcher.run_text(ADMIN, "admin grant <@UBOB> partner"))
    assert "no longer a partner" in text(dispatcher.run_text(ADMIN, "admin revoke <@UBOB> partner"))
    with db.unit_of_work() as s:
        bob = s.scalars(select(User).where(User.display_name == "Bob")).one()
        assert bob.role_names == {"user"}
    assert [e.detail["role"] for e in audits(db, "role.revoke")] == ["partner"]


def test_grant_registers_a_user_never_seen(dispatcher: Dispatcher, db: Database) -> None:
    assert "is now a finance" in text(dispatcher.run_text(ADMIN, "admin grant <@UNEW> finance"))
    with db.unit_of_work() as s:
        identity = s.scalars(select(ChatIdentity).where(ChatIdentity.external_id == "UNEW")).one()
        assert identity.workspace == "T1" and identity.user.role_names == {"user", "finance"}


def test_non_admin_is_refused_and_the_refusal_is_audited(dispatcher: Dispatcher, db: Database) -> None:
    reply = text(dispatcher.run_text(BOB, "admin grant <@UBOB> admin"))
    assert "Only admins can run `/rad admin grant`" in reply
    denied = audits(db, "access.denied")
    assert len(denied) == 1 and denied[0].outcome == "denied" and "admin grant" in denied[0].target
    with db.unit_of_work() as s:  # the registration survived the refusal, the grant did not happen
        bob = s.scalars(select(User).where(User.display_name == "Bob")).one()
        assert bob.role_names == {"user"}


def test_last_admin_cannot_be_revoked(dispatcher: Dispatcher) -> None:
    assert "last admin" in text(dispatcher.run_text(ADMIN, "admin revoke <@UADMIN> admin"))


@pytest.mark.parametrize(("line", "expected"), [
    ("admin grnt <@UBOB> partner", "Did you mean `/rad admin grant`"),
    ("whoamii", "Did you mean `/rad whoami`"),
    ("admin grant bob partner", "`bob` is not a mention"),
    ("admin grant <@UBOB> partnr", "Did you mean `partner`?"),
    ("admin grant <@UBOB>", "`role` is missing"),
    ("admin grant <@UBOB> partner extra", "I did not expect `extra`"),
    ("admin users two", "must be a whole number"),
    ("admin users 9", "There is no page 9"),
    ("admin revoke <@UNOBODY> partner", "I don't know <@UNOBODY> yet"),
    ('help "unbalanced', "Check your quotes"),
])
def test_bad_input_gets_a_clear_answer(dispatcher: Dispatcher, line: str, expected: str) -> None:
    assert expected in text(dispatcher.run_text(ADMIN, line))


def test_help_lists_only_what_the_caller_may_use(dispatcher: Dispatcher) -> None:
    user_help, admin_help = text(dispatcher.run_text(BOB, "")), text(dispatcher.run_text(ADMIN, "help"))
    assert "/rad whoami" in user_help and "admin grant" not in user_help
    assert "/rad admin grant <@user> user|partner|finance|admin" in admin_help
    detail = text(dispatcher.run_text(ADMIN, "help admin grant"))
    assert "Usage: `/rad admin grant <@user> user|partner|finance|admin`" in detail


def test_unknown_command_suggests_only_allowed_commands(dispatcher: Dispatcher) -> None:
    reply = text(dispatcher.run_text(BOB, "admin usrs"))
    assert "There is no command `admin usrs`" in reply and "admin users" not in reply


def test_users_are_paged_with_buttons(dispatcher: Dispatcher) -> None:
    for n in range(12):
        dispatcher.run_text(Caller(IdentityKey("slack", "T1", f"U{n:02}"), f"user{n:02}"), "whoami")
    first = dispatcher.run_text(ADMIN, "admin users")
    assert isinstance(first, Reply) and "page 1 of 2, 13 in all" in first.text
    assert [(b.label, b.value) for b in first.actions] == [("Next ▶", "2")]
    second = dispatcher.run_action(ADMIN, ActionEvent("admin:users:page", "2"))
    assert isinstance(second, Reply) and second.replace_original and "page 2 of 2" in second.text
    assert [line.split("*")[1] for line in second.text.splitlines()[1:]] == ["user10", "user11", "Ada"]
    assert [(b.label, b.value) for b in second.actions] == [("◀ Previous", "1")]


def test_a_button_is_reauthorised_on_every_click(dispatcher: Dispatcher, db: Database) -> None:
    dispatcher.run_text(BOB, "whoami")
    reply = text(dispatcher.run_action(BOB, ActionEvent("admin:users:page", "1")))
    assert "Only admins" in reply and audits(db, "access.denied")


def test_unknown_action_id_is_answered(dispatcher: Dispatcher) -> None:
    assert "no longer does anything" in text(dispatcher.run_action(ADMIN, ActionEvent("gone:button", "1")))


def test_a_delivery_runs_once(dispatcher: Dispatcher, db: Database) -> None:
    assert dispatcher.run_text(ADMIN, "admin grant <@UBOB> partner", delivery="slack:evt:1") is not None
    assert dispatcher.run_text(ADMIN, "admin grant <@UBOB> partner", delivery="slack:evt:1") is None
    assert len([e for e in audits(db, "role.grant") if e.detail.get("role") == "partner"]) == 1


def test_unexpected_errors_show_an_id_that_is_logged(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    registry = dispatcher.registry.copy()

    @registry.command("explode", "Always fails")
    def explode(ctx: object) -> Reply:
        raise RuntimeError("kaboom")

    broken = Dispatcher(registry, dispatcher.db, dispatcher.config)
    with caplog.at_level(logging.ERROR):
        reply = text(broken.run_text(BOB, "explode"))
    error_id = reply.split("error id `")[1].split("`")[0]
    assert "kaboom" not in reply and "Traceback" not in reply
    assert any(getattr(r, "error_id", None) == error_id for r in caplog.records)


def test_thread_messages_reach_the_bound_handler(dispatcher: Dispatcher, db: Database) -> None:
    registry = dispatcher.registry.copy()
    heard: list[tuple[str, str]] = []

    @registry.thread("echo")
    def echo(ctx: object, message: object) -> Reply:
        heard.append((message.text, message.subject))  # type: ignore[attr-defined]
        return Reply(text="heard", in_thread=True)

    threaded = Dispatcher(registry, db, dispatcher.config)
    where = ConversationRef("slack", "T1", "C1", thread="1700.1")
    assert threaded.thread_message(BOB, where, "hi") is None  # not bound yet
    with db.unit_of_work() as s:
        bind_thread(s, where, "echo", "module:alpha")
    assert text(threaded.thread_message(BOB, where, "hello", delivery="e1")) == "heard"
    assert threaded.thread_message(BOB, where, "hello", delivery="e1") is None
    assert heard == [("hello", "module:alpha")]


def test_structured_arguments_are_checked_like_typed_ones(dispatcher: Dispatcher) -> None:
    bad = dispatcher.run_command(ADMIN, "admin grant", {"user": IdentityKey("discord", "", "9"), "role": "boss"})
    assert "`boss` is not a valid role" in text(bad)
    good = dispatcher.run_command(ADMIN, "admin grant", {"user": IdentityKey("discord", "", "9"), "role": "partner"})
    assert "*9* is now a partner" in text(good)  # no name came with the key: the id is all there is
    assert "`role` is missing" in text(dispatcher.run_command(ADMIN, "admin grant", {"user": "<@9>"}))
    assert Param("x").kind == "word"


def test_hints_name_the_configured_command(db: Database, config: Config) -> None:
    ops = Dispatcher(load_registry(), db, dataclasses.replace(config, command="ops"))
    reply = ops.run_text(BOB, "deployment zzzz")
    assert isinstance(reply, Reply) and "`/ops deployments`" in reply.text and "/rad" not in reply.text
    unknown = ops.run_text(BOB, "deploymints")
    assert isinstance(unknown, Reply) and "/rad" not in unknown.text


def test_an_unexpected_error_is_one_logged_incident_whose_id_the_user_sees(
    db: Database, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    registry = load_registry()

    @registry.command("explode", "Fails on purpose")
    def explode(ctx: object) -> Reply:
        raise RuntimeError("a bug, with a secret-ish detail")

    try:
        with caplog.at_level(logging.ERROR):
            reply = Dispatcher(registry, db, config).run_text(BOB, "explode")
    finally:
        del registry.commands["explode"]
    assert isinstance(reply, Reply) and "error id `" in reply.text and "secret-ish" not in reply.text
    error_id = reply.text.split("error id `", 1)[1].split("`", 1)[0]
    logged = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    assert len(logged) == 1 and logged[0].exc_info is not None
