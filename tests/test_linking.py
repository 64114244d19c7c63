"""Linking a Slack and a Discord identity to one user with a one-time code."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from commands.dispatch import Dispatcher
from commands.ui import Reply
from core.identity import Caller, IdentityKey
from storage.db import Database
from storage.models import ChatIdentity, LinkCode, User, utcnow

SLACK = Caller(IdentityKey("slack", "T1", "UBOB"), "Bob")
DISCORD = Caller(IdentityKey("discord", "", "4242"), "bob#1")


def code_from(outcome: object) -> str:
    assert isinstance(outcome, Reply)
    return outcome.text.split("`")[1]


def reply_text(outcome: object) -> str:
    assert isinstance(outcome, Reply)
    return outcome.text


def test_link_joins_two_identities_and_their_roles(dispatcher: Dispatcher, db: Database) -> None:
    dispatcher.run_text(Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada"), "admin grant <@UBOB> partner")
    dispatcher.run_command(DISCORD, "whoami", {})  # registered separately on Discord first
    code = code_from(dispatcher.run_text(SLACK, "link"))
    assert "Linked" in reply_text(dispatcher.run_command(DISCORD, "link", {"code": code.lower()}))
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
