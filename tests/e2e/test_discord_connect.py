"""End to end on Discord: connecting a GitHub repository and a Jules key, against the GitHub and Jules emulators.

Raw INTERACTION_CREATE payloads go into the real discord.py client; what it sends is read back from the
Discord emulator and validated against Discord's API description.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from core.config import Config
from core.services import Services
from storage.db import Database
from storage.models import Base, RepoConnection, StoredSecret
from tests.emulators import discord_objects as obj
from tests.emulators.discord import Call
from tests.emulators.github import GitHubEmulator
from tests.emulators.jules import JulesEmulator
from tests.support.discord_harness import (
    ADMIN_ID,
    USER_ID,
    USER_OPTION,
    Harness,
    components_of,
    custom_id_of,
    running_bot,
)
from tests.support.discord_spec import validate_schema

EPHEMERAL = 64
MODULES = {"network/main.tf": 'variable "cidr" {}\n', "README.md": "# modules\n"}


@pytest.fixture
async def bot(db: Database, config: Config, services: Services, github: GitHubEmulator,
              jules: JulesEmulator) -> AsyncIterator[Harness]:
    async with running_bot(db, config, services=services) as harness:
        await grant_partner(harness)
        yield harness


async def grant_partner(bot: Harness) -> None:
    """The admin makes USER_ID a partner with ``/rad admin grant``; the recorded calls start afresh."""
    bot.slash("admin grant", {"user": USER_ID, "role": "partner"}, types={"user": USER_OPTION},
              resolved=[obj.user(USER_ID, "pat")])
    assert "is now a partner" in (await bot.last_callback())["data"]["content"]
    bot.emulator.clear()


async def callback(bot: Harness, number: int) -> dict[str, Any]:
    """The ``number``-th interaction callback (1-based) since the last ``clear``."""
    calls = await bot.callbacks(number, timeout=10)
    body: dict[str, Any] = calls[number - 1].json
    return body


def secret_input(modal: dict[str, Any], name: str) -> dict[str, Any]:
    assert modal["type"] == 9, modal
    validate_schema(modal, "ModalInteractionCallbackRequest")
    [found] = [c for c in components_of(modal) if c.get("custom_id") == name]
    assert found["type"] == 4 and "value" not in found, "a secret input is never prefilled"
    return found


async def open_form(bot: Harness, words: str, options: dict[str, Any], number: int, name: str,
                    user_id: str = USER_ID) -> str:
    """Run a command that opens a form with a secret input; the modal's custom id."""
    bot.slash(words, options, user_id=user_id)
    modal = await callback(bot, number)
    secret_input(modal, name)
    return str(modal["data"]["custom_id"])


async def submit_secret(bot: Harness, form_id: str, name: str, value: str, number: int,
                        user_id: str = USER_ID) -> Call:
    """Submit a slow form: deferred at once (ephemeral, thinking), then the answer replaces the wait."""
    submitted = bot.submit(form_id, {name: value}, user_id=user_id)
    assert await callback(bot, number) == {"type": 5, "data": {"flags": EPHEMERAL}}
    [answer] = await bot.original_edits(submitted, timeout=10)
    return answer


async def connect_typed(bot: Harness, repository: str, number: int, user_id: str = USER_ID) -> str:
    """``/rad connect repo <repository>`` answers with a check button (callback ``number``); clicking it is a
    slow action (callback ``number + 1``, deferred) whose answer replaces the message: its content."""
    bot.slash("connect", {"target": "repo", "repository": repository}, user_id=user_id)
    [*_, asked] = await bot.callbacks(number, timeout=10)
    assert asked.message is not None
    click = bot.click(asked.message, custom_id_of(asked.json, "Check and connect"), user_id=user_id)
    assert (await callback(bot, number + 1))["type"] == 6
    [answer] = await bot.original_edits(click, timeout=10)
    return str(answer.json["content"])


def select_of(body: dict[str, Any]) -> dict[str, Any]:
    [found] = [c for c in components_of(body) if c["type"] == 3]
    return found


