"""End to end through Slack: connect a GitHub repository and a Jules key with signed requests into the real
Bolt app, against the Slack, GitHub and Jules emulators."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from bot.slack.elements import decode_action_id
from storage.db import Database
from storage.models import AuditEvent, Base, RepoConnection, StoredSecret
from tests.emulators.github import GitHubEmulator
from tests.emulators.jules import JulesEmulator
from tests.emulators.slack import Call
from tests.support.slack_support import CHANNEL, Harness, emulator, harness, slack_runtime, texts, typed

__all__ = ["emulator", "harness", "slack_runtime"]

PAT = {"user": "UPAT", "name": "pat"}
MODULES = {"network/main.tf": 'variable "cidr" {}\n', "README.md": "# modules\n"}


@pytest.fixture
def partner(harness: Harness) -> None:
    """Pat is a partner (granted by the bootstrap admin)."""
    assert "is now a partner" in texts(harness.reply(harness.command("admin grant <@UPAT|pat> partner")))


def open_form(harness: Harness, command: str) -> dict[str, Any]:
    """Run ``/rad <command>`` as Pat; the modal it opened."""
    before = len(harness.emulator.calls("views.open"))
    answer = harness.command(command, **PAT)
    assert (answer.status, answer.body) == (200, "")
    opened = harness.emulator.wait_for("views.open", count=before + 1)[-1]
    view: dict[str, Any] = opened.body["view"]
    View(**view).validate_json()
    return view


def submit(harness: Harness, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Submit a slow form: the modal closes at once; the private follow-up message it posted."""
    before = len(harness.emulator.calls("chat.postEphemeral"))
    answer = harness.interact(harness.submission_body(view, values, **PAT))
    assert (answer.status, answer.body) == (200, "")  # an empty ack closes the modal
    posted = harness.emulator.wait_for("chat.postEphemeral", count=before + 1, timeout=10)[-1]
    assert (posted.body["channel"], posted.body["user"]) == (CHANNEL, PAT["user"])
    return posted.body


def actions(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == "actions"]


