"""The HTTP front (health, metrics, routing), the Slack Messenger and the Socket Mode starter."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest
from slack_sdk.errors import SlackApiError

from bot.runtime import Runtime
from bot.slack.app import build_app, make_client
from bot.slack.messenger import SlackMessenger
from bot.slack.socket_mode import start_socket_mode
from bot.web import BackgroundServer, start_background
from commands.framework.dispatch import Dispatcher
from commands.ui.model import Attachment, Button, Card, Reply
from core.config import Config
from core.conversations import ConversationRef
from storage.db import Database
from tests.emulators.slack import SlackEmulator
from tests.support.slack_support import Harness, emulator, harness, running_harness, slack_config, slack_runtime, texts

__all__ = ["emulator", "harness", "slack_runtime"]


def test_healthz_checks_the_database(harness: Harness) -> None:
    answer = harness.get("/healthz")
    body = answer.json()
    assert (answer.status, body["status"], body["database"], body["front_doors"]) == (200, "ok", "ok", {"slack": "ok"})


@pytest.fixture
def unreachable(config: Config, dispatcher: Dispatcher) -> Iterator[BackgroundServer]:
    db = Database("postgresql://postgres@127.0.0.1:1/nothing")
    server = start_background(Runtime(config, db, dispatcher.registry, dispatcher), None)
    yield server
    server.stop()
    db.dispose()


def test_healthz_is_503_without_a_database(unreachable: BackgroundServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unreachable.url + "/healthz", timeout=10)
    assert refused.value.code == 503
    assert b'"database": "error"' in refused.value.read()
    with pytest.raises(urllib.error.HTTPError) as missing:  # no Slack app: no Slack route
        urllib.request.urlopen(urllib.request.Request(unreachable.url + "/slack/events", data=b"x"), timeout=10)
    assert missing.value.code == 404


def test_metrics_and_unknown_paths(harness: Harness) -> None:
    harness.command("help")
    assert harness.get("/nowhere").status == 404
    metrics = harness.get("/metrics")
    assert metrics.status == 200
    assert 'rad_http_requests_total{route="/slack/events",status="200"}' in metrics.body
    assert 'rad_http_requests_total{route="other",status="404"}' in metrics.body


def test_background_server_stops_and_frees_its_port(slack_runtime: Runtime) -> None:
    server = start_background(slack_runtime, None)
    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as answer:
        assert answer.status == 200
    server.stop()
    assert not server.thread.is_alive()
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/healthz", timeout=2)


# -- Messenger ---------------------------------------------------------------------------------------

@pytest.fixture
def messenger(config: Config, emulator: SlackEmulator) -> SlackMessenger:
    return SlackMessenger(make_client(slack_config(config, emulator)))


def test_messenger_posts_in_a_thread_and_edits(messenger: SlackMessenger, emulator: SlackEmulator) -> None:
    where = ConversationRef("slack", "T1", "C5", thread="1700000000.000100")
    posted = messenger.post(where, Reply(text="Deploying *net*…", actions=(Button("Cancel", "deploy:cancel", "9"),)))
    (call,) = emulator.calls("chat.postMessage")
    assert (call.body["channel"], call.body["thread_ts"]) == ("C5", "1700000000.000100")
    assert call.body["blocks"][1]["elements"][0]["action_id"] == "deploy:cancel#0"
    assert posted.message and posted.thread == where.thread

    messenger.edit(posted, Reply(text="Deployed *net*."))
    (update,) = emulator.calls("chat.update")
    assert (update.body["channel"], update.body["ts"]) == ("C5", posted.message)
    assert "Deployed *net*." in texts(update.body)


def test_messenger_retries_on_429_and_uploads_files(messenger: SlackMessenger, emulator: SlackEmulator) -> None:
    emulator.rate_limit("chat.postMessage", times=1, retry_after=0)
    where = ConversationRef("slack", "T1", "C5")
    messenger.post(where, Reply(text="Revenue digest", attachments=(Attachment("digest.csv", b"a,b\n", "text/csv"),)))
    assert len(emulator.calls("chat.postMessage")) == 2
    (done,) = emulator.calls("files.completeUploadExternal")
    assert done.body["channel_id"] == "C5"


def test_messenger_splits_a_long_reply(messenger: SlackMessenger, emulator: SlackEmulator) -> None:
    cards = tuple(Card(title=f"card {n}", text="x") for n in range(40))
    messenger.post(ConversationRef("slack", "T1", "C5"), Reply(cards=cards))
    assert len(emulator.calls("chat.postMessage")) == 3


def test_messenger_raises_on_slack_errors(messenger: SlackMessenger, emulator: SlackEmulator) -> None:
    emulator.fail("chat.postMessage", "not_in_channel")
    with pytest.raises(SlackApiError):
        messenger.post(ConversationRef("slack", "T1", "C5"), Reply(text="hi"))


# -- Socket Mode -------------------------------------------------------------------------------------

def test_socket_mode_needs_an_app_token(slack_runtime: Runtime) -> None:
    app = build_app(slack_runtime, client=make_client(slack_runtime.config))
    with pytest.raises(ValueError, match="SLACK_APP_TOKEN"):
        start_socket_mode(app, "")


def test_app_without_signing_secret_refuses_http(slack_runtime: Runtime, emulator: SlackEmulator) -> None:
    runtime = Runtime(replace(slack_runtime.config, slack_signing_secret=""), slack_runtime.db,
                      slack_runtime.registry, slack_runtime.dispatcher)
    with running_harness(runtime, emulator) as running:
        body = urllib.parse.urlencode(running.command_body("help"))
        stamp = str(int(time.time()))
        empty_key = hmac.new(b"", f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {"X-Slack-Signature": f"v0={empty_key}"}
        answer = running.post(body, "application/x-www-form-urlencoded", signed=False, timestamp=int(stamp),
                              headers=headers)
        assert answer.status == 401
