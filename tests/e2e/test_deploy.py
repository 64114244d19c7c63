"""End to end, through every front door: ``/rad deploy`` in form steps, the confirmation with the cost, the Confirm
click, then the deploy worker (embedded Terraform) reporting through the platform's messenger: a status message
edited as the run moves, the result in its thread with the log attached. Retries of a failed create run as one
scenario too (``tests/integration/test_deploy_retry.py``). What only one platform has stays in small tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.processes import messengers
from core.accounts.identity import Caller, IdentityKey
from core.deployments.state import DatabaseStateStore
from core.deployments.status import DeploymentStatus
from storage.db import Database
from storage.models import Base, CreditTransaction, Deployment, StoredSecret, utcnow
from tests.integration.test_deploy_retry import Seen, retry_scenario
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.engines import embedded_terraform
from tests.support.front_door import DiscordDoor, FrontDoor, Person, SlackDoor, door, door_registry
from tests.support.front_door import Reply as Shown
from tests.support.slack_support import emulator, harness, slack_runtime, texts

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

UMA, POOR = Person("uma"), Person("poor")


@pytest.fixture
async def platform(door: FrontDoor, db: Database, monkeypatch: pytest.MonkeyPatch) -> FrontDoor:
    """The example modules published, Uma awarded 100 credits by an admin command, the embedded engine forced."""
    await prepare(door, db, monkeypatch)
    return door


async def prepare(door: FrontDoor, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = door.harness.runtime  # type: ignore[attr-defined]
    await asyncio.to_thread(seed, db, runtime.dispatcher.services,
                            Caller(IdentityKey("console", "", "demo-admin"), "demo"))
    for who in (UMA, POOR):
        await door.command("whoami", user=who)
    awarded = await door.command("admin credits", {"user": UMA, "kind": "award", "amount": "100",
                                                   "reason": "welcome"})
    assert "Awarded 100 credits" in awarded.text, awarded.text


async def confirmation_of(door: FrontDoor, module: str, answers: dict[str, str] | None = None,
                          user: Person = UMA) -> tuple[Shown, list[str]]:
    """``/rad deploy <module>``, every form step submitted; the private confirmation and the steps' titles."""
    form = await door.open_form("deploy", {"module": module}, user=user)
    return await door.fill(form, answers or {}, user=user)


async def run_worker(door: FrontDoor) -> float:
    """One queued run by the real deploy worker, its chat posts through the platform's messenger; when it began."""
    runtime = door.harness.runtime  # type: ignore[attr-defined]
    found = messengers(runtime)
    mark = time.monotonic()
    try:
        assert await asyncio.to_thread(DeployWorker(runtime, found, name=f"{door.platform}-test-worker",
                                                          terraform=embedded_terraform).run_once)
    finally:
        for messenger in found.values():
            close = getattr(messenger, "close", None)  # the Discord messenger runs a loop of its own
            if close is not None:
                await asyncio.to_thread(close)
    return mark


@dataclass
class Story:
    """What the worker posted: the status message as first posted and then each edit, and the result."""

    status: list[Shown]
    result: Shown
    in_thread: bool  # the result is in the status message's thread


def story(door: FrontDoor, mark: float) -> Story:
    """The status message and the result the worker posted since ``mark``, read from the platform's emulator.

    A run of a deployment that already has a status message (a retry) only edits it.
    """
    if isinstance(door, SlackDoor):
        emulator = door.harness.emulator
        *posts, result = [c for c in emulator.calls("chat.postMessage") if c.at >= mark]
        status = posts[-1:] + [c for c in emulator.calls("chat.update") if c.at >= mark]
        shown = [door._as_reply(c.body, "", private=False) for c in status]
        for reply, call in zip(shown, status, strict=True):
            reply.at = call.at
        final = door._as_reply(result.body, "", private=False)
        final.at = result.at
        ts = status[-1].body["ts"]  # the edits name the message they edit
        return Story(shown, final, result.body.get("thread_ts") == ts)
    assert isinstance(door, DiscordDoor)
    return discord_story(door, mark)


def discord_story(door: DiscordDoor, mark: float) -> Story:
    found = door.harness.emulator
    *posts, result = [c for c in found.find("POST", r"/channels/\d+/messages") if c.at >= mark]
    status = posts[-1:] + [c for c in found.find("PATCH", r"/channels/\d+/messages/\d+") if c.at >= mark]
    shown = [door._as_reply(c.json, c.message, private=False, replaced=False) for c in status]
    for reply, call in zip(shown, status, strict=True):
        reply.at = call.at
    final = door._as_reply(result.json, result.response, private=False, replaced=False)
    final.at = result.at
    status_id = status[-1].path.rsplit("/", 1)[1]  # the last edit's path names the status message
    return Story(shown, final, result.path == f"/channels/{status_id}/messages")  # a thread's id is its message's


# -- the scenario --------------------------------------------------------------------------------------