async def test_connect_choose_on_page_two_status_and_disconnect(
    bot: Harness, github: GitHubEmulator, db: Database
) -> None:
    for n in range(150):
        github.add_repo(f"pat/repo-{n:03}", MODULES if n == 120 else {"x.txt": "x"})
    token = github.add_token("pat")

    form_id = await open_form(bot, "connect", {}, 1, "token")
    answer = await submit_secret(bot, form_id, "token", token, 2)
    assert "The token of **pat** works" in answer.json["content"]
    assert "It reaches 150 repositories" in answer.json["content"]
    assert "shows the first 25 of 150; to pick another, type the command" in answer.json["content"]
    picker = select_of(answer.json)
    assert picker["custom_id"] == "rads|connect:repo|partner" and len(picker["options"]) == 25
    assert picker["placeholder"].endswith("(first 25 of 150)")

    bot.autocomplete("connect", {"target": "repo", "repository": "repo-12"}, "repository", user_id=USER_ID)
    suggested = await callback(bot, 3)
    assert suggested["type"] == 8
    assert [c["value"] for c in suggested["data"]["choices"]] == [f"pat/repo-{n}" for n in range(120, 130)]

    assert "Connected **pat/repo-120** (branch `main`)" in await connect_typed(bot, "pat/repo-120", 4)

    bot.slash("connect", {"target": "status"}, user_id=USER_ID)
    github_card = (await callback(bot, 6))["data"]["embeds"][0]
    fields = {f["name"]: f["value"] for f in github_card["fields"]}
    assert fields["Repository"] == "pat/repo-120" and fields["Token"] == "pat (classic)"

    bot.slash("disconnect", user_id=USER_ID)
    [*_, question] = await bot.callbacks(7)
    [danger] = components_of(question.json)
    assert danger["style"] == 4 and danger["custom_id"] == "radc|connect:forget|github"
    assert question.message is not None
    bot.click(question.message, danger["custom_id"], user_id=USER_ID)
    [*_, confirm] = await bot.callbacks(8)
    assert "Are you sure?" in confirm.json["data"]["content"] and confirm.json["data"]["flags"] & EPHEMERAL
    assert confirm.message is not None
    bot.click(confirm.message, custom_id_of(confirm.json, "Confirm"), user_id=USER_ID)
    forgotten = await callback(bot, 9)
    assert forgotten["type"] == 7 and "Your GitHub token is forgotten." in forgotten["data"]["content"]
    with db.unit_of_work() as session:
        assert session.scalars(select(StoredSecret)).all() == []
        assert session.scalars(select(RepoConnection)).one().token_secret_id is None
    bot.validate_all()


async def test_a_slow_form_is_deferred_even_when_the_answer_is_quick(bot: Harness, github: GitHubEmulator) -> None:
    github.add_repo("pat/modules", MODULES)
    form_id = await open_form(bot, "connect", {}, 1, "token")
    answer = await submit_secret(bot, form_id, "token", github.add_token("pat"), 2)
    assert bot.bot.front.defer_after == 2.0, "the defer is explicit, not the 2-second fallback"
    assert "It reaches 1 repositories" in answer.json["content"] and "list below" not in answer.json["content"]
    assert [o["value"] for o in select_of(answer.json)["options"]] == ["pat/modules"]


async def test_a_wrong_token_says_so_stores_nothing_and_offers_to_try_again(
    bot: Harness, github: GitHubEmulator, db: Database
) -> None:
    github.add_repo("pat/modules", MODULES)
    form_id = await open_form(bot, "connect", {}, 1, "token")
    answer = await submit_secret(bot, form_id, "token", "ghp_not-a-real-token", 2)
    assert "GitHub refused this token" in answer.json["content"]
    assert "Nothing was stored." in answer.json["content"]
    retry = custom_id_of(answer.json, "Try again")
    assert retry == "rad|connect:start|partner"
    with db.unit_of_work() as session:
        assert session.scalars(select(StoredSecret)).all() == []
        assert session.scalars(select(RepoConnection)).all() == []
    assert answer.message is not None
    bot.click(answer.message, retry, user_id=USER_ID)
    secret_input(await callback(bot, 3), "token")


