"""Socket Mode over a real websocket: the production starter connects to the emulator and serves envelopes.

Closing takes up to 3 s (slack_sdk's client waits for its socket read to time out), hence few tests here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.slack.socket_mode import start_socket_mode, stop_socket_mode
from tests.emulators.slack_socket import envelope
from tests.support.slack_support import Harness, emulator, harness, slack_runtime, texts

__all__ = ["emulator", "harness", "slack_runtime"]


@pytest.fixture
def connected(harness: Harness) -> Iterator[SocketModeHandler]:
    handler = start_socket_mode(harness.app, "xapp-1-A1-test")
    yield handler
    stop_socket_mode(handler)


def test_connects_and_answers_a_slash_command(harness: Harness, connected: SocketModeHandler) -> None:
    (opened,) = harness.emulator.wait_for("apps.connections.open")
    assert opened.token == "xapp-1-A1-test"  # the app token, sent to SLACK_API_URL
    harness.emulator.wait_for("/socket-mode")
    assert connected.client.is_connected()

    body = harness.command_body("whoami")
    harness.emulator.socket_send(envelope("slash_commands", body, envelope_id="env-1"))
    (ack,) = harness.emulator.wait_for("/socket-mode/ack")
    assert ack.body["envelope_id"] == "env-1"
    hook = "/webhook/" + body["response_url"].rsplit("/", 1)[1]
    assert "Slack: <@UADMIN>" in texts(harness.emulator.wait_for(hook)[0].body)


def test_view_submission_errors_travel_back_in_the_ack(harness: Harness, connected: SocketModeHandler) -> None:
    harness.emulator.socket_send(envelope("slash_commands", harness.command_body("profile")))
    view = harness.emulator.wait_for("views.open")[0].body["view"]
    submitted = {**view, "id": "V1", "hash": "h", "state": {"values": {
        "display_name": {"display_name": {"type": "plain_text_input", "value": None}}}}}
    payload = {"type": "view_submission", "team": {"id": "T1"}, "trigger_id": "trig.sub",
               "user": {"id": "UADMIN", "username": "admin", "team_id": "T1"}, "view": submitted}
    harness.emulator.socket_send(envelope("interactive", payload, envelope_id="env-view"))
    acks = harness.emulator.wait_for("/socket-mode/ack", count=2)
    (answer,) = [a.body for a in acks if a.body["envelope_id"] == "env-view"]
    assert answer["payload"] == {"response_action": "errors", "errors": {"display_name": "Enter a name."}}