async def test_deploy_from_the_form_to_the_result_in_the_thread(platform: FrontDoor, db: Database) -> None:
    door = platform
    confirmation, steps = await confirmation_of(door, "network-plan", {"network_name": "lab"})
    assert len(steps) == 2 and all(s.startswith("Deploy network-plan") for s in steps)
    if door.platform == "slack":  # one modal, updated in place for its second step
        assert steps == ["Deploy network-plan"] * 2
    card = confirmation.card("Deploy network-plan?")
    assert '`network_name` = "lab"' in card.text
    assert card.fields["Cost"] == "50 credits" and card.fields["Available"] == "100 credits"
    assert [b.action for b in confirmation.buttons] == ["deploy:confirm", "deploy:discard"]
    if door.platform == "discord":  # modal, a button opening the next (a modal cannot open one), modal, confirmation
        callbacks = door.harness.emulator.find("POST", r"/interactions/\d+/[^/]+/callback")  # type: ignore[attr-defined]
        kinds = [c.json["type"] for c in callbacks]
        assert kinds[-4:] == [9, 4, 9, 4]

    queued = await door.click(confirmation, "Confirm", user=UMA)
    assert queued.replaced and "is queued" in queued.text
    mark = await run_worker(door)
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS and deployment.charged
        short = deployment.short_id

    told = story(door, mark)
    steps = [reply.text for reply in told.status[1:]]
    for step in ("init: running", "plan: done", "apply: running", "apply: done"):
        assert any(step in text for text in steps), (step, steps)
    last = told.status[-1]
    shown = last.card(f"Deploying network-plan · {short}")
    assert shown.fields["Status"].endswith("success") and shown.fields["Owner"] == door.mention(UMA)
    assert told.status[0].at < told.status[1].at and told.status[-1].at < told.result.at
    assert told.in_thread, "the result is posted in the status message's thread"
    assert door.mention(UMA) in told.result.marked and "success" in told.result.text
    assert "Outputs" in told.result.titles and "subnets" in told.result.text
    log = door.files()[f"deployment-{short}.log"]
    assert b"apply" in log and b"Apply complete" in log

    if isinstance(door, SlackDoor):  # one status message in the channel, edited in place; the log after the result
        calls = door.harness.emulator
        status = next(c for c in calls.calls("chat.postMessage") if c.at >= mark)
        updates = [c for c in calls.calls("chat.update") if c.at >= mark]
        ts = updates[0].body["ts"]
        assert status.body["channel"] == sh.CHANNEL and "thread_ts" not in status.body
        assert all((u.body["channel"], u.body["ts"]) == (sh.CHANNEL, ts) for u in updates)
        assert any("plan: running" in texts(u.body) for u in updates)
        assert told.result.raw["channel"] == sh.CHANNEL
        [url] = [c for c in calls.calls("files.getUploadURLExternal") if c.at >= mark]
        assert url.body["filename"] == f"deployment-{short}.log"
        [done] = [c for c in calls.calls("files.completeUploadExternal") if c.at >= mark]
        assert (done.body["channel_id"], done.body["thread_ts"]) == (sh.CHANNEL, ts) and told.result.at < done.at
    else:  # edits of one message; a thread started on it, named by the outcome; the log attached to the result
        assert isinstance(door, DiscordDoor)
        found = door.harness.emulator
        [posted] = [c for c in found.find("POST", rf"/channels/{dh.CHANNEL_ID}/messages") if c.at >= mark]
        assert posted.message is not None
        message_id = posted.message["id"]
        edits = [c for c in found.find("PATCH", r"/channels/\d+/messages/\d+") if c.at >= mark]
        assert {e.path for e in edits} == {f"/channels/{dh.CHANNEL_ID}/messages/{message_id}"}
        assert last.card(f"Deploying network-plan · {short}").fields["Status"].endswith("success")
        [thread] = found.find("POST", r"/channels/\d+/messages/\d+/threads")
        assert thread.path == f"/channels/{dh.CHANNEL_ID}/messages/{message_id}/threads"
        assert thread.json["name"] == f"network-plan {short}: ✅ success."
        assert told.result.raw["embeds"][0]["title"] == "Outputs"
        assert [a["filename"] for a in told.result.raw["attachments"]] == [f"deployment-{short}.log"]


async def test_a_double_click_on_confirm_is_one_deployment_and_one_hold(platform: FrontDoor, db: Database) -> None:
    door = platform
    confirmation, _ = await confirmation_of(door, "network-plan")
    first, second = await door.double_click(confirmation, "Confirm", user=UMA)  # and a re-delivery, dropped
    assert first.text == second.text and "is queued" in first.text
    door.settle()
    with db.unit_of_work() as s:
        assert len(s.scalars(select(Deployment)).all()) == 1
        assert [t.kind for t in s.scalars(select(CreditTransaction))].count("HOLD") == 1


async def test_short_credits_say_how_many_before_the_form(platform: FrontDoor, db: Database) -> None:
    door = platform
    refused = await door.command("deploy", {"module": "network-plan"}, user=POOR)
    assert "credits short" in refused.text and "INSUFFICIENT" not in refused.text
    assert "Ask an admin or finance" in refused.text and "No form was opened" in refused.text
    assert "deploy:confirm" not in [b.action for b in refused.buttons]
    if isinstance(door, SlackDoor):  # no modal
        assert door.harness.emulator.calls("views.open") == []
    else:  # an answer at once, not a modal
        assert refused.raw["type"] == 4
    with db.unit_of_work() as s:
        assert s.scalars(select(Deployment)).all() == []


