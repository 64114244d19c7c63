"""End to end: modals, thread messages, files, errors and Socket Mode payloads."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.views import View

from commands.framework.context import Context
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ThreadMessage
from commands.ui.model import Reply
from core.accounts.identity import IdentityKey, find_user
from core.config import Config
from core.conversations import ConversationRef, bind_thread
from storage.db import Database
from storage.models import UserPreference
from tests.emulators.slack import SlackEmulator
from tests.support.slack_support import (
    ADMIN,
    CHANNEL,
    TEAM,
    THREAD,
    Harness,
    copy_registry,
    emulator,
    harness,
    running_harness,
    runtime_with,
    slack_config,
    slack_runtime,
    texts,
)

__all__ = ["emulator", "harness", "slack_runtime"]


@pytest.fixture
def custom(config: Config, db: Database, dispatcher: Dispatcher, emulator: SlackEmulator) -> Iterator[Harness]:
    """A harness over a test-local registry with a thread handler and a very long answer."""
    registry = copy_registry(dispatcher.registry)
    heard: list[str] = []

    @registry.thread("echo")
    def echo(ctx: Context, message: ThreadMessage) -> Reply:
        heard.append(message.text)
        return Reply(text=f"echo ({message.subject}): {message.text}", ephemeral=False)

    @registry.command("essay", "A very long answer")
    def essay(ctx: Context) -> Reply:
        return Reply(text="word " * 10_000, ephemeral=False)

    runtime = runtime_with(registry, db, slack_config(config, emulator))
    with db.unit_of_work() as session:
        bind_thread(session, ConversationRef("slack", TEAM, CHANNEL, thread=THREAD), "echo", "module net")
    with running_harness(runtime, emulator) as running:
        running.heard = heard  # type: ignore[attr-defined]
        yield running


# -- the profile modal --------------------------------------------------------------------------------

def submission(harness: Harness, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A view_submission payload for a view the bot opened, with the user's input."""
    state = {name: {name: value} for name, value in values.items()}
    submitted = {**view, "id": "V1", "hash": "1.abc", "team_id": TEAM, "state": {"values": state}}
    return {"type": "view_submission", "team": {"id": TEAM, "domain": "rad"},
            "user": {"id": ADMIN, "username": "admin", "name": "admin", "team_id": TEAM}, "api_app_id": "A1",
            "token": "legacy", "trigger_id": f"trig.{len(harness.emulator.calls())}", "view": submitted,
            "response_urls": []}


def open_profile(harness: Harness) -> dict[str, Any]:
    answer = harness.command("profile")
    assert (answer.status, answer.body) == (200, "")
    (opened,) = harness.emulator.wait_for("views.open")
    view: dict[str, Any] = opened.body["view"]
    assert opened.body["trigger_id"].startswith("trig.")
    View(**view).validate_json()
    return view


def test_profile_opens_a_modal_and_validates(harness: Harness, db: Database) -> None:
    view = open_profile(harness)
    assert view["callback_id"] == "profile:save"
    assert json.loads(view["private_metadata"]) == {"c": CHANNEL}
    empty = {"display_name": {"type": "plain_text_input", "value": None},
             "notify_deployments": {"type": "checkboxes", "selected_options": []},
             "notify_billing": {"type": "checkboxes", "selected_options": []}}
    answer = harness.interact(submission(harness, view, empty))
    assert answer.status == 200
    assert answer.json() == {"response_action": "errors", "errors": {"display_name": "Enter a name."}}


def test_profile_submission_saves_and_confirms_privately(harness: Harness, db: Database) -> None:
    view = open_profile(harness)
    checked = [{"text": {"type": "plain_text", "text": "Yes"}, "value": "true"}]
    values = {"display_name": {"type": "plain_text_input", "value": "Ada"},
              "notify_deployments": {"type": "checkboxes", "selected_options": checked},
              "notify_billing": {"type": "checkboxes", "selected_options": []}}
    answer = harness.interact(submission(harness, view, values))
    assert (answer.status, answer.body) == (200, "")
    (posted,) = harness.emulator.wait_for("chat.postEphemeral")
    assert (posted.body["channel"], posted.body["user"]) == (CHANNEL, ADMIN)
    assert "You are *Ada*" in texts(posted.body)
    with db.unit_of_work() as session:
        user = find_user(session, IdentityKey("slack", TEAM, ADMIN))
        assert user is not None and user.display_name == "Ada"
        prefs = session.get(UserPreference, user.id)
        assert prefs is not None and (prefs.notify_deployments, prefs.notify_billing) == (True, False)


