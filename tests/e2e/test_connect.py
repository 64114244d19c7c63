"""End to end, through every front door: connect a GitHub repository and a Jules key, against the GitHub
and Jules emulators; then the checks only one platform has."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack.elements import decode_action_id
from core.config import Config
from core.services import Services
from storage.db import Database
from storage.models import AuditEvent, Base, RepoConnection, StoredSecret
from tests.emulators import discord_objects as obj
from tests.emulators.github import GitHubEmulator
from tests.emulators.jules import JulesEmulator
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.discord_spec import validate_schema
from tests.support.front_door import Form, FrontDoor, Person, door, door_registry
from tests.support.slack_support import CHANNEL, emulator, harness, slack_runtime, texts, typed

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

PAT = Person("pat")
MODULES = {"network/main.tf": 'variable "cidr" {}\n', "README.md": "# modules\n"}
RETRY_BUTTON = {"slack": ("connect:start", "partner"), "discord": ("rad|connect:start|partner", "")}
SENDING_LOGGER = {"slack": "slack_sdk.webhook.client", "discord": "discord.webhook.async_"}


@pytest.fixture
async def partner(door: FrontDoor, github: GitHubEmulator, jules: JulesEmulator) -> FrontDoor:
    """The door, with Pat made a partner by the bootstrap admin."""
    assert "is now a partner" in (await door.command("admin grant", {"user": PAT, "role": "partner"})).text
    return door


async def token_form(door: FrontDoor, words: str = "connect", args: dict[str, Any] | None = None,
                     name: str = "token") -> Form:
    form = await door.open_form(words, args, user=PAT)
    assert form.secret(name), "a secret input is never prefilled"
    return form


async def test_connect_a_repository_on_page_two_then_status_and_disconnect(
    partner: FrontDoor, github: GitHubEmulator, db: Database
) -> None:
    door = partner
    for n in range(150):
        github.add_repo(f"pat/repo-{n:03}", MODULES if n == 120 else {"x.txt": "x"})
    answer = await door.submit(await token_form(door), {"token": github.add_token("pat")}, user=PAT)
    assert answer.private and "The token of pat works" in answer.text and "It reaches 150 repositories" in answer.text

    assert await door.suggest(answer, "repo-12", user=PAT) == [f"pat/repo-{n}" for n in range(120, 130)]
    assert any(c.query.get("page") == "2" for c in github.calls("/user/repos"))  # pat/repo-120 is on page 2
    chosen = await door.choose(answer, "pat/repo-120", user=PAT)
    assert "Connected pat/repo-120 (branch `main`)" in chosen.text
    # Slack's select searches all 150 and the choice replaces the picker; Discord's holds 25, so the name is typed.
    assert chosen.replaced == (door.platform == "slack")

    status = (await door.command("connect", {"target": "status"}, user=PAT)).text
    assert "pat/repo-120" in status and "pat (classic)" in status

    gone = await door.click_danger(await door.command("disconnect", user=PAT), user=PAT)
    assert "Your GitHub token is forgotten" in gone.text
    with db.unit_of_work() as s:
        assert s.scalars(select(StoredSecret)).all() == []
        assert s.scalars(select(RepoConnection)).one().token_secret_id is None


async def test_a_wrong_token_is_explained_stores_nothing_and_offers_to_try_again(
    partner: FrontDoor, github: GitHubEmulator, db: Database
) -> None:
    door = partner
    github.add_repo("pat/modules", MODULES)
    answer = await door.submit(await token_form(door), {"token": "ghp_not-a-real-token"}, user=PAT)
    assert "GitHub refused this token" in answer.text and "Nothing was stored." in answer.text
    retry = answer.button("Try again")
    assert (retry.id if door.platform == "discord" else decode_action_id(retry.id)[0],
            retry.value or "") == RETRY_BUTTON[door.platform]
    with db.unit_of_work() as s:
        assert s.scalars(select(StoredSecret)).all() == [] and s.scalars(select(RepoConnection)).all() == []
    again = await door.click_form(answer, "Try again", user=PAT)
    assert again.secret("token") and "ghp_not-a-real-token" not in json.dumps(again.raw)


async def test_secrets_never_reach_logs_the_chat_platform_audit_or_database(
    partner: FrontDoor, github: GitHubEmulator, jules: JulesEmulator, db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    door = partner
    caplog.set_level(logging.DEBUG)
    github.add_repo("pat/modules", MODULES)
    jules.add_source("pat/modules")
    token, key = github.add_token("pat"), jules.add_key()
    wrong_token, wrong_key = "ghp_" + "W" * 36, "AIzaWrongKey" + "0" * 27

    assert "Nothing was stored" in (await door.submit(await token_form(door), {"token": wrong_token}, user=PAT)).text
    works = await door.submit(await token_form(door), {"token": f"  {token}\n"}, user=PAT)
    assert "works" in works.text
    assert "Connected pat/modules" in (await door.choose(works, "pat/modules", user=PAT)).text
    jules_form = {"args": {"target": "jules"}, "name": "key"}
    refused = await door.submit(await token_form(door, **jules_form), {"key": wrong_key}, user=PAT)  # type: ignore[arg-type]
    assert "Nothing was stored" in refused.text
    found = await door.submit(await token_form(door, **jules_form), {"key": key}, user=PAT)  # type: ignore[arg-type]
    assert "The Jules key works" in found.text and "Jules can work on pat/modules" in found.text
    assert "registered" in (await door.command("connect", {"target": "status"}, user=PAT)).text
    door.settle()

    logs = "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in caplog.records)
    sent = door.sent()
    with db.unit_of_work() as s:
        audit = "\n".join(repr(vars(e)) for e in s.scalars(select(AuditEvent)))
    with db.engine.connect() as conn:
        tables = {t.name: [repr(tuple(row)) for row in conn.execute(t.select())] for t in Base.metadata.sorted_tables}
    dump = "\n".join(f"{name}: {row}" for name, rows in tables.items() for row in rows)
    for secret in (token, key, wrong_token, wrong_key):
        for name, haystack in (("logs", logs), ("chat platform", sent), ("audit", audit), ("database", dump)):
            assert secret not in haystack, f"a secret reached the {name}"
    assert "connect.github" in audit and len(tables["stored_secrets"]) == 2
    assert tables["form_drafts"] or door.platform == "slack", "Discord keeps form drafts (without secrets)"
    assert "github_token" in dump and "jules_key" in dump  # the dump did include the sealed secrets
    loggers = {r.name for r in caplog.records}
    assert {SENDING_LOGGER[door.platform], "core.repos.github", "core.jules.client",
            "urllib3.connectionpool"} <= loggers
    assert len(sent) > 1000


# -- Slack only --------------------------------------------------------------------------------------------

SLACK_PAT = {"user": "UPAT", "name": "pat"}


@pytest.fixture
def slack_partner(harness: sh.Harness, github: GitHubEmulator) -> sh.Harness:
    assert "is now a partner" in texts(harness.reply(harness.command("admin grant <@UPAT|pat> partner")))
    return harness


def slack_form(harness: sh.Harness) -> dict[str, Any]:
    before = len(harness.emulator.calls("views.open"))
    assert harness.command("connect", **SLACK_PAT).status == 200
    view: dict[str, Any] = harness.emulator.wait_for("views.open", count=before + 1)[-1].body["view"]
    return view


def slack_submit(harness: sh.Harness, view: dict[str, Any], token: str) -> dict[str, Any]:
    answer = harness.interact(harness.submission_body(view, {"token": typed(token)}, **SLACK_PAT))
    assert (answer.status, answer.body) == (200, "")
    body: dict[str, Any] = harness.emulator.wait_for("chat.postEphemeral", timeout=10)[-1].body
    return body


def test_slack_connect_opens_a_modal_with_a_secret_input(slack_partner: sh.Harness) -> None:
    view = slack_form(slack_partner)
    assert view["callback_id"] == "connect:github" and view["submit"]["text"] == "Check token"
    (token,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert token["block_id"] == "token" and token["element"]["max_length"] == 512
    assert json.loads(view["private_metadata"]) == {"s": "partner", "c": CHANNEL}


def test_slack_the_picker_searches_a_hundred_at_a_time_and_the_confirm_is_native(
    slack_partner: sh.Harness, github: GitHubEmulator
) -> None:
    for n in range(150):
        github.add_repo(f"pat/repo-{n:03}", MODULES)
    posted = slack_submit(slack_partner, slack_form(slack_partner), github.add_token("pat"))
    (block,) = [b for b in posted["blocks"] if b["type"] == "actions"]
    (picker,) = block["elements"]
    assert decode_action_id(picker["action_id"]) == ("connect:repo", "partner")
    opening = slack_partner.interact(slack_partner.suggestion_body(block["block_id"], picker["action_id"], "",
                                                                   **SLACK_PAT))
    assert len(opening.json()["options"]) == 100
    confirm = slack_partner.reply(slack_partner.command("disconnect", **SLACK_PAT))
    (button,) = [e for b in confirm["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["confirm"]["confirm"]["text"] == "Forget it"


def test_slack_suggestions_are_refused_to_non_partners(slack_partner: sh.Harness, github: GitHubEmulator) -> None:
    github.add_repo("pat/modules", MODULES)
    slack_submit(slack_partner, slack_form(slack_partner), github.add_token("pat"))
    mallory = slack_partner.interact(slack_partner.suggestion_body("opts:connect:repos", "connect:repo#0:partner",
                                                                   "", user="UMAL", name="mallory"))
    assert mallory.json() == {"options": []}
    unknown = slack_partner.interact(slack_partner.suggestion_body("b1", "connect:repo#0:partner", "", **SLACK_PAT))
    assert unknown.json() == {"options": []}


def test_slack_socket_mode_slow_form_and_suggestions(slack_partner: sh.Harness, github: GitHubEmulator) -> None:
    for n in range(120):
        github.add_repo(f"pat/repo-{n:03}", MODULES)
    view = slack_form(slack_partner)
    token = github.add_token("pat")
    response = slack_partner.socket(slack_partner.submission_body(view, {"token": typed(token)}, **SLACK_PAT))
    assert (response.status, response.body) == (200, "")
    posted = slack_partner.emulator.wait_for("chat.postEphemeral", timeout=10)[0].body
    (block,) = [b for b in posted["blocks"] if b["type"] == "actions"]
    (picker,) = block["elements"]
    found = slack_partner.socket(slack_partner.suggestion_body(block["block_id"], picker["action_id"], "REPO-11",
                                                               **SLACK_PAT))
    assert [o["value"] for o in json.loads(found.body)["options"]][:2] == ["pat/repo-110", "pat/repo-111"]


# -- Discord only ------------------------------------------------------------------------------------------

@pytest.fixture
async def bot(db: Database, config: Config, services: Services, github: GitHubEmulator,
              jules: JulesEmulator) -> AsyncIterator[dh.Harness]:
    async with dh.running_bot(db, config, services=services) as running:
        running.slash("admin grant", {"user": dh.USER_ID, "role": "partner"}, types={"user": dh.USER_OPTION},
                      resolved=[obj.user(dh.USER_ID, "pat")])
        assert "is now a partner" in (await running.last_callback())["data"]["content"]
        running.emulator.clear()
        yield running
        running.validate_all()


async def discord_connect(bot: dh.Harness, words: str, user_id: str, number: int, token: str) -> dict[str, Any]:
    bot.slash(words, user_id=user_id)
    modal = (await bot.callbacks(number, timeout=10))[number - 1].json
    submitted = bot.submit(modal["data"]["custom_id"], {"token": token}, user_id=user_id)
    await bot.callbacks(number + 1, timeout=10)
    [answer] = await bot.original_edits(submitted, timeout=10)
    body: dict[str, Any] = answer.json
    return body


async def test_discord_the_select_shows_25_and_a_quick_form_is_still_deferred(
    bot: dh.Harness, github: GitHubEmulator
) -> None:
    for n in range(150):
        github.add_repo(f"pat/repo-{n:03}", MODULES)
    answer = await discord_connect(bot, "connect", dh.USER_ID, 1, github.add_token("pat"))
    assert bot.bot.front.defer_after == 2.0, "the defer is explicit, not the 2-second fallback"
    assert "shows the first 25 of 150; to pick another, type the command" in answer["content"]
    [picker] = [c for c in dh.components_of(answer) if c["type"] == 3]
    assert picker["custom_id"] == "rads|connect:repo|partner" and len(picker["options"]) == 25
    assert picker["placeholder"].endswith("(first 25 of 150)")


async def test_discord_the_platform_repository_is_searched_in_its_own_scope(
    bot: dh.Harness, github: GitHubEmulator
) -> None:
    for n in range(30):
        github.add_repo(f"radadmin/platform-{n:02}", MODULES)
        github.add_repo(f"pat/partner-{n:02}", MODULES)
    await discord_connect(bot, "admin connect", dh.ADMIN_ID, 1, github.add_token("radadmin"))
    await discord_connect(bot, "connect", dh.USER_ID, 3, github.add_token("pat"))
    bot.autocomplete("admin connect", {"target": "repo", "repository": "2"}, "repository", user_id=dh.ADMIN_ID)
    platform = [c["value"] for c in (await bot.callbacks(5))[4].json["data"]["choices"]]
    bot.autocomplete("connect", {"target": "repo", "repository": "2"}, "repository", user_id=dh.USER_ID)
    partner = [c["value"] for c in (await bot.callbacks(6))[5].json["data"]["choices"]]
    bot.autocomplete("admin connect", {"repository": "2"}, "repository", user_id=dh.USER_ID)
    refused = (await bot.callbacks(7))[6].json["data"]["choices"]
    assert platform[:2] == ["radadmin/platform-02", "radadmin/platform-12"] and len(platform) == 12
    assert partner[:2] == ["pat/partner-02", "pat/partner-12"] and refused == []


async def test_discord_the_command_payload_offers_autocomplete(db: Database, config: Config) -> None:
    async with dh.running_bot(db, config) as running:
        [sync] = await running.emulator.wait_for("PUT", r"/applications/\d+/commands")
    [root] = sync.json
    validate_schema(root, "ApplicationCommandCreateRequest")
    commands = {o["name"]: o for o in root["options"]}
    admin = {o["name"]: o for o in commands["admin"]["options"]}
    for command in (commands["connect"], admin["connect"]):
        options = {o["name"]: o for o in command["options"]}
        assert options["repository"]["autocomplete"] is True and "choices" not in options["repository"]
        assert not options["target"].get("autocomplete") and options["target"]["choices"]
