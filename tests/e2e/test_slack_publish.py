"""End to end through Slack: connect a repository of 20 modules, publish some with ``/rad publish`` (ticks,
search, pages, a double click on Publish), then browse them with ``/rad modules`` (tabs, pins).

Signed HTTP requests (and one Socket Mode payload) go into the real Bolt app, against the Slack and GitHub
emulators; every Block Kit payload the bot sends is checked with slack_sdk's models.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from bot.slack.elements import decode_action_id
from storage.db import Database
from storage.models import AuditEvent, Deployment, Module, utcnow
from storage.models.states import DeploymentStatus
from tests.emulators.github import GitHubEmulator
from tests.support.sample_repository import BROKEN, repository_files
from tests.support.slack_support import Answer, Harness, emulator, harness, slack_runtime, texts, typed
from tests.unit.test_slack_render import check_message

__all__ = ["emulator", "harness", "slack_runtime"]

PAT: dict[str, Any] = {"user": "UPAT", "name": "pat"}
WORKING = "Working on it"
Json = dict[str, Any]


# -- reading messages --------------------------------------------------------------------------------


def checked(message: Json) -> Json:
    """``message`` after checking its blocks as Slack would."""
    check_message(message)
    return message


def shown(harness: Harness, answer: Answer, count: int = 1) -> Json:
    """The ``count``-th post to the request's response_url, checked."""
    assert (answer.status, answer.body) == (200, "")
    return checked(harness.reply(answer, count))


def cards(message: Json) -> dict[str, str]:
    """Each card's text (below its header, up to the next divider) by title."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for block in message["blocks"]:
        if block["type"] == "header":
            current = found.setdefault(block["text"]["text"], [])
        elif block["type"] == "divider" or current is None:
            current = None
        else:
            current.append(texts({"blocks": [block]}))
    return {title: "\n".join(lines) for title, lines in found.items()}


def elements(message: Json) -> list[Json]:
    """Every interactive element: those of actions blocks and the search boxes' text inputs."""
    found: list[Json] = []
    for block in message["blocks"]:
        if block["type"] == "actions":
            found += block["elements"]
        elif block["type"] == "input":
            found.append(block["element"])
    return found


def control(message: Json, action_id: str, label: str = "") -> Json:
    """The element registered as ``action_id`` (the button whose label starts with ``label``)."""
    for element in elements(message):
        if decode_action_id(element["action_id"])[0] == action_id and \
                str(element.get("text", {}).get("text", "")).startswith(label):
            return element
    raise AssertionError(f"no {action_id} {label!r} in {texts(message)}")


def selected(message: Json) -> list[str]:
    return [o["value"] for o in control(message, "publish:select").get("initial_options", [])]


# -- acting like Slack ---------------------------------------------------------------------------------


def click(harness: Harness, message: Json, action_id: str, label: str = "", **extra: Any) -> Answer:
    """A click on a button of the private message ``message``."""
    button = control(message, action_id, label)
    assert button["type"] == "button"
    return harness.click(button["action_id"], button.get("value", ""), **PAT, extra=extra or None)


def tick(harness: Harness, message: Json, names: list[str]) -> Json:
    """Choose ``names`` in the page's multi-select: Slack sends every selected option."""
    picker = control(message, "publish:select")
    assert picker["type"] == "multi_static_select"
    options = {o["value"]: o for o in picker["options"]}
    body = harness.action_body(picker["action_id"], **PAT)
    body["actions"] = [{"type": "multi_static_select", "action_id": picker["action_id"], "block_id": "Sl4ck",
                        "selected_options": [options[name] for name in names],
                        "placeholder": picker["placeholder"], "action_ts": f"{time.time():.6f}"}]
    return shown(harness, harness.interact(body))


def search(harness: Harness, message: Json, typed_text: str) -> Json:
    """Type ``typed_text`` in the search box and press Enter."""
    box = control(message, "publish:search")
    return shown(harness, harness.interact(harness.search_body(box["action_id"], typed_text, **PAT)))