async def test_the_platform_repository_is_searched_in_its_own_scope(
    bot: Harness, github: GitHubEmulator
) -> None:
    for n in range(30):
        github.add_repo(f"radadmin/platform-{n:02}", MODULES)
        github.add_repo(f"pat/partner-{n:02}", MODULES)
    form_id = await open_form(bot, "admin connect", {}, 1, "token", user_id=ADMIN_ID)
    answer = await submit_secret(bot, form_id, "token", github.add_token("radadmin"), 2, user_id=ADMIN_ID)
    picker = select_of(answer.json)
    assert picker["custom_id"] == "rads|connect:repo|platform" and len(picker["options"]) == 25
    form_id = await open_form(bot, "connect", {}, 3, "token")
    await submit_secret(bot, form_id, "token", github.add_token("pat"), 4)

    bot.autocomplete("admin connect", {"target": "repo", "repository": "2"}, "repository", user_id=ADMIN_ID)
    platform = [c["value"] for c in (await callback(bot, 5))["data"]["choices"]]
    bot.autocomplete("connect", {"target": "repo", "repository": "2"}, "repository", user_id=USER_ID)
    partner = [c["value"] for c in (await callback(bot, 6))["data"]["choices"]]
    bot.autocomplete("admin connect", {"repository": "2"}, "repository", user_id=USER_ID)
    refused = (await callback(bot, 7))["data"]["choices"]
    assert platform[:2] == ["radadmin/platform-02", "radadmin/platform-12"] and len(platform) == 12
    assert partner[:2] == ["pat/partner-02", "pat/partner-12"] and refused == []

    assert answer.message is not None
    click = bot.click(answer.message, picker["custom_id"], component_type=3, values=["radadmin/platform-07"],
                      user_id=ADMIN_ID)
    assert (await callback(bot, 8))["type"] == 6  # a slow action: deferred, GitHub is asked with no transaction
    [chosen] = await bot.original_edits(click, timeout=10)
    assert "Connected **radadmin/platform-07**" in chosen.json["content"]
    bot.validate_all()


async def test_the_command_payload_offers_autocomplete(db: Database, config: Config) -> None:
    async with running_bot(db, config) as bot:
        [sync] = await bot.emulator.wait_for("PUT", r"/applications/\d+/commands")
    [root] = sync.json
    validate_schema(root, "ApplicationCommandCreateRequest")
    commands = {o["name"]: o for o in root["options"]}
    admin = {o["name"]: o for o in commands["admin"]["options"]}
    for command in (commands["connect"], admin["connect"]):
        options = {o["name"]: o for o in command["options"]}
        assert options["repository"]["autocomplete"] is True and "choices" not in options["repository"]
        assert not options["target"].get("autocomplete") and options["target"]["choices"]


async def test_secrets_never_reach_logs_discord_audit_or_database(
    bot: Harness, github: GitHubEmulator, jules: JulesEmulator, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    github.add_repo("pat/modules", MODULES)
    jules.add_source("pat/modules")
    token, key = github.add_token("pat"), jules.add_key()
    wrong_token, wrong_key = "ghp_" + "W" * 36, "AIzaWrongKey" + "0" * 27

    form_id = await open_form(bot, "connect", {}, 1, "token")
    assert "Nothing was stored" in (await submit_secret(bot, form_id, "token", wrong_token, 2)).json["content"]
    form_id = await open_form(bot, "connect", {}, 3, "token")
    assert "works" in (await submit_secret(bot, form_id, "token", token, 4)).json["content"]
    assert "Connected **pat/modules**" in await connect_typed(bot, "pat/modules", 5)
    form_id = await open_form(bot, "connect", {"target": "jules"}, 7, "key")
    assert "Nothing was stored" in (await submit_secret(bot, form_id, "key", wrong_key, 8)).json["content"]
    form_id = await open_form(bot, "connect", {"target": "jules"}, 9, "key")
    found = await submit_secret(bot, form_id, "key", key, 10)
    assert "Jules can work on **pat/modules**" in found.json["content"]
    bot.slash("connect", {"target": "status"}, user_id=USER_ID)
    await callback(bot, 11)

    logs = "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in caplog.records)
    sent = "\n".join(f"{c.method} {c.path} {c.query!r} {c.json!r} {c.files!r} {c.headers!r}"
                     for c in bot.emulator.calls)
    with db.engine.connect() as conn:
        tables = {t.name: [repr(tuple(row)) for row in conn.execute(t.select())] for t in Base.metadata.sorted_tables}
    dump = "\n".join(f"{name}: {row}" for name, rows in tables.items() for row in rows)
    for secret in (token, key, wrong_token, wrong_key):
        assert secret not in logs, "a secret in a log record"
        assert secret not in sent, "a secret sent to Discord"
        assert secret not in dump, "a secret in the database (audit_events and form_drafts included)"
    assert tables["form_drafts"] and tables["audit_events"] and len(tables["stored_secrets"]) == 2
    loggers = {r.name for r in caplog.records}
    assert {"discord.webhook.async_", "core.repos.github", "core.jules.client", "urllib3.connectionpool"} <= loggers
    assert len(bot.emulator.calls) > 10
    bot.validate_all()