async def test_a_sensitive_input_never_reaches_the_platform_logs_or_the_database(
    platform: FrontDoor, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    door = platform
    caplog.set_level(logging.DEBUG)
    secret = f"whsec-{secrets.token_hex(12)}"
    confirmation, _ = await confirmation_of(door, "budget-alerts", {"webhook_secret": secret})
    assert "`webhook_secret` = ••••••" in confirmation.text
    assert "is queued" in (await door.click(confirmation, "Confirm", user=UMA)).text
    await run_worker(door)
    door.settle()

    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS and deployment.secret_inputs_id is not None
        assert s.get(StoredSecret, deployment.secret_inputs_id) is not None
        deployment_id, short = deployment.id, deployment.short_id
    runtime = door.harness.runtime  # type: ignore[attr-defined]
    state = DatabaseStateStore(db, runtime.dispatcher.services.secrets, deployment_id).load()
    signature = hashlib.sha256(f"{secret}:100".encode()).hexdigest()
    assert state is not None and signature.encode() in state  # Terraform did get the secret; its state is kept
    assert not list((Path(runtime.config.data_dir) / "runs").iterdir())  # and nothing of the run on disk

    logs = "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in caplog.records)
    sent = door.sent()
    with db.engine.connect() as conn:
        dump = "\n".join(repr(tuple(row)) for t in Base.metadata.sorted_tables for row in conn.execute(t.select()))
    assert "deployment_inputs" in dump and f"deployment-{short}.log" in door.files()
    assert f"deployment-{short}.log" in sent
    if door.platform == "slack":  # the status was edited, the log uploaded
        assert "chat.update" in sent and "files.completeUploadExternal" in sent
    else:
        assert "PATCH /channels/" in sent
    for name, haystack in (("logs", logs), ("chat platform", sent), ("database", dump)):
        assert secret not in haystack, f"the secret reached the {name}"
    assert signature not in dump  # the state is sealed in the database


class ScenarioDoor:
    """The retry scenario's door (``tests.integration.test_deploy_retry.Door``) over a front door, Uma clicking."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door

    @staticmethod
    def seen(reply: Shown) -> Seen:
        return Seen(reply.text, {b.action: (reply, b) for b in reply.buttons if b.action})

    async def deploy(self, module: str, answers: dict[str, str]) -> Seen:
        return self.seen((await confirmation_of(self.door, module, answers))[0])

    async def click(self, seen: Seen, action_id: str, times: int = 1) -> list[Seen]:
        reply, button = seen.buttons[action_id]
        if times == 1:
            return [self.seen(await self.door.press(reply, button, user=UMA))]
        assert times == 2
        return [self.seen(r) for r in await self.door.double_click(reply, button.label, user=UMA)]

    async def show(self, short: str) -> Seen:
        return self.seen(await self.door.command("deployment", {"id": short}, user=UMA))

    async def run_worker(self) -> Seen:
        told = story(self.door, await run_worker(self.door))
        assert told.in_thread, "the result is in the deployment's thread"
        return self.seen(told.result)

    async def direct_message(self) -> Seen:
        with self.door.worker(utcnow) as outbox:  # the outbox's posts, as a worker delivers them
            while await asyncio.to_thread(outbox.run_once):
                pass
        return self.seen(self.door.direct_messages(UMA)[-1])


async def test_retry_a_failed_create(platform: FrontDoor, db: Database) -> None:
    await retry_scenario(ScenarioDoor(platform), db)


# -- Slack only --------------------------------------------------------------------------------------------


@pytest.fixture
async def slack_platform(harness: sh.Harness, db: Database, monkeypatch: pytest.MonkeyPatch) -> SlackDoor:
    slack = SlackDoor(harness)
    await prepare(slack, db, monkeypatch)
    return slack


async def test_slack_a_status_message_refused_at_first_is_posted_once_then_edited(slack_platform: SlackDoor) -> None:
    """Slack can refuse a post (``ratelimited``): the status message is posted again, once, then edited."""
    slack = slack_platform
    confirmation, _ = await confirmation_of(slack, "network-plan")
    await slack.click(confirmation, "Confirm", user=UMA)
    slack.harness.emulator.fail("chat.postMessage", "ratelimited", times=1)
    mark = await run_worker(slack)
    refused, status, reply = [c for c in slack.harness.emulator.calls("chat.postMessage") if c.at >= mark]
    assert "starting" in texts(refused.body) and "init: running" in texts(status.body)
    updates = [c for c in slack.harness.emulator.calls("chat.update") if c.at >= mark]
    ts = updates[0].body["ts"]
    assert {u.body["ts"] for u in updates} == {ts} and "success" in texts(updates[-1].body)
    assert reply.body["thread_ts"] == ts and "<@UUMA>" in texts(reply.body)
