"""End to end, through every front door: slash commands, buttons and paging.

One scenario runs against Slack (signed requests into the real Bolt app) and Discord (INTERACTION_CREATE
payloads into the real discord.py client); the checks only one platform has follow at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from core.accounts import identity
from core.accounts.identity import IdentityKey
from core.config import Config
from storage.db import Database
from storage.models import AuditEvent
from tests.emulators import discord_objects as obj
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.discord_spec import validate_schema
from tests.support.front_door import FrontDoor, Person, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime, texts

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

EPHEMERAL = 64
BOB, EVE, NOBODY = Person("bob"), Person("eve"), Person("nobody")
STALE_BUTTON = {"slack": "gone:away#0", "discord": "rad|gone:away|7"}
PAGE_BUTTON = {"slack": "admin:users:page#{n}", "discord": "rad|admin:users:page|{page}"}


async def test_help_answers_privately(door: FrontDoor) -> None:
    reply = await door.command("help")
    assert reply.private and "RAD commands you can use" in reply.text and "/rad admin grant" in reply.text


async def test_whoami_shows_a_card(door: FrontDoor) -> None:
    grace = Person("grace")
    reply = await door.command("whoami", user=grace)
    assert door.mention(grace) in reply.text and "user" in reply.text


async def test_admin_grants_and_revokes_a_role(door: FrontDoor, db: Database) -> None:
    granted = await door.command("admin grant", {"user": BOB, "role": "partner"})
    assert "bob is now a partner: they had not used RAD yet, so they are registered now" in granted.text
    with db.unit_of_work() as session:
        user = identity.find_user(session, door.identity(BOB))
        assert user is not None and user.role_names == {"user", "partner"}
    revoked = await door.command("admin revoke", {"user": BOB, "role": "partner"})
    assert "bob is no longer a partner" in revoked.text
    with db.unit_of_work() as session:
        user = identity.find_user(session, door.identity(BOB))
        assert user is not None and user.role_names == {"user"}
    again = await door.command("admin grant", {"user": BOB, "role": "partner"})
    assert "bob is now a partner. Roles" in again.text and "registered" not in again.text


async def test_revoking_from_an_unknown_user_says_so(door: FrontDoor) -> None:
    reply = await door.command("admin revoke", {"user": NOBODY, "role": "partner"})
    assert "I don't know nobody yet" in reply.text and door.mention(NOBODY) not in reply.text and reply.private


async def test_a_role_outside_the_choices_is_refused(door: FrontDoor, db: Database) -> None:
    reply = await door.command("admin grant", {"user": BOB, "role": "superuser"})
    assert reply.private and "superuser" in reply.text and "is now a" not in reply.text


async def test_a_non_admin_is_refused_and_audited(door: FrontDoor, db: Database) -> None:
    reply = await door.command("admin users", user=EVE)
    assert reply.private and "admin" in reply.text.lower() and "page 1" not in reply.text
    door.settle()
    with db.unit_of_work() as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert [(e.platform, e.outcome) for e in denied] == [(door.platform, "denied")]


async def test_a_page_out_of_range_is_a_clear_error(door: FrontDoor) -> None:
    for page in (-1, 99):
        reply = await door.command("admin users", {"page": page})
        assert f"There is no page {page}." in reply.text and reply.private


async def test_paging_with_buttons_keeps_working_after_a_restart(door: FrontDoor) -> None:
    for n in range(12):
        await door.command("admin grant", {"user": Person(f"member{n:02d}"), "role": "partner"})
    first = await door.command("admin users")
    assert "page 1 of 2" in first.text and [b.label for b in first.buttons] == ["Next ▶"]
    assert first.button("Next").id == PAGE_BUTTON[door.platform].format(n=0, page=2)

    await door.restart()
    second = await door.click(first, "Next")
    assert second.replaced and "page 2 of 2" in second.text
    assert second.button("Previous").id == PAGE_BUTTON[door.platform].format(n=0, page=1)
    back = await door.click(second, "Previous")
    assert back.replaced and "page 1 of 2" in back.text


async def test_a_button_with_an_unknown_action_gets_a_clear_message(door: FrontDoor) -> None:
    reply = await door.click_stale(STALE_BUTTON[door.platform])
    assert "That button no longer does anything" in reply.text and reply.private and not reply.replaced


# -- Slack only --------------------------------------------------------------------------------------------

def test_slack_usage_text_is_escaped_not_a_mention(harness: sh.Harness) -> None:
    reply = harness.reply(harness.command("help"))
    assert reply["response_type"] == "ephemeral"
    assert "&lt;@user&gt;" in reply["blocks"][0]["text"]["text"]


def test_slack_empty_command_shows_help(harness: sh.Harness) -> None:
    assert "RAD commands you can use" in texts(harness.reply(harness.command("")))


def test_slack_whoami_card_has_a_header(harness: sh.Harness) -> None:
    reply = harness.reply(harness.command("whoami", user="U7", name="grace"))
    header = reply["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].startswith("grace (user ")
    assert "Slack: <@U7>" in texts(reply)


def test_slack_unknown_command_suggests_the_closest(harness: sh.Harness) -> None:
    reply = harness.reply(harness.command("admn users"))
    assert "There is no command `admn users`" in texts(reply)
    assert "Did you mean `/rad admin users`" in texts(reply)


def test_slack_malformed_arguments_are_explained(harness: sh.Harness) -> None:
    reply = harness.reply(harness.command("admin grant bob partner"))
    assert "`bob` is not a mention of a user" in texts(reply)
    assert reply["response_type"] == "ephemeral"


def test_slack_unsigned_and_stale_requests_are_refused(harness: sh.Harness) -> None:
    body = "command=%2Frad&text=help&team_id=T1&user_id=UADMIN"
    assert harness.post(body, "application/x-www-form-urlencoded", signed=False).status == 401
    stale = int(time.time()) - 6 * 60
    assert harness.post(body, "application/x-www-form-urlencoded", timestamp=stale).status == 401
    harness.settle()
    assert not [c for c in harness.emulator.calls() if c.path.startswith("/webhook/")]


def test_slack_double_click_runs_the_action_once(harness: sh.Harness, db: Database) -> None:
    with db.unit_of_work() as session:
        for n in range(12):
            identity.create_user(session, IdentityKey("slack", sh.TEAM, f"UY{n:02d}"), f"member {n:02d}")
    same = {"action_ts": "1700000009.123456"}
    clicks = [harness.click("admin:users:page#1", "2", extra=same) for _ in range(2)]
    harness.settle()  # both are queued at once: whichever is run first is answered, the other dropped
    answered = [harness.emulator.calls(click.hook) for click in clicks]
    assert sorted(len(calls) for calls in answered) == [0, 1], answered
    [reply] = [calls[0] for calls in answered if calls]
    assert "page 2 of 2" in texts(reply.body)


# -- Discord only ------------------------------------------------------------------------------------------

@pytest.fixture
async def bot(db: Database, config: Config) -> AsyncIterator[dh.Harness]:
    async with dh.running_bot(db, config) as running:
        yield running
        running.validate_all()


async def test_discord_login_syncs_the_command_tree_against_the_spec(bot: dh.Harness) -> None:
    [sync] = await bot.emulator.wait_for("PUT", r"/applications/\d+/commands")
    [root] = sync.json
    validate_schema(root, "ApplicationCommandCreateRequest")
    assert root["name"] == "rad"
    options = {o["name"]: o for o in root["options"]}
    assert options["admin"]["type"] == 2
    grant = {o["name"]: o for o in options["admin"]["options"]}["grant"]
    user, role = grant["options"]
    assert (user["type"], role["type"]) == (dh.USER_OPTION, 3)
    assert [c["value"] for c in role["choices"]] == ["user", "partner", "finance", "admin"]
    assert all(o["description"] for o in grant["options"])


async def test_discord_help_and_grants_are_plain_ephemeral_messages(bot: dh.Harness) -> None:
    bot.slash("help")
    body = await bot.last_callback()
    assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL
    assert "**RAD commands you can use**" in body["data"]["content"]
    bot.slash("whoami", user_id=dh.USER_ID)
    [embed] = (await bot.last_callback(2))["data"]["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Roles"] == "user" and f"<@{dh.USER_ID}>" in fields["Linked accounts"]
    bot.slash("admin grant", {"user": dh.USER_ID, "role": "partner"}, types={"user": dh.USER_OPTION},
              resolved=[obj.user(dh.USER_ID, "someone")])
    assert (await bot.last_callback(3))["data"]["content"].startswith("✅")


async def test_discord_a_stale_custom_id_gets_a_clear_message(bot: dh.Harness) -> None:
    old = obj.message(obj.snowflake(), "1", obj.user("1", "bot"), content="old", components=[
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "Old", "custom_id": "legacy:thing:1"}]}])
    bot.click(old, "legacy:thing:1")
    body = await bot.last_callback()
    assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL
    assert "no longer works" in body["data"]["content"]


async def test_discord_the_same_interaction_twice_is_handled_once(bot: dh.Harness) -> None:
    payload = bot.slash("admin grant", {"user": dh.USER_ID, "role": "finance"}, types={"user": dh.USER_OPTION},
                        resolved=[obj.user(dh.USER_ID, "someone")])
    bot.feed(payload)
    await bot.callbacks()
    await bot.restart()
    bot.feed(payload)
    await asyncio.sleep(0.3)
    assert len(bot.emulator.find("POST", r"/interactions/.*")) == 1


async def test_discord_a_slow_command_is_deferred_then_edited(db: Database, config: Config) -> None:
    async with dh.running_bot(db, config, defer_after=0.0) as running:
        running.slash("help")
        [defer] = await running.callbacks()
        assert defer.json == {"type": 5, "data": {"flags": EPHEMERAL}}
        [edit] = await running.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        assert "RAD commands you can use" in edit.json["content"]
        running.validate_all()


async def test_discord_a_rate_limited_callback_is_retried(bot: dh.Harness) -> None:
    bot.emulator.rate_limit("POST", r"/interactions/\d+/[^/]+/callback", times=1, retry_after=0.05)
    bot.slash("whoami", user_id=dh.ADMIN_ID)
    [call] = await bot.callbacks()
    assert call.json["type"] == 4
    assert len(bot.emulator.find("POST", r"/interactions/.*", ok=False)) == 2


