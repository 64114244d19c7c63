"""Driving ``/rad deploy`` on Slack step by step (signed requests to the real Bolt app, the emulator's Web API),
for scenarios that need the raw Block Kit payloads (the plan review's buttons and files)."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.slack.app import make_client
from bot.slack.elements import decode_action_id
from bot.slack.messenger import SlackMessenger
from core.accounts.identity import Caller, IdentityKey
from storage.db import Database
from tests.emulators.slack import Call
from tests.support.engines import embedded_terraform
from tests.support.front_door import slack_state
from tests.support.slack_support import Harness, slack_stamp, texts

UMA = {"user": "UUMA", "name": "uma"}
POOR = {"user": "UPOOR", "name": "poor"}
ROOM = "CDEPLOY1"
"""The channel the deploy command runs in (not the harness's default), so the worker's channel is traceable."""


@pytest.fixture
def platform(harness: Harness, db: Database) -> Harness:
    """The example modules published, Uma awarded 100 credits by an admin command."""
    seed(db, harness.runtime.dispatcher.services, Caller(IdentityKey("console", "", "demo-admin"), "demo"))
    for who in (UMA, POOR):
        harness.reply(harness.command("whoami", **who))
    awarded = harness.reply(harness.command("admin credits <@UUMA|uma> award 100 welcome"))
    assert "100" in texts(awarded), texts(awarded)
    return harness


def worker(harness: Harness) -> DeployWorker:
    """A deploy worker on the embedded engine whose messenger is a Web API client pointed at the emulator."""
    return DeployWorker(harness.runtime, {"slack": SlackMessenger(make_client(harness.runtime.config))},
                        name="slack-test-worker", terraform=embedded_terraform)
# -- driving the modal steps -------------------------------------------------------------------------


def open_modal(harness: Harness, text: str, who: dict[str, str]) -> dict[str, Any]:
    """``/rad <text>`` in ``ROOM``; the modal it opened, validated by the SDK's Block Kit model."""
    before = len(harness.emulator.calls("views.open"))
    answer = harness.command(text, channel=ROOM, **who)
    assert (answer.status, answer.body) == (200, "")
    view: dict[str, Any] = harness.emulator.wait_for("views.open", count=before + 1)[-1].body["view"]
    View(**view).validate_json()
    return view


def fill(harness: Harness, view: dict[str, Any], who: dict[str, str],
         answers: dict[str, str] | None = None) -> dict[str, Any]:
    """Submit every step (``response_action: update`` in between); the private confirmation message."""
    answers = answers or {}
    before = len(harness.emulator.calls("chat.postEphemeral"))
    titles = []
    while True:
        titles.append(view["title"]["text"])
        values = {b["block_id"]: slack_state(b, answers) for b in view["blocks"] if b["type"] == "input"}
        answer = harness.interact(harness.submission_body(view, values, **who))
        assert answer.status == 200
        if not answer.body:
            break
        ack = answer.json()
        assert ack["response_action"] == "update", ack
        view = ack["view"]
        View(**view).validate_json()
    posted = harness.emulator.wait_for("chat.postEphemeral", count=before + 1, timeout=5)[-1].body
    assert (posted["channel"], posted["user"]) == (ROOM, who["user"])
    return {**posted, "steps": titles}


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's buttons by registered action id."""
    found = {}
    for block in message["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["type"] == "button":
                found[decode_action_id(element["action_id"])[0]] = element
    return found


def click(harness: Harness, message: dict[str, Any], action_id: str, who: dict[str, str], stamp: str = "") -> Any:
    """A click on the button ``action_id`` of the private message ``message`` (in ``ROOM``)."""
    element = buttons(message)[action_id]
    body = harness.action_body(element["action_id"], element["value"], user=who["user"], name=who["name"])
    body["channel"] = {"id": message["channel"], "name": "deploys"}
    body["container"]["channel_id"] = message["channel"]
    body["actions"][0]["action_ts"] = stamp or slack_stamp()
    return harness.interact(body)


def since(harness: Harness, mark: float, path: str) -> list[Call]:
    return [c for c in harness.emulator.calls(path) if c.at >= mark]