# -- thread messages ---------------------------------------------------------------------------------

def test_rate_limited_post_is_retried(custom: Harness) -> None:
    custom.emulator.rate_limit("chat.postMessage", times=1, retry_after=0)
    custom.event(custom.event_body("again"))
    calls = custom.emulator.wait_for("chat.postMessage", count=2, timeout=5)
    assert [c.body["thread_ts"] for c in calls] == [THREAD, THREAD]


# -- files -------------------------------------------------------------------------------------------

def test_text_longer_than_slack_allows_is_attached(custom: Harness) -> None:
    reply = custom.reply(custom.command("essay"))
    assert "attached as `reply.txt`" in texts(reply)
    custom.emulator.wait_for("files.completeUploadExternal")
    (upload,) = [c for c in custom.emulator.calls() if c.path.startswith("/upload/")]
    assert upload.raw.decode() == "word " * 10_000


# -- errors ------------------------------------------------------------------------------------------

def test_unexpected_error_is_logged_with_an_id_the_user_sees(harness: Harness,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database on fire")

    harness.runtime.dispatcher.run_text = explode  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        reply = harness.reply(harness.command("help"))
    harness.settle()
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None)]
    assert f"error id `{record.error_id}`" in texts(reply)  # type: ignore[attr-defined]
    assert "database on fire" not in texts(reply)


def test_bolt_level_error_is_answered_with_an_id(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    def broken(ack: Any) -> None:
        raise RuntimeError("listener bug")

    harness.app.command("/boom")(broken)
    body = harness.command_body("x")
    body["command"] = "/boom"
    with caplog.at_level(logging.ERROR):
        answer = harness.post(urllib.parse.urlencode(body), "application/x-www-form-urlencoded")
    assert answer.status == 200 and "error id" in answer.body
    assert any(getattr(r, "error_id", None) for r in caplog.records)


def test_failing_submission_keeps_the_modal_open_with_an_error_id(harness: Harness) -> None:
    view = open_profile(harness)

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    harness.runtime.dispatcher.submit_form = explode  # type: ignore[method-assign]
    answer = harness.interact(submission(harness, view, {}))
    errors = answer.json()["errors"]
    assert answer.json()["response_action"] == "errors" and "error id" in errors["display_name"]


def test_slack_api_error_is_explained(harness: Harness) -> None:
    harness.emulator.fail("views.open", "expired_trigger_id")
    answer = harness.command("profile")
    reply = harness.reply(answer)
    assert "took too long" in texts(reply) and "error id" in texts(reply)


# -- Socket Mode -------------------------------------------------------------------------------------

def test_socket_mode_command_action_and_submission(harness: Harness) -> None:
    body = harness.command_body("help")
    response = harness.socket(dict(body))
    assert (response.status, response.body) == (200, "")
    hook = "/webhook/" + body["response_url"].rsplit("/", 1)[1]
    assert "RAD commands" in texts(harness.emulator.wait_for(hook)[0].body)

    click = harness.action_body("gone:away#0")
    assert harness.socket(click).status == 200
    hook = "/webhook/" + click["response_url"].rsplit("/", 1)[1]
    assert "no longer does anything" in texts(harness.emulator.wait_for(hook)[0].body)

    opened = harness.command_body("profile")
    harness.socket(opened)
    view = harness.emulator.wait_for("views.open")[0].body["view"]
    empty = {"display_name": {"type": "plain_text_input", "value": "  "}}
    answer = harness.socket(submission(harness, view, empty))
    assert answer.status == 200
    assert json.loads(answer.body)["errors"] == {"display_name": "Enter a name."}
