"""End to end, through every front door: connect a repository of 20 modules, publish some with ``/rad publish``
(ticks, search, pages, a double click on Publish), then browse them with ``/rad modules`` (tabs, pins).

The same story runs against Slack (signed requests into the real Bolt app) and Discord (interactions fed to the
real discord.py client), with the GitHub emulator behind both. What only one platform has stays in small tests
at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEvent, Deployment, Module, utcnow
from storage.models.states import DeploymentStatus
from tests.emulators.github import GitHubEmulator
from tests.support import slack_support as sh
from tests.support.front_door import (
    ADMIN,
    FrontDoor,
    Person,
    Reply,
    SlackDoor,
    discord_buttons,
    door,
    door_registry,
    slack_cards,
)
from tests.support.sample_repository import BROKEN, repository_files
from tests.support.slack_support import emulator, harness, slack_runtime, texts
from tests.unit.test_slack_render import check_message

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

PAT, MALLORY, SAM = Person("pat"), Person("mallory"), Person("sam")
TABS = ["Platform", "Partner", "📌 Pinned", "All"]
BOLD = {"slack": "*{}*", "discord": "**{}**"}


def bold(door: FrontDoor, text: str) -> str:
    """``text`` in bold as the platform writes it."""
    return BOLD[door.platform].format(text)


async def connect(door: FrontDoor, github: GitHubEmulator) -> None:
    """Pat becomes a partner and connects ``pat/modules`` through the token form and the repository picker."""
    github.add_repo("pat/modules", repository_files())
    assert "is now a partner" in (await door.command("admin grant", {"user": PAT, "role": "partner"})).text
    answer = await door.submit(await door.open_form("connect", user=PAT), {"token": github.add_token("pat")},
                               user=PAT)
    chosen = await door.choose(answer, "pat/modules", user=PAT)
    assert chosen.waited, "a slow action: a placeholder or a deferral first, GitHub is asked with no transaction"
    assert f"Connected {bold(door, 'pat/modules')}" in chosen.marked


def validate_everything(harness: sh.Harness) -> None:
    """Every message and modal the bot sent to the Slack emulator, against Block Kit (slack_sdk's models)."""
    harness.settle()
    for call in harness.emulator.calls():
        if "blocks" in call.body:
            check_message(call.body)
        if isinstance(call.body.get("view"), dict):
            View(**call.body["view"]).validate_json()


@pytest.fixture
async def connected(door: FrontDoor, github: GitHubEmulator) -> AsyncIterator[FrontDoor]:
    """The door, with Pat a partner whose ``pat/modules`` is connected; Slack's payloads checked at the end."""
    await connect(door, github)
    yield door
    if isinstance(door, SlackDoor):  # Discord's calls are checked against its API description by the door
        validate_everything(door.harness)


async def open_publish(door: FrontDoor) -> Reply:
    """``/rad publish``: a private wait at once (the scan is slow), then the first page in its place."""
    page = await door.command("publish", user=PAT)
    assert page.waited and page.private
    return page


def syncs(db: Database) -> int:
    with db.unit_of_work() as s:
        return len(s.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.sync")).all())


def published(door: FrontDoor, reply: Reply, lead: str, names: str) -> None:
    """``reply`` is the result of a publish: ``lead`` and the module names, nothing else to click."""
    line = f"{bold(door, lead)} {names}"
    assert reply.replaced and reply.marked.startswith(line), reply.marked
    assert reply.cards == [] and reply.buttons == [] and reply.selects == []
    if door.platform == "discord":  # the whole message; Slack adds a fallback text of its own
        assert reply.marked == line


# -- the scenario --------------------------------------------------------------------------------------


async def test_publish_ticks_searches_pages_and_publishes_once(connected: FrontDoor, db: Database) -> None:
    door = connected
    first = await open_publish(door)
    assert bold(door, "20 module folders") in first.marked and "page 1 of 3" in first.text
    assert first.titles == [f"mod-{n:02}" for n in range(8)]
    assert first.card("mod-00").fields["State"] == "🆕 new" and first.card("mod-00").text == "The mod-00 module"
    broken = first.card(BROKEN)
    assert broken.fields["State"] == "⚠️ invalid" and "main.tf" in broken.text and "line 2" in broken.text
    picker = first.select()
    assert picker.multi and picker.options == [f"mod-{n:02}" for n in range(8) if n != 3] and picker.chosen == []
    assert first.button("Publish").label == "Publish (0 selected)"
    if door.platform == "slack":  # Block Kit: the select, the search box (an input block), then the buttons
        assert [b["type"] for b in first.raw["blocks"][-3:]] == ["actions", "input", "actions"]

    ticked = await door.pick(first, ["mod-00", "mod-01"], user=PAT)
    assert ticked.replaced and ticked.select().chosen == ["mod-00", "mod-01"]
    assert ticked.card("mod-01").fields["State"] == "🆕 new – selected"
    assert "selected" not in ticked.card("mod-02").fields["State"]
    assert ticked.button("Publish").label == "Publish (2 selected)"

    found = await door.search(ticked, "mod-1", shows="", user=PAT)
    assert found.replaced and "10 matching `mod-1`" in found.text and "page 1 of 2" in found.text
    assert found.titles == [f"mod-{n}" for n in range(10, 18)]
    found = await door.pick(found, ["mod-12"], user=PAT)
    second = await door.click(found, "Next", user=PAT)
    assert second.replaced and second.titles == ["mod-18", "mod-19"] and "page 2 of 2" in second.text
    second = await door.pick(second, ["mod-19"], user=PAT)
    assert second.button("Publish").label == "Publish (4 selected)"

    everything = await door.search(second, "", shows="mod-1", user=PAT)  # the box shows the last search
    assert "page 1 of 3" in everything.text and "matching" not in everything.text
    assert everything.select().chosen == ["mod-00", "mod-01"], "ticks on other pages and searches are kept"
    middle = await door.click(everything, "Next", user=PAT)
    assert middle.titles == [f"mod-{n:02}" for n in range(8, 16)] and middle.select().chosen == ["mod-12"]
    assert middle.button("◀ Previous").key.endswith(":1")

    for result in await door.double_click(middle, "Publish", user=PAT):  # and a re-delivery, which is dropped
        published(door, result, "Published:", "`mod-00`, `mod-01`, `mod-12`, `mod-19`")
    assert syncs(db) == 1
    with db.unit_of_work() as s:
        modules = {m.name: m for m in s.scalars(select(Module))}
        assert sorted(modules) == ["mod-00", "mod-01", "mod-12", "mod-19"]
        assert modules["mod-12"].repository == "pat/modules" and modules["mod-12"].credit_cost == 12


async def test_published_modules_come_ticked_and_unticking_removes_them(connected: FrontDoor, db: Database) -> None:
    door = connected
    ticked = await door.pick(await open_publish(door), ["mod-02"], user=PAT)
    published(door, await door.click(ticked, "Publish", user=PAT), "Published:", "`mod-02`")
    again = await open_publish(door)
    assert again.card("mod-02").fields["State"] == "✅ published – selected" and again.select().chosen == ["mod-02"]
    assert again.button("Update").label == "Update (1 selected)"
    if door.platform == "discord":  # a Discord multi-select must say it may be emptied
        assert again.select().raw["min_values"] == 0
    cleared = await door.pick(again, [], user=PAT)
    assert cleared.select().chosen == [] and cleared.button("Publish").label == "Publish (0 selected)"
    published(door, await door.click(cleared, "Publish", user=PAT), "Removed:", "`mod-02`")
    with db.unit_of_work() as s:
        assert s.scalars(select(Module)).all() == []
    assert syncs(db) == 2


def live_deployment(db: Database, module: str) -> None:
    """A successful deployment of ``module`` (as the worker leaves one): it keeps running after a removal."""
    with db.unit_of_work() as s:
        found = s.scalars(select(Module).where(Module.name == module)).one()
        s.add(Deployment(short_id="live", module_id=found.id, module_name=module, owner_id=found.owner_id,
                         status=DeploymentStatus.SUCCESS, commit=found.commit, created_at=utcnow()))


async def test_unticking_a_module_with_live_deployments_asks_first(connected: FrontDoor, db: Database) -> None:
    door = connected
    ticked = await door.pick(await open_publish(door), ["mod-02"], user=PAT)
    published(door, await door.click(ticked, "Publish", user=PAT), "Published:", "`mod-02`")
    live_deployment(db, "mod-02")
    cleared = await door.pick(await open_publish(door), [], user=PAT)
    asked = await door.click(cleared, "Publish", user=PAT)
    assert asked.replaced and "Publishing removes `mod-02` (1 live deployment) from the catalog." in asked.text
    remove, back = asked.button("Remove"), asked.button("Back")
    assert (remove.label, remove.style) == ("Remove and publish", "danger") and "publish:remove" in remove.key
    assert back.label == "Back to the list" and "publish:page" in back.key
    with db.unit_of_work() as s:
        assert [m.name for m in s.scalars(select(Module))] == ["mod-02"], "asked first: nothing removed yet"
    published(door, await door.click(asked, "Remove and publish", user=PAT), "Removed:", "`mod-02`")
    with db.unit_of_work() as s:
        assert s.scalars(select(Module)).all() == []


async def publish_three(door: FrontDoor) -> None:
    ticked = await door.pick(await open_publish(door), ["mod-00", "mod-05", "mod-07"], user=PAT)
    published(door, await door.click(ticked, "Publish", user=PAT), "Published:", "`mod-00`, `mod-05`, `mod-07`")


async def test_modules_tabs_update_in_place_and_pins_come_first(connected: FrontDoor) -> None:
    door = connected
    await publish_three(door)

    listing = await door.command("modules", user=PAT)
    assert listing.private and not listing.replaced
    assert f"{bold(door, 'All modules')} – 3 modules," in listing.marked
    assert listing.titles == ["mod-00", "mod-05", "mod-07"] and listing.card("mod-05").fields["Credit cost"] == "5"
    tabs = listing.buttons[-4:]
    assert [b.label for b in tabs] == TABS and [b.style for b in tabs] == ["default"] * 3 + ["primary"]
    if door.platform == "discord":  # Discord shows buttons below all of a message's embeds: the tabs come alone
        assert [b.label for b in discord_buttons(listing.parts[-1], None)] == TABS

    partner = await door.click(listing, "Partner", user=PAT)
    assert partner.replaced and bold(door, "Partner modules") in partner.marked
    assert partner.titles == ["mod-00", "mod-05", "mod-07"]
    platform = await door.click(partner, "Platform", user=PAT)
    assert platform.replaced and "0 modules," in platform.text and platform.titles == []

    pin = [b for b in partner.buttons if b.label == "📌 Pin"][-1]  # mod-07's
    assert pin.key.endswith(":partner:1:")
    if door.platform == "discord":  # a card with buttons ends its message, so they are the card's own
        assert [b.label for b in partner.card("mod-07").buttons] == ["🚀 Deploy", "Details", "📌 Pin"]
    pinned = await door.press(partner, pin, user=PAT)
    assert pinned.replaced and bold(door, "Partner modules") in pinned.marked
    assert pinned.titles == ["📌 mod-07", "mod-00", "mod-05"], "pinned first"
    assert pinned.button("Unpin").key == pin.key

    only = await door.click(pinned, "📌 Pinned", user=PAT)
    assert only.replaced and only.titles == ["📌 mod-07"]
    unpinned = await door.click(only, "Unpin", user=PAT)
    assert unpinned.titles == [] and "Pin a module with its 📌 button" in unpinned.text

    details = await door.command("module", {"module": "mod-05"}, user=PAT)
    assert details.titles == ["mod-05", "Inputs", "Outputs"]
    assert details.card("mod-05").fields["Commit"].startswith("`")
    assert f"`size` (number) {bold(door, 'required')}" in details.marked
    assert "`size` (number) required" in details.card("Inputs").text
    if door.platform == "discord":  # the card's own buttons (see above)
        assert [b.label for b in details.card("mod-05").buttons] == ["🚀 Deploy", "📌 Pin"]


async def test_nobody_else_can_use_the_publish_list(connected: FrontDoor, db: Database) -> None:
    door = connected
    page = await open_publish(door)
    assert "is now a partner" in (await door.command("admin grant", {"user": SAM, "role": "partner"})).text
    for who, refusal in ((MALLORY, "Only partners can use this button."),
                         (ADMIN, "This publish list belongs to someone else."),
                         (SAM, "This publish list belongs to someone else.")):
        refused = await door.click(page, "Publish", user=who)
        assert refusal in refused.text and refused.private and not refused.replaced, who
        assert door.clicked_now(refused).titles == page.titles, "the page is left as it was"
    assert syncs(db) == 0


# -- Slack only --------------------------------------------------------------------------------------------


@pytest.fixture
async def slack_connected(harness: sh.Harness, github: GitHubEmulator) -> AsyncIterator[SlackDoor]:
    slack = SlackDoor(harness)
    await connect(slack, github)
    yield slack
    validate_everything(harness)
    slack.check()


async def test_slack_a_pin_clicked_through_socket_mode_updates_the_listing(slack_connected: SlackDoor) -> None:
    """Socket Mode delivers the same click as HTTP does, and its answer goes to the response_url too."""
    slack = slack_connected
    await publish_three(slack)
    partner = await slack.click(await slack.command("modules", user=PAT), "Partner", user=PAT)
    pin = [b for b in partner.buttons if b.label == "📌 Pin"][-1]
    body = slack.harness.action_body(pin.id, pin.value, user="UPAT", name="pat")
    assert slack.harness.socket(body).status == 200
    hook = "/webhook/" + body["response_url"].rsplit("/", 1)[1]
    pinned = slack.harness.emulator.wait_for(hook)[0].body
    check_message(pinned)
    assert pinned["replace_original"] is True and "Partner modules" in texts(pinned)
    assert [c.title for c in slack_cards(pinned)] == ["📌 mod-07", "mod-00", "mod-05"], "pinned first"