def connect(harness: Harness, github: GitHubEmulator) -> None:
    """Pat becomes a partner and connects ``pat/modules`` through the real modal and repository picker."""
    github.add_repo("pat/modules", repository_files())
    assert "is now a partner" in texts(harness.reply(harness.command("admin grant <@UPAT|pat> partner")))
    answer = harness.command("connect", **PAT)
    assert (answer.status, answer.body) == (200, "")
    view: Json = harness.emulator.wait_for("views.open")[0].body["view"]
    View(**view).validate_json()
    (token_block,) = [b for b in view["blocks"] if b["type"] == "input"]
    submitted = harness.interact(harness.submission_body(view, {token_block["block_id"]:
                                                                typed(github.add_token("pat"))}, **PAT))
    assert (submitted.status, submitted.body) == (200, "")
    posted = checked(harness.emulator.wait_for("chat.postEphemeral", timeout=10)[0].body)
    picker = control(posted, "connect:repo")
    option = next(o for o in picker["options"] if o["value"] == "pat/modules")
    chosen = {"type": "static_select", "block_id": "Sl4ck", "selected_option": option}
    done = harness.interact(harness.action_body(picker["action_id"], **PAT, extra=chosen))
    assert "Connected *pat/modules*" in texts(shown(harness, done, 2))  # a slow action: its placeholder first


def validate_everything(harness: Harness) -> None:
    """Every message and modal the bot sent to the emulator, against Block Kit."""
    harness.settle()
    for call in harness.emulator.calls():
        if "blocks" in call.body:
            check_message(call.body)
        if isinstance(call.body.get("view"), dict):
            View(**call.body["view"]).validate_json()


