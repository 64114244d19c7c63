"""End to end on Discord: slash commands, buttons and paging through the real discord.py client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from core.config import Config
from storage.db import Database
from storage.models import AuditEvent
from tests.emulators import discord_objects as obj
from tests.support.discord_harness import (
    ADMIN_ID,
    INTEGER_OPTION,
    USER_ID,
    USER_OPTION,
    Harness,
    custom_id_of,
    running_bot,
)
from tests.support.discord_spec import validate_schema

EPHEMERAL = 64


@pytest.fixture
async def bot(db: Database, config: Config) -> AsyncIterator[Harness]:
    async with running_bot(db, config) as harness:
        yield harness


async def test_login_syncs_the_command_tree_against_the_spec(bot: Harness) -> None:
    [sync] = await bot.emulator.wait_for("PUT", r"/applications/\d+/commands")
    bot.validate_all()
    [root] = sync.json
    validate_schema(root, "ApplicationCommandCreateRequest")
    assert root["name"] == "rad"
    options = {o["name"]: o for o in root["options"]}
    assert options["admin"]["type"] == 2
    grant = {o["name"]: o for o in options["admin"]["options"]}["grant"]
    user, role = grant["options"]
    assert (user["type"], role["type"]) == (USER_OPTION, 3)
    assert [c["value"] for c in role["choices"]] == ["user", "partner", "finance", "admin"]
    assert all(o["description"] for o in grant["options"])


async def test_help_answers_ephemerally(bot: Harness) -> None:
    bot.slash("help")
    body = await bot.last_callback()
    assert body["type"] == 4
    assert body["data"]["flags"] & EPHEMERAL
    assert "**RAD commands you can use**" in body["data"]["content"]
    assert "/rad admin grant" in body["data"]["content"]


async def test_whoami_is_an_embed_card(bot: Harness) -> None:
    bot.slash("whoami", user_id=USER_ID)
    body = await bot.last_callback()
    [embed] = body["data"]["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Roles"] == "user"
    assert f"<@{USER_ID}>" in fields["Linked accounts"]


async def test_admin_grant_and_revoke(bot: Harness) -> None:
    target = obj.user(USER_ID, "someone")
    bot.slash("admin grant", {"user": USER_ID, "role": "partner"}, types={"user": USER_OPTION}, resolved=[target])
    body = await bot.last_callback()
    assert f"<@{USER_ID}> is now a partner" in body["data"]["content"]
    assert body["data"]["content"].startswith("✅")
    bot.slash("admin revoke", {"user": USER_ID, "role": "partner"}, types={"user": USER_OPTION}, resolved=[target])
    body = await bot.last_callback(2)
    assert f"<@{USER_ID}> is no longer a partner" in body["data"]["content"]


async def test_revoke_from_an_unknown_user_says_so(bot: Harness) -> None:
    stranger = obj.user("900000000000000099", "stranger")
    bot.slash("admin revoke", {"user": stranger["id"], "role": "partner"}, types={"user": USER_OPTION},
              resolved=[stranger])
    body = await bot.last_callback()
    assert f"I don't know <@{stranger['id']}> yet" in body["data"]["content"]
    assert body["data"]["flags"] & EPHEMERAL


async def test_a_non_admin_is_refused_and_audited(bot: Harness, db: Database) -> None:
    bot.slash("admin users", user_id=USER_ID)
    body = await bot.last_callback()
    assert body["data"]["flags"] & EPHEMERAL
    assert "admin" in body["data"]["content"].lower()
    with db.unit_of_work() as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all()
    assert [(e.platform, e.outcome) for e in denied] == [("discord", "denied")]


async def test_a_page_out_of_range_is_a_clear_error(bot: Harness) -> None:
    for number, page in enumerate((-1, 99), start=1):
        bot.slash("admin users", {"page": page}, types={"page": INTEGER_OPTION})
        body = await bot.last_callback(number)
        assert f"There is no page {page}." in body["data"]["content"]
        assert body["data"]["flags"] & EPHEMERAL


async def test_a_role_outside_the_choices_is_refused(bot: Harness) -> None:
    target = obj.user(USER_ID, "someone")
    bot.slash("admin grant", {"user": USER_ID, "role": "superuser"}, types={"user": USER_OPTION}, resolved=[target])
    body = await bot.last_callback()
    assert body["data"]["flags"] & EPHEMERAL
    assert "superuser" in body["data"]["content"]


async def seed_users(bot: Harness, count: int) -> None:
    """Grant ``count`` users a role, so that ``admin users`` has several pages."""
    for n in range(count):
        target = obj.user(f"91000000000000{n:04d}", f"member{n}")
        bot.slash("admin grant", {"user": target["id"], "role": "partner"}, types={"user": USER_OPTION},
                  resolved=[target])
        await bot.callbacks(n + 1)
    bot.emulator.clear()


async def test_paging_with_next_keeps_working_after_a_restart(bot: Harness) -> None:
    await seed_users(bot, 12)
    bot.slash("admin users")
    [first] = await bot.callbacks()
    assert "page 1 of 2" in first.json["data"]["content"]
    next_id = custom_id_of(first.json, "Next")
    assert next_id == "rad|admin:users:page|2"
    message = first.message
    assert message is not None

    await bot.restart()
    bot.click(message, next_id)
    [_, click] = await bot.callbacks(2)
    assert click.json["type"] == 7
    assert "page 2 of 2" in click.json["data"]["content"]
    assert custom_id_of(click.json, "◀ Previous") == "rad|admin:users:page|1"

    bot.click(message, custom_id_of(click.json, "◀ Previous"))
    [*_, back] = await bot.callbacks(3)
    assert back.json["type"] == 7 and "page 1 of 2" in back.json["data"]["content"]


async def test_a_stale_custom_id_gets_a_clear_message(bot: Harness) -> None:
    old = obj.message(obj.snowflake(), "1", obj.user("1", "bot"), content="old", components=[
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "Old", "custom_id": "legacy:thing:1"}]}])
    bot.click(old, "legacy:thing:1")
    body = await bot.last_callback()
    assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL
    assert "no longer works" in body["data"]["content"]


async def test_an_unknown_action_id_gets_a_clear_message(bot: Harness) -> None:
    old = obj.message(obj.snowflake(), "1", obj.user("1", "bot"), content="old", components=[
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "Gone", "custom_id": "rad|gone:away|7"}]}])
    bot.click(old, "rad|gone:away|7")
    body = await bot.last_callback()
    assert "That button no longer does anything" in body["data"]["content"]
    assert body["data"]["flags"] & EPHEMERAL


async def test_the_same_interaction_twice_is_handled_once(bot: Harness) -> None:
    payload = bot.slash("admin grant", {"user": USER_ID, "role": "finance"}, types={"user": USER_OPTION},
                        resolved=[obj.user(USER_ID, "someone")])
    bot.feed(payload)
    await bot.callbacks()
    await bot.restart()
    bot.feed(payload)
    await asyncio.sleep(0.3)
    assert len(bot.emulator.find("POST", r"/interactions/.*")) == 1


async def test_a_slow_command_is_deferred_then_edited(db: Database, config: Config) -> None:
    async with running_bot(db, config, defer_after=0.0) as bot:
        bot.slash("help")
        [defer] = await bot.callbacks()
        assert defer.json == {"type": 5, "data": {"flags": EPHEMERAL}}
        [edit] = await bot.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        assert "RAD commands you can use" in edit.json["content"]
        bot.validate_all()


async def test_a_rate_limited_callback_is_retried(bot: Harness) -> None:
    bot.emulator.rate_limit("POST", r"/interactions/\d+/[^/]+/callback", times=1, retry_after=0.05)
    bot.slash("whoami", user_id=ADMIN_ID)
    [call] = await bot.callbacks()
    assert call.json["type"] == 4
    assert len(bot.emulator.find("POST", r"/interactions/.*", ok=False)) == 2
