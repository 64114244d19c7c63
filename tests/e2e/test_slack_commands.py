"""End to end: signed ``/rad`` requests through the HTTP server into the real Bolt app and back out."""

from __future__ import annotations

import time

from sqlalchemy import select

from core.accounts import identity
from core.accounts.identity import IdentityKey
from storage.db import Database
from storage.models import AuditEvent
from tests.support.slack_support import TEAM, Harness, emulator, harness, slack_runtime, texts

__all__ = ["emulator", "harness", "slack_runtime"]


def test_help_is_acked_at_once_and_answered_privately(harness: Harness) -> None:
    answer = harness.command("help")
    assert (answer.status, answer.body) == (200, "")
    reply = harness.reply(answer)
    assert reply["response_type"] == "ephemeral"
    assert "RAD commands you can use" in texts(reply)
    assert "&lt;@user&gt;" in reply["blocks"][0]["text"]["text"]  # usage text is escaped, not a mention


def test_empty_command_shows_help(harness: Harness) -> None:
    reply = harness.reply(harness.command(""))
    assert "RAD commands you can use" in texts(reply)


def test_whoami_shows_a_card(harness: Harness) -> None:
    reply = harness.reply(harness.command("whoami", user="U7", name="grace"))
    header = reply["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].startswith("grace (user ")
    assert "Slack: <@U7>" in texts(reply)


def test_unknown_command_suggests_the_closest(harness: Harness) -> None:
    reply = harness.reply(harness.command("admn users"))
    assert "There is no command `admn users`" in texts(reply)
    assert "Did you mean `/rad admin users`" in texts(reply)


def test_admin_grants_and_revokes_a_role(harness: Harness, db: Database) -> None:
    granted = harness.reply(harness.command("admin grant <@U2|bob> partner"))
    assert "<@U2> is now a partner" in texts(granted)
    revoked = harness.reply(harness.command("admin revoke <@U2|bob> partner"))
    assert "<@U2> is no longer a partner" in texts(revoked)
    with db.unit_of_work() as session:
        user = identity.find_user(session, IdentityKey("slack", TEAM, "U2"))
        assert user is not None and user.role_names == {"user"}


def test_malformed_arguments_are_explained(harness: Harness) -> None:
    reply = harness.reply(harness.command("admin grant bob partner"))
    assert "`bob` is not a mention of a user" in texts(reply)
    assert reply["response_type"] == "ephemeral"


def test_mention_of_an_unknown_user(harness: Harness) -> None:
    reply = harness.reply(harness.command("admin revoke <@UNOBODY> partner"))
    assert "I don't know <@UNOBODY> yet" in texts(reply)


def test_non_admin_is_refused_and_audited(harness: Harness, db: Database) -> None:
    reply = harness.reply(harness.command("admin users", user="U3", name="eve"))
    assert ":warning:" in texts(reply) and "admin" in texts(reply)
    harness.settle()
    with db.unit_of_work() as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert len(denied) == 1 and denied[0].outcome == "denied"


def test_admin_users_pages_with_buttons(harness: Harness, db: Database) -> None:
    with db.unit_of_work() as session:
        for n in range(24):
            identity.create_user(session, IdentityKey("slack", TEAM, f"UX{n:02d}"), f"member {n:02d}")
    first = harness.reply(harness.command("admin users"))
    assert "page 1 of 3" in texts(first)
    (next_button,) = first["blocks"][-1]["elements"]
    assert (next_button["action_id"], next_button["value"]) == ("admin:users:page#0", "2")

    second = harness.reply(harness.click(next_button["action_id"], next_button["value"]))
    assert second["replace_original"] is True
    assert "page 2 of 3" in texts(second)
    previous, following = second["blocks"][-1]["elements"]
    assert (previous["action_id"], previous["value"]) == ("admin:users:page#0", "1")
    assert (following["action_id"], following["value"]) == ("admin:users:page#1", "3")

    third = harness.reply(harness.click(following["action_id"], following["value"]))
    assert "page 3 of 3" in texts(third)


def test_button_with_an_unknown_action_id(harness: Harness) -> None:
    answer = harness.click("gone:away#0", "7")
    assert (answer.status, answer.body) == (200, "")
    reply = harness.reply(answer)
    assert "That button no longer does anything" in texts(reply)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False


def test_unsigned_and_stale_requests_are_refused(harness: Harness) -> None:
    body = "command=%2Frad&text=help&team_id=T1&user_id=UADMIN"
    assert harness.post(body, "application/x-www-form-urlencoded", signed=False).status == 401
    stale = int(time.time()) - 6 * 60
    assert harness.post(body, "application/x-www-form-urlencoded", timestamp=stale).status == 401
    harness.settle()
    assert harness.emulator.calls("/webhook/") == []
    assert not [c for c in harness.emulator.calls() if c.path.startswith("/webhook/")]


def test_double_click_runs_the_action_once(harness: Harness, db: Database) -> None:
    with db.unit_of_work() as session:
        for n in range(12):
            identity.create_user(session, IdentityKey("slack", TEAM, f"UY{n:02d}"), f"member {n:02d}")
    same = {"action_ts": "1700000009.123456"}
    first = harness.click("admin:users:page#1", "2", extra=same)
    second = harness.click("admin:users:page#1", "2", extra=same)
    assert "page 2 of 2" in texts(harness.reply(first))
    harness.settle()
    assert harness.emulator.calls(second.hook) == []