def syncs(db: Database) -> int:
    with db.unit_of_work() as s:
        return len(s.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.sync")).all())


# -- the tests -----------------------------------------------------------------------------------------


@pytest.fixture
def connected(harness: Harness, github: GitHubEmulator) -> Harness:
    connect(harness, github)
    return harness


def open_publish(harness: Harness) -> Json:
    """``/rad publish``: a private placeholder at once, then the first page in its place."""
    answer = harness.command("publish", **PAT)
    placeholder = shown(harness, answer, 1)
    assert WORKING in texts(placeholder) and placeholder["response_type"] == "ephemeral"
    assert placeholder["replace_original"] is False
    first = shown(harness, answer, 2)
    assert first["replace_original"] is True
    return first


def test_publish_ticks_searches_pages_and_publishes_once(connected: Harness, db: Database) -> None:
    harness = connected
    first = open_publish(harness)
    assert "20 module folders" in texts(first) and "page 1 of 3" in texts(first)
    shown_cards = cards(first)
    assert list(shown_cards) == [f"mod-{n:02}" for n in range(8)]
    assert "🆕 new" in shown_cards["mod-00"] and "The mod-00 module" in shown_cards["mod-00"]
    assert "⚠️ invalid" in shown_cards[BROKEN]
    assert "main.tf" in shown_cards[BROKEN] and "line 2" in shown_cards[BROKEN]
    picker = control(first, "publish:select")
    assert [o["value"] for o in picker["options"]] == [f"mod-{n:02}" for n in range(8) if n != 3]
    assert "initial_options" not in picker
    assert control(first, "publish:apply")["text"]["text"] == "Publish (0 selected)"
    assert [b["type"] for b in first["blocks"][-3:]] == ["actions", "input", "actions"]

    ticked = tick(harness, first, ["mod-00", "mod-01"])
    assert ticked["replace_original"] is True and selected(ticked) == ["mod-00", "mod-01"]
    assert "– selected" in cards(ticked)["mod-01"] and "– selected" not in cards(ticked)["mod-02"]
    assert control(ticked, "publish:apply")["text"]["text"] == "Publish (2 selected)"

    found = search(harness, ticked, "mod-1")
    assert found["replace_original"] is True
    assert "10 matching `mod-1`" in texts(found) and "page 1 of 2" in texts(found)
    assert list(cards(found)) == [f"mod-{n}" for n in range(10, 18)]
    assert control(found, "publish:search")["initial_value"] == "mod-1"
    found = tick(harness, found, ["mod-12"])
    second = shown(harness, click(harness, found, "publish:page", "Next"))
    assert second["replace_original"] is True and list(cards(second)) == ["mod-18", "mod-19"]
    assert "page 2 of 2" in texts(second)
    second = tick(harness, second, ["mod-19"])
    assert control(second, "publish:apply")["text"]["text"] == "Publish (4 selected)"

    everything = search(harness, second, "")
    assert "page 1 of 3" in texts(everything) and "matching" not in texts(everything)
    assert selected(everything) == ["mod-00", "mod-01"], "ticks on other pages and searches are kept"
    middle = shown(harness, click(harness, everything, "publish:page", "Next"))
    assert list(cards(middle)) == [f"mod-{n:02}" for n in range(8, 16)] and selected(middle) == ["mod-12"]
    assert control(middle, "publish:page", "◀ Previous")["value"].endswith(":1")

    stamps = ["1700000100.000001", "1700000100.000002"]
    with ThreadPoolExecutor(2) as pool:  # a double click: two deliveries at once
        clicks = list(pool.map(lambda stamp: click(harness, middle, "publish:apply", action_ts=stamp), stamps))
    for answer in clicks:
        result = shown(harness, answer)
        assert result["replace_original"] is True
        assert texts(result).startswith("*Published:* `mod-00`, `mod-01`, `mod-12`, `mod-19`")
    apply = control(middle, "publish:apply")
    retry = harness.interact(harness.action_body(apply["action_id"], apply["value"], **PAT,
                                                 extra={"action_ts": stamps[0]}),
                             headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status == 200
    harness.settle()
    assert harness.emulator.calls(retry.hook) == [], "Slack's retry of a click is dropped"
    assert syncs(db) == 1
    with db.unit_of_work() as s:
        published = {m.name: m for m in s.scalars(select(Module))}
        assert sorted(published) == ["mod-00", "mod-01", "mod-12", "mod-19"]
        assert published["mod-12"].repository == "pat/modules" and published["mod-12"].credit_cost == 12
    validate_everything(harness)


def test_published_modules_come_ticked_and_unticking_removes_them(connected: Harness, db: Database) -> None:
    harness = connected
    first = open_publish(harness)
    ticked = tick(harness, first, ["mod-02"])
    assert "*Published:* `mod-02`" in texts(shown(harness, click(harness, ticked, "publish:apply")))
    again = open_publish(harness)
    assert "✅ published" in cards(again)["mod-02"] and selected(again) == ["mod-02"]
    assert control(again, "publish:apply")["text"]["text"] == "Update (1 selected)"
    cleared = tick(harness, again, [])
    assert selected(cleared) == [] and control(cleared, "publish:apply")["text"]["text"] == "Publish (0 selected)"
    removed = shown(harness, click(harness, cleared, "publish:apply"))
    assert "*Removed:* `mod-02`" in texts(removed)
    with db.unit_of_work() as s:
        assert s.scalars(select(Module)).all() == []
    assert syncs(db) == 2
    validate_everything(harness)


def test_unticking_a_module_with_live_deployments_asks_first(connected: Harness, db: Database) -> None:
    harness = connected
    ticked = tick(harness, open_publish(harness), ["mod-02"])
    assert "*Published:* `mod-02`" in texts(shown(harness, click(harness, ticked, "publish:apply")))
    live_deployment(db, "mod-02")
    cleared = tick(harness, open_publish(harness), [])
    asked = shown(harness, click(harness, cleared, "publish:apply"))
    assert asked["replace_original"] is True
    assert "Publishing removes `mod-02` (1 live deployment) from the catalog." in texts(asked)
    assert control(asked, "publish:remove")["style"] == "danger" and control(asked, "publish:page")
    with db.unit_of_work() as s:
        assert [m.name for m in s.scalars(select(Module))] == ["mod-02"], "asked first: nothing removed yet"
    removed = shown(harness, click(harness, asked, "publish:remove"))
    assert "*Removed:* `mod-02`" in texts(removed)
    with db.unit_of_work() as s:
        assert s.scalars(select(Module)).all() == []
    validate_everything(harness)


def live_deployment(db: Database, module: str) -> None:
    """A successful deployment of ``module`` (as the worker leaves one): it keeps running after a removal."""
    with db.unit_of_work() as s:
        found = s.scalars(select(Module).where(Module.name == module)).one()
        s.add(Deployment(short_id="live", module_id=found.id, module_name=module, owner_id=found.owner_id,
                         status=DeploymentStatus.SUCCESS, commit=found.commit, created_at=utcnow()))


def test_modules_tabs_update_in_place_and_pins_come_first(connected: Harness) -> None:
    harness = connected
    first = open_publish(harness)
    ticked = tick(harness, first, ["mod-00", "mod-05", "mod-07"])
    shown(harness, click(harness, ticked, "publish:apply"))

    listing = shown(harness, harness.command("modules", **PAT))
    assert listing["replace_original"] is False and listing["response_type"] == "ephemeral"
    assert "All modules" in texts(listing) and list(cards(listing)) == ["mod-00", "mod-05", "mod-07"]
    tabs = [e["text"]["text"] for e in elements(listing) if decode_action_id(e["action_id"])[0] == "modules:tab"]
    assert tabs == ["Platform", "Partner", "📌 Pinned", "All"]
    assert control(listing, "modules:tab", "All").get("style") == "primary"
    assert "*Credit cost*\n5" in cards(listing)["mod-05"]

    partner = shown(harness, click(harness, listing, "modules:tab", "Partner"))
    assert partner["replace_original"] is True and "Partner modules" in texts(partner)
    assert list(cards(partner)) == ["mod-00", "mod-05", "mod-07"]
    platform = shown(harness, click(harness, partner, "modules:tab", "Platform"))
    assert "0 modules," in texts(platform) and cards(platform) == {}

    pin = [e for e in elements(partner) if decode_action_id(e["action_id"])[0] == "modules:pin"][-1]  # mod-07's
    assert pin["text"]["text"] == "📌 Pin" and pin["value"].endswith(":partner:1:")
    body = harness.action_body(pin["action_id"], pin["value"], **PAT)
    assert harness.socket(body).status == 200  # this click comes through Socket Mode
    pinned = checked(harness.emulator.wait_for("/webhook/" + body["response_url"].rsplit("/", 1)[1])[0].body)
    assert pinned["replace_original"] is True and "Partner modules" in texts(pinned)
    assert list(cards(pinned)) == ["📌 mod-07", "mod-00", "mod-05"], "pinned first"
    assert control(pinned, "modules:pin", "Unpin")["value"] == pin["value"]

    only = shown(harness, click(harness, pinned, "modules:tab", "📌 Pinned"))
    assert list(cards(only)) == ["📌 mod-07"]
    unpinned = shown(harness, click(harness, only, "modules:pin", "Unpin"))
    assert cards(unpinned) == {} and "Pin a module with its 📌 button" in texts(unpinned)

    details = texts(shown(harness, harness.command("module mod-05", **PAT)))
    assert "Commit" in details and "`size` (number) *required*" in details
    validate_everything(harness)


def test_nobody_else_can_use_the_publish_list(connected: Harness, db: Database) -> None:
    harness = connected
    button = control(open_publish(harness), "publish:apply")
    mallory = harness.click(button["action_id"], button["value"], user="UMAL", name="mallory")
    assert "Only partners can use this button." in texts(checked(harness.reply(mallory)))
    harness.reply(harness.command("admin grant <@USAM|sam> partner"))
    sam = harness.click(button["action_id"], button["value"], user="USAM", name="sam")
    assert "This publish list belongs to someone else." in texts(checked(harness.reply(sam)))
    assert syncs(db) == 0
    validate_everything(harness)
