"""End to end through Slack: ``/rad deploy`` in modal steps, the confirmation, the Confirm click, then the deploy
worker (embedded Terraform) reporting through ``SlackMessenger``, all against the Slack emulator."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.slack.app import make_client
from bot.slack.elements import decode_action_id
from bot.slack.messenger import SlackMessenger
from core.accounts.identity import Caller, IdentityKey
from core.deployments.state import DatabaseStateStore
from core.deployments.status import DeploymentStatus
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from storage.db import Database
from storage.models import Base, CreditTransaction, Deployment, StoredSecret
from tests.emulators.slack import Call
from tests.integration.test_deploy_retry import Seen, retry_scenario
from tests.support.slack_support import Harness, emulator, harness, slack_runtime, texts

__all__ = ["emulator", "harness", "slack_runtime"]

UMA = {"user": "UUMA", "name": "uma"}
POOR = {"user": "UPOOR", "name": "poor"}
ROOM = "CDEPLOY1"
"""The channel the deploy command runs in (not the harness's default), so the worker's channel is traceable."""


@pytest.fixture
def platform(harness: Harness, db: Database, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The example modules published, Uma awarded 100 credits by an admin command, the embedded engine forced."""
    seed(db, harness.runtime.dispatcher.services, Caller(IdentityKey("console", "", "demo-admin"), "demo"))
    for who in (UMA, POOR):
        harness.reply(harness.command("whoami", **who))
    awarded = harness.reply(harness.command("admin credits <@UUMA|uma> award 100 welcome"))
    assert "100" in texts(awarded), texts(awarded)
    monkeypatch.setattr("bot.deploy_worker.find_engine", lambda cfg: EmbeddedEngine(plugin_cache_dir(cfg.data_dir)))
    return harness


def worker(harness: Harness) -> DeployWorker:
    """A deploy worker whose messenger is a Web API client pointed at the emulator."""
    return DeployWorker(harness.runtime, {"slack": SlackMessenger(make_client(harness.runtime.config))},
                        name="slack-test-worker")


# -- driving the modal steps -------------------------------------------------------------------------


def state_of(block: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """What Slack sends for an input block: the answer when given, else what the element shows already."""
    element, name = block["element"], block["block_id"]
    kind = element["type"]
    if kind == "static_select":
        chosen = next((o for o in element["options"] if o["value"] == answers.get(name)),
                      element.get("initial_option"))
        return {"type": kind, "selected_option": chosen}
    if kind == "checkboxes":
        return {"type": kind, "selected_options": element.get("initial_options", [])}
    return {"type": kind, "value": answers.get(name, element.get("initial_value"))}


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
        values = {b["block_id"]: state_of(b, answers) for b in view["blocks"] if b["type"] == "input"}
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
    body["actions"][0]["action_ts"] = stamp or f"{time.time():.6f}"
    return harness.interact(body)


def since(harness: Harness, mark: float, path: str) -> list[Call]:
    return [c for c in harness.emulator.calls(path) if c.at >= mark]


# -- the tests ---------------------------------------------------------------------------------------


def test_deploy_from_modal_to_result_in_the_thread(platform: Harness, db: Database) -> None:
    confirmation = fill(platform, open_modal(platform, "deploy network-plan", UMA), UMA, {"network_name": "lab"})
    assert confirmation["steps"] == ["Deploy network-plan", "Deploy network-plan"]
    shown = texts(confirmation)
    assert "Deploy network-plan?" in shown and "50 credits" in shown and "100 credits" in shown
    assert "`network_name` = \"lab\"" in shown
    assert set(buttons(confirmation)) == {"deploy:confirm", "deploy:discard"}

    queued = platform.reply(click(platform, confirmation, "deploy:confirm", UMA))
    assert queued["replace_original"] is True and "is queued" in texts(queued)
    mark = time.monotonic()
    assert worker(platform).run_once()

    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS and deployment.charged
        short = deployment.short_id
    status, reply = since(platform, mark, "chat.postMessage")
    assert status.body["channel"] == ROOM and "thread_ts" not in status.body
    updates = since(platform, mark, "chat.update")
    ts = updates[0].body["ts"]
    assert all((u.body["channel"], u.body["ts"]) == (ROOM, ts) for u in updates)
    steps = [texts(u.body) for u in updates]
    for step in ("init: running", "plan: running", "plan: done", "apply: running", "apply: done"):
        assert any(step in text for text in steps), (step, steps)
    assert "success" in steps[-1] and f"network-plan · {short}" in steps[-1]
    assert status.at < updates[0].at and updates[-1].at < reply.at

    assert (reply.body["channel"], reply.body["thread_ts"]) == (ROOM, ts)
    assert "<@UUMA>" in texts(reply.body) and "success" in texts(reply.body)
    assert "subnets" in texts(reply.body)
    [url] = since(platform, mark, "files.getUploadURLExternal")
    assert url.body["filename"] == f"deployment-{short}.log"
    [uploaded] = [c for c in platform.emulator.calls() if c.path.startswith("/upload/") and c.at >= mark]
    assert b"apply" in uploaded.raw and b"Apply complete" in uploaded.raw
    [done] = since(platform, mark, "files.completeUploadExternal")
    assert (done.body["channel_id"], done.body["thread_ts"]) == (ROOM, ts)
    assert reply.at < done.at


def test_a_double_click_on_confirm_is_one_deployment_and_one_hold(platform: Harness, db: Database) -> None:
    confirmation = fill(platform, open_modal(platform, "deploy network-plan", UMA), UMA)
    first = click(platform, confirmation, "deploy:confirm", UMA, stamp="1700000100.000001")
    second = click(platform, confirmation, "deploy:confirm", UMA, stamp="1700000100.000002")
    replies = [texts(platform.reply(a)) for a in (first, second)]
    assert replies[0] == replies[1] and "is queued" in replies[0]
    platform.settle()
    with db.unit_of_work() as s:
        assert len(s.scalars(select(Deployment)).all()) == 1
        kinds = [t.kind for t in s.scalars(select(CreditTransaction))]
        assert kinds.count("HOLD") == 1


def test_short_credits_say_how_many_before_the_form(platform: Harness, db: Database) -> None:
    refused = platform.reply(platform.command("deploy network-plan", channel=ROOM, **POOR))
    assert "credits short" in texts(refused) and "INSUFFICIENT" not in texts(refused)
    assert "No form was opened" in texts(refused) and "deploy:confirm" not in buttons(refused)
    assert platform.emulator.calls("views.open") == []  # no modal
    with db.unit_of_work() as s:
        assert s.scalars(select(Deployment)).all() == []


def recorded(call: Call) -> str:
    return "\n".join((call.path, repr(call.body), repr(call.headers), call.raw.decode("utf-8", "replace")))


def test_a_sensitive_input_never_reaches_slack_logs_or_the_database(
    platform: Harness, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"whsec-{secrets.token_hex(12)}"
    view = open_modal(platform, "deploy budget-alerts", UMA)
    confirmation = fill(platform, view, UMA, {"webhook_secret": secret})
    assert "`webhook_secret` = ••••••" in texts(confirmation)
    platform.reply(click(platform, confirmation, "deploy:confirm", UMA))
    assert worker(platform).run_once()
    platform.settle()

    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS and deployment.secret_inputs_id is not None
        assert s.get(StoredSecret, deployment.secret_inputs_id) is not None
        deployment_id = deployment.id
    state = DatabaseStateStore(db, platform.runtime.dispatcher.services.secrets, deployment_id).load()
    signature = hashlib.sha256(f"{secret}:100".encode()).hexdigest()
    assert state is not None and signature.encode() in state  # Terraform did get the secret; its state is kept
    assert not list((Path(platform.runtime.config.data_dir) / "runs").iterdir())  # and nothing of the run on disk

    logs = "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    slack = "\n".join(recorded(c) for c in platform.emulator.calls())
    with db.engine.connect() as conn:
        dump = "\n".join(repr(row) for table in Base.metadata.sorted_tables for row in conn.execute(table.select()))
    assert "chat.update" in slack and "files.completeUploadExternal" in slack and "deployment_inputs" in dump
    for name, haystack in (("logs", logs), ("Slack calls", slack), ("database", dump)):
        assert secret not in haystack, f"the secret reached the {name}"
    assert signature not in dump  # the state is sealed in the database


def test_a_status_message_slack_refused_at_first_is_posted_once_then_edited(platform: Harness) -> None:
    confirmation = fill(platform, open_modal(platform, "deploy network-plan", UMA), UMA)
    platform.reply(click(platform, confirmation, "deploy:confirm", UMA))
    platform.emulator.fail("chat.postMessage", "ratelimited", times=1)
    mark = time.monotonic()
    assert worker(platform).run_once()
    refused, status, reply = since(platform, mark, "chat.postMessage")
    assert "starting" in texts(refused.body) and "init: running" in texts(status.body)
    updates = since(platform, mark, "chat.update")
    ts = updates[0].body["ts"]
    assert {u.body["ts"] for u in updates} == {ts} and "success" in texts(updates[-1].body)
    assert reply.body["thread_ts"] == ts and "<@UUMA>" in texts(reply.body)


class SlackDoor:
    """The retry scenario's front door: signed requests to the real Bolt app, Uma clicking in ``ROOM``."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    @staticmethod
    def seen(message: dict[str, Any]) -> Seen:
        return Seen(texts(message), {name: message for name in buttons(message)})

    async def deploy(self, module: str, answers: dict[str, str]) -> Seen:
        return self.seen(fill(self.harness, open_modal(self.harness, f"deploy {module}", UMA), UMA, answers))

    async def click(self, seen: Seen, action_id: str, times: int = 1) -> list[Seen]:
        message = seen.buttons[action_id]
        answers = [click(self.harness, message, action_id, UMA, stamp=f"{time.time():.6f}{n}") for n in range(times)]
        return [self.seen({**self.harness.reply(a), "channel": ROOM}) for a in answers]

    async def show(self, short: str) -> Seen:
        return self.seen({**self.harness.reply(self.harness.command(f"deployment {short}", channel=ROOM, **UMA)),
                          "channel": ROOM})

    async def run_worker(self) -> Seen:
        mark = time.monotonic()
        assert worker(self.harness).run_once()
        *_, result = since(self.harness, mark, "chat.postMessage")
        assert result.body["thread_ts"]  # in the deployment's thread
        return self.seen(result.body)


async def test_retry_a_failed_create(platform: Harness, db: Database) -> None:
    await retry_scenario(SlackDoor(platform), db)