def test_connect_opens_a_modal_with_a_secret_input(harness: Harness, partner: None, github: GitHubEmulator) -> None:
    view = open_form(harness, "connect")
    assert view["callback_id"] == "connect:github" and view["submit"]["text"] == "Check token"
    (token,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert token["block_id"] == "token" and token["element"]["type"] == "plain_text_input"
    assert "initial_value" not in token["element"] and token["element"]["max_length"] == 512
    assert json.loads(view["private_metadata"]) == {"s": "partner", "c": CHANNEL}


def test_connect_a_repository_on_page_two_then_status_and_disconnect(
    harness: Harness, partner: None, github: GitHubEmulator, db: Database
) -> None:
    for n in range(150):
        github.add_repo(f"pat/repo-{n:03}", MODULES if n == 120 else {"x.txt": "x"})
    token = github.add_token("pat")
    posted = submit(harness, open_form(harness, "connect"), {"token": typed(token)})
    assert "The token of *pat* works" in texts(posted) and "It reaches 150 repositories" in texts(posted)
    (block,) = actions(posted)
    (picker,) = block["elements"]
    assert picker["type"] == "external_select" and picker["min_query_length"] == 0
    assert decode_action_id(picker["action_id"]) == ("connect:repo", "partner")

    typing = harness.interact(harness.suggestion_body(block["block_id"], picker["action_id"], "repo-12", **PAT))
    assert typing.status == 200
    assert [o["value"] for o in typing.json()["options"]] == [f"pat/repo-{n}" for n in range(120, 130)]
    opening = harness.interact(harness.suggestion_body(block["block_id"], picker["action_id"], "", **PAT))
    assert len(opening.json()["options"]) == 100
    assert any(c.query.get("page") == "2" for c in github.calls("/user/repos"))  # pat/repo-120 is on page 2

    chosen = {"type": "external_select", "block_id": block["block_id"],
              "selected_option": {"text": {"type": "plain_text", "text": "pat/repo-120"}, "value": "pat/repo-120"}}
    done = harness.interact(harness.action_body(picker["action_id"], **PAT, extra=chosen))
    reply = harness.reply(done, 2)  # a slow action: its placeholder first (no transaction over GitHub)
    assert reply["replace_original"] is True and "Connected *pat/repo-120* (branch `main`)" in texts(reply)

    status = texts(harness.reply(harness.command("connect status", **PAT)))
    assert "pat/repo-120" in status and "pat (classic)" in status

    confirm = harness.reply(harness.command("disconnect", **PAT))
    (button,) = actions(confirm)[0]["elements"]
    assert button["style"] == "danger" and button["confirm"]["style"] == "danger"
    assert button["confirm"]["confirm"]["text"] == "Forget it"
    gone = harness.reply(harness.click(button["action_id"], button["value"], **PAT))
    assert "Your GitHub token is forgotten" in texts(gone)
    with db.unit_of_work() as s:
        assert s.scalars(select(StoredSecret)).all() == []
        assert s.scalars(select(RepoConnection)).one().token_secret_id is None


def test_a_wrong_token_is_explained_with_a_try_again_button(
    harness: Harness, partner: None, github: GitHubEmulator, db: Database
) -> None:
    github.add_repo("pat/modules", MODULES)
    posted = submit(harness, open_form(harness, "connect"), {"token": typed("ghp_not-a-real-token")})
    assert "GitHub refused this token" in texts(posted) and "Nothing was stored." in texts(posted)
    (button,) = actions(posted)[0]["elements"]
    assert (decode_action_id(button["action_id"]), button["value"]) == (("connect:start", ""), "partner")
    assert button["text"]["text"] == "Try again" and button["style"] == "primary"
    with db.unit_of_work() as s:
        assert s.scalars(select(StoredSecret)).all() == [] and s.scalars(select(RepoConnection)).all() == []

    harness.click(button["action_id"], button["value"], **PAT)
    again = harness.emulator.wait_for("views.open", count=2)[-1].body["view"]
    assert again["callback_id"] == "connect:github" and "ghp_not-a-real-token" not in json.dumps(again)


def test_suggestions_are_refused_to_non_partners(
    harness: Harness, partner: None, github: GitHubEmulator
) -> None:
    github.add_repo("pat/modules", MODULES)
    submit(harness, open_form(harness, "connect"), {"token": typed(github.add_token("pat"))})
    mallory = harness.interact(harness.suggestion_body("opts:connect:repos", "connect:repo#0:partner", "",
                                                       user="UMAL", name="mallory"))
    assert mallory.json() == {"options": []}
    unknown = harness.interact(harness.suggestion_body("b1", "connect:repo#0:partner", "", **PAT))
    assert unknown.json() == {"options": []}


def test_socket_mode_slow_form_and_suggestions(harness: Harness, partner: None, github: GitHubEmulator) -> None:
    for n in range(120):
        github.add_repo(f"pat/repo-{n:03}", MODULES)
    view = open_form(harness, "connect")
    response = harness.socket(harness.submission_body(view, {"token": typed(github.add_token("pat"))}, **PAT))
    assert (response.status, response.body) == (200, "")
    posted = harness.emulator.wait_for("chat.postEphemeral", timeout=10)[0].body
    (block,) = actions(posted)
    (picker,) = block["elements"]
    found = harness.socket(harness.suggestion_body(block["block_id"], picker["action_id"], "REPO-11", **PAT))
    assert [o["value"] for o in json.loads(found.body)["options"]][:2] == ["pat/repo-110", "pat/repo-111"]


# -- the secret test ---------------------------------------------------------------------------------

def recorded(call: Call) -> str:
    return "\n".join((call.path, repr(call.body), repr(call.headers), call.raw.decode("utf-8", "replace")))


def test_secrets_never_reach_logs_slack_audit_or_database(
    harness: Harness, partner: None, github: GitHubEmulator, jules: JulesEmulator, db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    github.add_repo("pat/modules", MODULES)
    token, key = github.add_token("pat"), jules.add_key()
    jules.add_source("pat/modules")

    posted = submit(harness, open_form(harness, "connect"), {"token": typed(f"  {token}\n")})
    (block,) = actions(posted)
    (picker,) = block["elements"]
    assert picker["type"] == "static_select"
    chosen = {"type": "static_select", "block_id": "Slack-made",
              "selected_option": {"text": {"type": "plain_text", "text": "pat/modules"}, "value": "pat/modules"}}
    assert "Connected *pat/modules*" in texts(harness.reply(harness.interact(
        harness.action_body(picker["action_id"], **PAT, extra=chosen)), 2))
    jules_view = open_form(harness, "connect jules")
    assert jules_view["callback_id"] == "connect:jules"
    (key_input,) = [b for b in jules_view["blocks"] if b["type"] == "input"]
    assert "initial_value" not in key_input["element"]
    worked = submit(harness, jules_view, {"key": typed(key)})
    assert "The Jules key works" in texts(worked) and "Jules can work on *pat/modules*" in texts(worked)
    status = texts(harness.reply(harness.command("connect status", **PAT)))
    assert "registered" in status
    harness.settle()

    logs = "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    slack = "\n".join(recorded(c) for c in harness.emulator.calls())
    with db.unit_of_work() as s:
        audit = "\n".join(repr(vars(e)) for e in s.scalars(select(AuditEvent)))
    with db.engine.connect() as conn:
        dump = "\n".join(repr(row) for table in Base.metadata.sorted_tables for row in conn.execute(table.select()))
    assert caplog.records and "chat.postEphemeral" in slack and "connect.github" in audit
    for secret in (token, key):
        for name, haystack in (("logs", logs), ("Slack calls", slack), ("audit", audit), ("database", dump)):
            assert secret not in haystack, f"a secret reached the {name}"
    assert "github_token" in dump and "jules_key" in dump  # the dump did include the sealed secrets
