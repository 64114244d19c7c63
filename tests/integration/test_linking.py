"""Linking a Slack and a Discord identity to one user with a one-time code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack.elements import decode_action_id
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Reply
from core.accounts import linking
from core.accounts.identity import Caller, IdentityKey, create_user, find_user
from core.accounts.roles import grant_role
from core.errors import InvalidInput, NotFound
from storage.db import Database
from storage.models import AuditEvent, ChatIdentity, LinkCode, User, utcnow
from tests.support.slack_support import ADMIN, Harness, emulator, harness, slack_runtime, texts

__all__ = ["emulator", "harness", "slack_runtime"]

SLACK = Caller(IdentityKey("slack", "T1", "UBOB"), "Bob")
DISCORD = Caller(IdentityKey("discord", "", "4242"), "bob#1")


def code_from(outcome: object) -> str:
    assert isinstance(outcome, Reply)
    return outcome.text.split("`")[1]


def reply_text(outcome: object) -> str:
    assert isinstance(outcome, Reply), outcome
    return outcome.text


def token_of(outcome: object, action_id: str = "link:confirm") -> str:
    """The value of the reply's ``action_id`` button (the held link request's token)."""
    assert isinstance(outcome, Reply), outcome
    (button,) = [a for a in outcome.actions if isinstance(a, Button) and a.action_id == action_id]
    return button.value


def test_link_joins_two_identities_and_their_roles(dispatcher: Dispatcher, db: Database) -> None:
    dispatcher.run_text(Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada"), "admin grant <@UBOB> partner")
    dispatcher.run_command(DISCORD, "whoami", {})  # registered separately on Discord first
    code = code_from(dispatcher.run_text(SLACK, "link"))
    asked = dispatcher.run_command(DISCORD, "link", {"code": code.lower()})
    assert "will act with the role *partner*" in reply_text(asked)
    assert "Linked" in reply_text(dispatcher.run_action(DISCORD, ActionEvent("link:confirm", token_of(asked))))
    with db.unit_of_work() as s:
        owners = {i.platform: i.user_id for i in s.scalars(select(ChatIdentity))
                  if i.external_id in ("UBOB", "4242")}
        assert owners["slack"] == owners["discord"]
        user = s.get_one(User, owners["slack"])
        assert user.role_names == {"user", "partner"}
    whoami = dispatcher.run_command(DISCORD, "whoami", {})
    assert isinstance(whoami, Reply) and "partner" in whoami.cards[0].fields[0].value


def test_codes_are_one_time_platform_bound_and_expire(dispatcher: Dispatcher, db: Database) -> None:
    code = code_from(dispatcher.run_text(SLACK, "link"))
    assert "other* platform" in reply_text(dispatcher.run_text(SLACK, f"link {code}"))
    assert "Linked" in reply_text(dispatcher.run_command(DISCORD, "link", {"code": code}))
    again = Caller(IdentityKey("discord", "", "777"), "other")
    assert "already used" in reply_text(dispatcher.run_command(again, "link", {"code": code}))
    assert "not a link code" in reply_text(dispatcher.run_command(again, "link", {"code": "nope"}))
    expired = code_from(dispatcher.run_text(Caller(IdentityKey("slack", "T1", "UEVE"), "Eve"), "link"))
    with db.unit_of_work() as s:
        for row in s.scalars(select(LinkCode).where(LinkCode.used_at.is_(None))):
            row.expires_at = utcnow() - timedelta(minutes=1)
    assert "expired" in reply_text(dispatcher.run_command(again, "link", {"code": expired}))


def test_the_code_is_never_stored_in_clear(dispatcher: Dispatcher, db: Database) -> None:
    code = code_from(dispatcher.run_text(SLACK, "link")).replace("-", "")
    with db.unit_of_work() as s:
        stored = [row.code_hash for row in s.scalars(select(LinkCode))]
    assert stored and all(code not in h for h in stored)


# -- linking that moves roles asks first (core) ---------------------------------------------------------

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ADA_SLACK = IdentityKey("slack", "T1", "UADA")
ADA_DISCORD = IdentityKey("discord", "", "9001")


def two_accounts(db: Database, *, slack_roles: tuple[str, ...] = (), discord_roles: tuple[str, ...] = ()
                 ) -> tuple[int, int, str]:
    """A Slack account and a Discord account of one person, with extra roles; the Slack side issues a code."""
    with db.unit_of_work() as s:
        on_slack, on_discord = create_user(s, ADA_SLACK, "Ada"), create_user(s, ADA_DISCORD, "ada#1")
        for role in slack_roles:
            grant_role(s, on_slack, role)
        for role in discord_roles:
            grant_role(s, on_discord, role)
        code = linking.issue_code(s, on_slack, "slack", NOW)
        return on_slack.id, on_discord.id, code


def owner_of(db: Database, key: IdentityKey) -> User:
    with db.unit_of_work() as s:
        user = find_user(s, key)
        assert user is not None
        s.expunge(user)
        return user


def test_the_plan_names_who_survives_who_disappears_and_what_moves(db: Database) -> None:
    slack_id, discord_id, code = two_accounts(db, discord_roles=("admin",))
    with db.unit_of_work() as s:
        caller = s.get_one(User, discord_id)
        plan = linking.plan_link(s, caller, ADA_DISCORD, code, NOW)
        assert (plan.survivor.id, plan.merged.id) == (slack_id, discord_id)
        assert plan.survivor_gains == {"admin"} and plan.redeemer_gains == frozenset()
        assert plan.moves_roles and plan.roles_after == {"user", "admin"}
    assert owner_of(db, ADA_DISCORD).id == discord_id  # planning changed nothing
    with db.unit_of_work() as s:
        assert s.scalars(select(LinkCode)).one().used_at is None


def test_a_held_link_is_carried_out_once_by_the_identity_that_asked(db: Database) -> None:
    slack_id, discord_id, code = two_accounts(db, slack_roles=("admin",))
    with db.unit_of_work() as s:
        plan = linking.plan_link(s, s.get_one(User, discord_id), ADA_DISCORD, code, NOW)
        assert plan.redeemer_gains == {"admin"}
        token = linking.hold_link(s, plan, ADA_DISCORD)
    with db.unit_of_work() as s, pytest.raises(NotFound):  # someone else pressing the button
        linking.confirm_link(s, s.get_one(User, slack_id), ADA_SLACK, token, NOW)
    with db.unit_of_work() as s:
        done = linking.confirm_link(s, s.get_one(User, discord_id), ADA_DISCORD, token, NOW)
        assert isinstance(done, linking.Linked) and (done.user.id, done.merged_id) == (slack_id, discord_id)
    assert owner_of(db, ADA_DISCORD).id == slack_id
    with db.unit_of_work() as s:
        again = linking.confirm_link(s, s.get_one(User, slack_id), ADA_DISCORD, token, NOW)
        assert isinstance(again, linking.Linked) and (again.user.id, again.merged_id) == (slack_id, None)
        merged = s.get_one(User, discord_id)
        assert (merged.active, merged.merged_into_id) == (False, slack_id)
        assert len(s.scalars(select(AuditEvent).where(AuditEvent.action == "link.redeem")).all()) == 1


def test_a_confirm_after_the_code_expired_merges_nothing(db: Database) -> None:
    _, discord_id, code = two_accounts(db, slack_roles=("finance",))
    with db.unit_of_work() as s:
        token = linking.hold_link(s, linking.plan_link(s, s.get_one(User, discord_id), ADA_DISCORD, code, NOW),
                                  ADA_DISCORD)
    with db.unit_of_work() as s, pytest.raises(InvalidInput, match="expired"):
        linking.confirm_link(s, s.get_one(User, discord_id), ADA_DISCORD, token, NOW + linking.CODE_TTL)
    assert owner_of(db, ADA_DISCORD).id == discord_id


def test_roles_that_changed_since_the_question_are_asked_again(db: Database) -> None:
    slack_id, discord_id, code = two_accounts(db, slack_roles=("partner",))
    with db.unit_of_work() as s:
        token = linking.hold_link(s, linking.plan_link(s, s.get_one(User, discord_id), ADA_DISCORD, code, NOW),
                                  ADA_DISCORD)
    with db.unit_of_work() as s:
        grant_role(s, s.get_one(User, slack_id), "admin")  # granted while the question was open
    with db.unit_of_work() as s:
        changed = linking.confirm_link(s, s.get_one(User, discord_id), ADA_DISCORD, token, NOW)
        assert isinstance(changed, linking.LinkPlan) and changed.redeemer_gains == {"partner", "admin"}
    assert owner_of(db, ADA_DISCORD).id == discord_id
    with db.unit_of_work() as s:
        done = linking.confirm_link(s, s.get_one(User, discord_id), ADA_DISCORD, token, NOW)
        assert isinstance(done, linking.Linked) and done.user.id == slack_id


def test_cancel_forgets_the_question_and_the_code_still_works(dispatcher: Dispatcher, db: Database) -> None:
    _, _, code = two_accounts(db, slack_roles=("partner",))
    ada = Caller(ADA_DISCORD, "ada#1")
    asked = dispatcher.run_command(ada, "link", {"code": code})
    cancelled = dispatcher.run_action(ada, ActionEvent("link:cancel", token_of(asked, "link:cancel")))
    assert "Nothing was linked" in reply_text(cancelled)
    assert "no longer open" in reply_text(dispatcher.run_action(ada, ActionEvent("link:confirm", token_of(asked))))
    again = dispatcher.run_command(ada, "link", {"code": code})
    assert "Linked" in reply_text(dispatcher.run_action(ada, ActionEvent("link:confirm", token_of(again))))


def test_a_forged_or_foreign_token_does_nothing(dispatcher: Dispatcher, db: Database) -> None:
    _, discord_id, code = two_accounts(db, slack_roles=("admin",))
    asked = dispatcher.run_command(Caller(ADA_DISCORD, "ada#1"), "link", {"code": code})
    stranger = Caller(IdentityKey("discord", "", "666"), "mallory")
    for token in (token_of(asked), "0" * 32, ""):
        answer = dispatcher.run_action(stranger, ActionEvent("link:confirm", token))
        assert "no longer open" in reply_text(answer)
    assert owner_of(db, ADA_DISCORD).id == discord_id


def test_a_merge_that_moves_no_roles_is_one_step_and_says_which_account_went(dispatcher: Dispatcher,
                                                                             db: Database) -> None:
    slack_id, discord_id, code = two_accounts(db)
    answer = reply_text(dispatcher.run_command(Caller(ADA_DISCORD, "ada#1"), "link", {"code": code}))
    assert f"Your former RAD user {discord_id} was merged into it" in answer
    assert f"RAD user {slack_id} has these accounts" in answer
    assert owner_of(db, ADA_DISCORD).id == slack_id


# -- through the Slack front door -------------------------------------------------------------------------

def slack_buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {decode_action_id(e["action_id"])[0]: e for block in message.get("blocks", [])
            if block["type"] == "actions" for e in block["elements"] if e["type"] == "button"}


def test_an_admin_linking_on_slack_is_asked_and_merges_on_confirm(harness: Harness, db: Database) -> None:
    discord_side = Caller(IdentityKey("discord", "", "5150"), "ada#1")
    code = code_from(harness.runtime.dispatcher.run_command(discord_side, "link", {}))
    asked = harness.reply(harness.command(f"link {code}"))  # the bootstrap admin redeems it on Slack
    shown = texts(asked)
    assert "*disappears*" in shown and "*gains* the role *admin*" in shown
    buttons = slack_buttons(asked)
    assert set(buttons) == {"link:confirm", "link:cancel"}
    with db.unit_of_work() as s:
        survivor = find_user(s, discord_side.key)
        admin = find_user(s, IdentityKey("slack", "T1", ADMIN))
        assert survivor is not None and admin is not None and survivor.id != admin.id  # not merged yet
        survivor_id = survivor.id
    confirmed = harness.click(buttons["link:confirm"]["action_id"], buttons["link:confirm"]["value"])
    assert "Linked" in texts(harness.reply(confirmed))
    with db.unit_of_work() as s:
        linked = find_user(s, IdentityKey("slack", "T1", ADMIN))
        assert linked is not None and linked.id == survivor_id and "admin" in linked.role_names
    repeated = harness.click(buttons["link:confirm"]["action_id"], buttons["link:confirm"]["value"])
    assert "Already linked" in texts(harness.reply(repeated))
    harness.settle()
    with db.unit_of_work() as s:
        assert len(s.scalars(select(AuditEvent).where(AuditEvent.action == "link.redeem")).all()) == 1
