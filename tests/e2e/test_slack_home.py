"""End to end through Slack: the App Home tab.

Opening the tab (an ``app_home_opened`` event through the real Bolt app) publishes the user's credits,
deployments and pinned modules with their buttons; a change (a pin, a credit award, a deployment) is published
again once per burst, by the worker after the change's commit, and only to people who opened the tab; the Home
tab's buttons work like a message's (forms open as modals, replies go to a direct message).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.slack.app import make_client
from bot.slack.elements import decode_action_id
from bot.slack.messenger import SlackMessenger
from bot.worker import Worker
from core import home
from core.accounts.identity import Caller, IdentityKey
from storage.db import Database
from storage.models import ChatIdentity, Deployment, DeploymentStatus, HomeTab, Job, utcnow
from tests.emulators.slack import Call
from tests.support.engines import embedded_terraform
from tests.support.front_door import slack_state
from tests.support.slack_support import Harness, emulator, harness, slack_runtime, texts

__all__ = ["emulator", "harness", "slack_runtime"]

UMA = {"user": "UUMA", "name": "uma"}
BOB = {"user": "UBOB", "name": "bob"}


@pytest.fixture
def platform(harness: Harness, db: Database) -> Harness:
    """The example modules published; Uma and Bob registered, Uma awarded 100 credits and pinning network-plan."""
    seed(db, harness.runtime.dispatcher.services, Caller(IdentityKey("console", "", "demo-admin"), "demo"))
    for who in (UMA, BOB):
        harness.reply(harness.command("whoami", **who))
    harness.reply(harness.command("admin credits <@UUMA|uma> award 100 welcome"))
    assert "pinned" in texts(harness.reply(harness.command("pin network-plan", **UMA)))
    run_jobs(harness)  # the award's direct message
    return harness


def run_jobs(harness: Harness, later: timedelta = timedelta(seconds=5)) -> int:
    """Run every job due ``later`` from now (past the Home refresh's debounce); how many ran."""
    clock: Callable[[], datetime] = lambda: utcnow() + later  # noqa: E731
    worker = Worker(harness.runtime, {"slack": SlackMessenger(make_client(harness.runtime.config))}, clock=clock)
    ran = 0
    while worker.run_once():
        ran += 1
    return ran


def publishes(harness: Harness, user: str) -> list[Call]:
    return [c for c in harness.emulator.calls("views.publish") if c.body.get("user_id") == user]


def open_home(harness: Harness, who: dict[str, str]) -> dict[str, Any]:
    """``who`` opens the Home tab; the view Slack was asked to publish, validated by the SDK's model."""
    before = len(publishes(harness, who["user"]))
    assert harness.open_home(user=who["user"]).status == 200
    harness.settle()
    found = publishes(harness, who["user"])
    assert len(found) == before + 1, "opening the tab publishes it once"
    view: dict[str, Any] = found[-1].body["view"]
    View(**view).validate_json()
    return view


def home_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"] if e["type"] == "button"]


def button(view: dict[str, Any], action_id: str, value: str = "") -> dict[str, Any]:
    """The Home's button dispatching ``action_id`` (with ``value`` when given)."""
    for element in home_buttons(view):
        if decode_action_id(element["action_id"])[0] == action_id and value in (element.get("value", ""), ""):
            return element
    raise AssertionError(f"no {action_id} button on the Home tab")


def click_home(harness: Harness, view: dict[str, Any], action_id: str, value: str = "",
               who: dict[str, str] = UMA) -> None:
    body = harness.home_action_body(button(view, action_id, value), user=who["user"], name=who["name"])
    assert harness.interact(body).status == 200
    harness.settle()


def current_home(harness: Harness, who: dict[str, str] = UMA) -> str:
    shown = harness.emulator.home(who["user"])
    assert shown is not None
    return texts(shown)


def test_opening_home_shows_credits_deployments_and_pins_with_buttons(platform: Harness, db: Database) -> None:
    view = open_home(platform, UMA)
    shown = texts(view)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert "Credits" in shown and "100 credits" in shown, shown
    assert "Deployments (0)" in shown and "deploy" in shown
    assert "Pinned modules (1)" in shown and "network-plan" in shown
    labels = {decode_action_id(e["action_id"])[0]: e["text"]["text"] for e in home_buttons(view)}
    assert labels == {"deploy:pick": "Deploy", "modules:show": "Details", "modules:pin": "Unpin"}
    with db.unit_of_work() as s:
        [tab] = s.scalars(select(HomeTab)).all()
        assert s.get_one(ChatIdentity, tab.identity_id).external_id == "UUMA"
    assert platform.open_home(user="UUMA", tab="messages").status == 200  # the Messages tab: nothing to publish
    platform.settle()
    assert len(publishes(platform, "UUMA")) == 1


def test_a_burst_of_changes_republishes_the_home_once(platform: Harness, db: Database) -> None:
    open_home(platform, UMA)
    platform.reply(platform.command("pin static-site", **UMA))
    platform.reply(platform.command("unpin network-plan", **UMA))
    platform.reply(platform.command("admin credits <@UUMA|uma> award 25 bonus"))
    platform.reply(platform.command("pin data-bucket", **BOB))  # Bob never opened his Home tab
    with db.unit_of_work() as s:
        assert [j.payload for j in s.scalars(select(Job).where(Job.kind == home.KIND))] == [{"user_id": _id(s, UMA)}]
    assert run_jobs(platform, timedelta(0)) >= 1  # the award's direct message is due now...
    assert len(publishes(platform, "UUMA")) == 1  # ...the refresh only after its debounce
    run_jobs(platform)
    assert len(publishes(platform, "UUMA")) == 2 and publishes(platform, "UBOB") == []
    shown = current_home(platform)
    assert "static-site" in shown and "network-plan" not in shown and "125 credits" in shown
    assert run_jobs(platform) == 0  # nothing more queued


def _id(session: Session, who: dict[str, str]) -> int:
    return session.scalars(select(ChatIdentity.user_id).where(ChatIdentity.external_id == who["user"])).one()


def test_unpin_on_the_home_tab_refreshes_it_and_sends_no_listing(platform: Harness) -> None:
    view = open_home(platform, UMA)
    messages = len(platform.emulator.calls("chat.postMessage"))
    click_home(platform, view, "modules:pin")
    assert len(platform.emulator.calls("chat.postMessage")) == messages  # no modules listing in a DM
    run_jobs(platform)
    assert len(publishes(platform, "UUMA")) == 2
    assert "Pinned modules (0)" in current_home(platform) and "network-plan" not in current_home(platform)


def test_details_from_the_home_tab_arrive_in_a_direct_message(platform: Harness) -> None:
    view = open_home(platform, UMA)
    before = len(platform.emulator.calls("chat.postMessage"))
    click_home(platform, view, "modules:show")
    posted = platform.emulator.wait_for("chat.postMessage", count=before + 1)[-1].body
    assert str(posted["channel"]).startswith("D") and "network-plan" in texts(posted)


def deploy_from_home(platform: Harness, db: Database) -> str:
    """Uma clicks Deploy on her Home tab, fills the modal and confirms in the DM; the queued deployment's id."""
    view = open_home(platform, UMA)
    opened = len(platform.emulator.calls("views.open"))
    click_home(platform, view, "deploy:pick", "network-plan")
    modal: dict[str, Any] = platform.emulator.wait_for("views.open", count=opened + 1)[-1].body["view"]
    assert modal["type"] == "modal" and "network-plan" in modal["title"]["text"]

    before = len(platform.emulator.calls("chat.postMessage"))
    while True:  # every step of the form; the confirmation has no channel to go to but the DM
        values = {b["block_id"]: slack_state(b, {"network_name": "lab"})
                  for b in modal["blocks"] if b["type"] == "input"}
        answer = platform.interact(platform.submission_body(modal, values, **UMA))
        assert answer.status == 200
        if not answer.body:
            break
        modal = answer.json()["view"]
    confirmation = platform.emulator.wait_for("chat.postMessage", count=before + 1, timeout=5)[-1].body
    assert str(confirmation["channel"]).startswith("D") and "50 credits" in texts(confirmation)
    [confirm] = [e for b in confirmation["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if decode_action_id(e["action_id"])[0] == "deploy:confirm"]
    body = platform.action_body(confirm["action_id"], confirm["value"], user=UMA["user"], name=UMA["name"])
    body["channel"] = {"id": confirmation["channel"], "name": "directmessage"}
    stamp = platform.emulator.messages(str(confirmation["channel"]))[-1]["ts"]
    body["container"] = {"type": "message", "message_ts": stamp, "channel_id": confirmation["channel"],
                         "is_ephemeral": False}
    assert platform.interact(body).status == 200
    platform.settle()
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.QUEUED
        return deployment.short_id


def test_deploy_from_the_home_tab_then_the_home_shows_it_and_cancel_works(platform: Harness, db: Database) -> None:
    short = deploy_from_home(platform, db)
    run_jobs(platform)
    assert len(publishes(platform, "UUMA")) == 2, "the deploy (its hold and its row) is one refresh"
    refreshed = platform.emulator.home("UUMA")
    assert refreshed is not None
    shown = texts(refreshed)
    assert f"network-plan · {short}" in shown and "queued" in shown and "50 credits" in shown  # 50 held

    click_home(platform, refreshed, "deployment:cancel", short)
    with db.unit_of_work() as s:
        assert s.scalars(select(Deployment)).one().status == DeploymentStatus.CANCELLED
    notice = platform.emulator.calls("chat.postMessage")[-1].body
    assert "cancelled" in texts(notice) and str(notice["channel"]).startswith("D")
    run_jobs(platform)
    assert len(publishes(platform, "UUMA")) == 3
    assert "Deployments (0)" in current_home(platform)


def test_a_first_contact_on_the_home_tab_registers_and_publishes_once(platform: Harness, db: Database) -> None:
    platform.reply(platform.command("admin settings signup_credits 10"))
    view = open_home(platform, {"user": "UNEW", "name": "new"})
    assert "10 credits" in texts(view)  # registered on first contact, with the sign-up credits
    run_jobs(platform)
    assert len(publishes(platform, "UNEW")) == 1, "the sign-up is already on the published Home"


def test_socket_mode_delivers_the_home_tab_event_too(platform: Harness) -> None:
    platform.socket(platform.home_opened_body(user="UUMA"))
    platform.settle()
    [published] = publishes(platform, "UUMA")
    assert "network-plan" in texts(published.body["view"])


def test_the_deploy_worker_finishing_a_run_republishes_the_home(platform: Harness, db: Database) -> None:
    short = deploy_from_home(platform, db)
    run_jobs(platform)
    assert "queued" in current_home(platform)
    messenger = SlackMessenger(make_client(platform.runtime.config))
    assert DeployWorker(platform.runtime, {"slack": messenger}, name="home-test-worker",
                        terraform=embedded_terraform).run_once()
    with db.unit_of_work() as s:
        assert s.scalars(select(Deployment)).one().status == DeploymentStatus.SUCCESS
    run_jobs(platform)
    assert len(publishes(platform, "UUMA")) == 3, "the run (working, then success and its spend) is one publish"
    shown = current_home(platform)
    assert f"network-plan · {short}" in shown and "success" in shown
    assert "50 credits (0 purchased)" in shown  # 100 awarded, 50 spent
