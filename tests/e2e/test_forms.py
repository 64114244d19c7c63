"""Forms through every front door: a slow form closes at once and its outcome follows privately (its errors
and failures too), a repeated submission runs once; then what only one platform has: Slack's direct-message
fallbacks, and Discord's modals (bools as selects, errors listed with Try again, five inputs a modal).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest

from bot.slack.modals import render_form
from commands import load_registry
from commands.framework.context import Context
from commands.framework.registry import Registry
from commands.ui.model import Form, FormErrors, FormValue, Input, Option, Reply
from core.config import Config
from storage.db import Database
from storage.models import User
from tests.emulators.slack import SlackEmulator
from tests.support import slack_support as sh
from tests.support.discord_harness import USER_ID, Harness, components_of, custom_id_of, running_bot
from tests.support.discord_spec import validate_schema
from tests.support.front_door import FrontDoor, door
from tests.support.slack_support import ADMIN, CHANNEL, emulator, harness, slack_runtime, texts, typed

__all__ = ["door", "emulator", "harness", "slack_runtime"]

EPHEMERAL = 64
FORM = Form("Slow", "test:slow", (Input("name", "Name"),), state="s1")
BOLD = {"slack": "*{}*", "discord": "**{}**"}


def slow_registry(release: threading.Event) -> Registry:
    """The shared registry plus a slow form (and a command opening it): it waits for ``release``, then answers
    by what was typed."""
    registry = load_registry().copy()

    @registry.command("test ask", "Open the slow form")
    def ask(ctx: Context) -> Form:
        return FORM

    @registry.form("test:slow", slow=True)
    def slow_form(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply | FormErrors:
        assert release.wait(5)
        name = str(values.get("name") or "")
        if name == "short":
            return FormErrors({"name": "Too short."})
        if name == "boom":
            raise RuntimeError("handler bug")
        return Reply(text=f"Checked *{name}* ({state}).")

    return registry


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Slow forms wait for it; set unless a test clears it, and set again before the doors close."""
    event = threading.Event()
    event.set()
    yield event
    event.set()


@pytest.fixture
def door_registry(release: threading.Event) -> Registry:
    return slow_registry(release)


def bold(door: FrontDoor, text: str) -> str:
    return BOLD[door.platform].format(text)


# -- slow forms, through every door ------------------------------------------------------------------------


async def test_a_slow_form_closes_before_the_handler_finishes_and_answers_privately(
    door: FrontDoor, release: threading.Event
) -> None:
    form = await door.open_form("test ask")
    release.clear()
    sent = await door.send_form(form, {"name": "ada"})
    wait = await door.first(sent)
    assert wait.wait and wait.private, "closed at once (Slack: an empty ack; Discord: a private deferral)"
    assert await door.posts(sent) == 1, "nothing said while the handler still works"
    release.set()
    outcome = await door.answer(sent)
    assert outcome.private and f"Checked {bold(door, 'ada')} (s1)." in outcome.marked
    assert wait.at < outcome.at


async def test_errors_of_a_closed_form_are_listed_privately(door: FrontDoor) -> None:
    sent = await door.send_form(await door.open_form("test ask"), {"name": "short"})
    assert (await door.first(sent)).wait
    errors = await door.answer(sent)
    assert errors.private and "Too short." in errors.text
    if door.platform == "slack":  # the modal is gone: the errors are a list in a private message
        assert "That was not accepted" in errors.text and "• Too short." in errors.text
    else:  # Discord names the input and offers to open the form again
        assert f"{bold(door, 'Name')}: Too short." in errors.marked and errors.button("Try again")


async def test_a_failing_slow_form_shows_an_error_id(door: FrontDoor) -> None:
    sent = await door.send_form(await door.open_form("test ask"), {"name": "boom"})
    assert (await door.first(sent)).wait
    failed = await door.answer(sent)
    assert failed.private and "error id" in failed.text and "handler bug" not in door.sent()


async def test_a_repeated_submission_runs_once(door: FrontDoor) -> None:
    sent = await door.send_form(await door.open_form("test ask"), {"name": "ada"})
    await door.redeliver(sent)
    assert (await door.first(sent)).wait
    assert "Checked" in (await door.answer(sent)).text
    door.settle()
    assert await door.posts(sent) == 2, "one wait, one answer"


# -- Slack only: a closed modal's outcome needs a channel, else a direct message ------------------------


@pytest.fixture
def slow(config: Config, db: Database, emulator: SlackEmulator, release: threading.Event) -> Iterator[sh.Harness]:
    """The Slack app with the slow form registered."""
    runtime = sh.runtime_with(slow_registry(release), db, sh.slack_config(config, emulator))
    with sh.running_harness(runtime, emulator) as running:
        yield running


def submitted(harness: sh.Harness, name: str, channel: str = CHANNEL) -> dict[str, Any]:
    view = render_form(FORM, channel=channel)
    return harness.submission_body(view, {"name": typed(name)})


def test_slack_without_a_channel_the_outcome_goes_by_direct_message(slow: sh.Harness) -> None:
    slow.interact(submitted(slow, "ada", channel=""))
    (posted,) = slow.emulator.wait_for("chat.postMessage", timeout=5)
    assert posted.body["channel"] == "DADMIN" and "Checked *ada*" in texts(posted.body)
    assert slow.emulator.calls("conversations.open")[0].body["users"] == ADMIN
    assert slow.emulator.calls("chat.postEphemeral") == []


def test_slack_a_channel_that_refuses_the_private_message_falls_back_to_a_direct_message(
    slow: sh.Harness
) -> None:
    slow.emulator.fail("chat.postEphemeral", "not_in_channel", times=1)
    slow.interact(submitted(slow, "ada"))
    (posted,) = slow.emulator.wait_for("chat.postMessage", timeout=5)
    assert posted.body["channel"] == "DADMIN" and "Checked *ada*" in texts(posted.body)


# -- Discord only: a modal holds five inputs, shows no errors and opens from an interaction --------------

SURVEY_INPUTS = (
    Input("name", "Name"),
    Input("count", "How many", kind="number"),
    Input("token", "API token", kind="secret"),
    Input("color", "Colour", kind="choice", options=(Option("Red", "red"), Option("Blue", "blue"))),
    Input("tags", "Tags", kind="multichoice", required=False,
          options=tuple(Option(f"Tag {n}", f"t{n}") for n in range(4))),
    Input("notes", "Notes", kind="multiline", required=False),
    Input("agree", "I agree", kind="bool"),
)
received: list[Mapping[str, FormValue]] = []


def survey_registry() -> Registry:
    """The shared registry plus a 7-input form, in a copy (the shared one stays untouched)."""
    registry = load_registry().copy()

    @registry.command("test survey", "A long form")
    def survey(ctx: Context) -> Form:
        return Form("A survey with seven questions", "survey:save", SURVEY_INPUTS, state="s42")

    @registry.form("survey:save")
    def save(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply | FormErrors:
        if values.get("color") != "blue":
            return FormErrors({"color": "Blue, please."})
        received.append({**values, "state": state})
        return Reply(text="Thanks!")

    return registry


@pytest.fixture
async def bot(db: Database, config: Config) -> AsyncIterator[Harness]:
    received.clear()
    async with running_bot(db, config, registry=survey_registry()) as harness:
        yield harness


def modal_of(body: dict[str, Any]) -> dict[str, Any]:
    assert body["type"] == 9, body
    validate_schema(body, "ModalInteractionCallbackRequest")
    data: dict[str, Any] = body["data"]
    return data


def inputs_of(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["custom_id"]: c for c in components_of(modal)}


async def test_discord_profile_opens_a_modal_with_selects_for_bools(bot: Harness) -> None:
    bot.slash("profile", user_id=USER_ID)
    modal = modal_of(await bot.last_callback())
    assert modal["custom_id"].startswith("radf|") and modal["title"] == "Your RAD profile"
    labels = [row["label"] for row in modal["components"]]
    assert labels == ["Display name", "Tell me when my deployments finish", "Send me billing notices"]
    fields = inputs_of(modal)
    assert fields["display_name"]["type"] == 4 and fields["display_name"]["value"] == "user002"
    assert fields["notify_billing"]["type"] == 3
    assert [o.get("default", False) for o in fields["notify_billing"]["options"]] == [True, False]


async def test_discord_profile_errors_then_try_again_then_save(bot: Harness, db: Database) -> None:
    bot.slash("profile", user_id=USER_ID)
    form_id = modal_of(await bot.last_callback())["custom_id"]

    bot.submit(form_id, {"display_name": "", "notify_deployments": ["yes"], "notify_billing": ["no"]},
               user_id=USER_ID)
    errors = await bot.last_callback(2)
    assert errors["data"]["flags"] & EPHEMERAL
    assert "**Display name**: This is required." in errors["data"]["content"]

    bot.submit(form_id, {"display_name": "x" * 90, "notify_deployments": ["yes"], "notify_billing": ["no"]},
               user_id=USER_ID)
    [*_, too_long] = await bot.callbacks(3)
    assert "Keep it to 80 characters." in too_long.json["data"]["content"]
    assert too_long.message is not None

    await bot.restart()
    bot.click(too_long.message, custom_id_of(too_long.json, "Try again"), user_id=USER_ID)
    reopened = modal_of(await bot.last_callback(4))
    assert reopened["custom_id"] == form_id
    assert inputs_of(reopened)["notify_billing"]["options"][1].get("default") is True

    bot.submit(form_id, {"display_name": "Ada", "notify_deployments": ["yes"], "notify_billing": ["no"]},
               user_id=USER_ID)
    saved = await bot.last_callback(5)
    assert "Saved. You are **Ada**" in saved["data"]["content"]
    assert "billing notices off" in saved["data"]["content"]
    with db.unit_of_work() as session:
        assert [u.display_name for u in session.query(User).all()] == ["Ada"]


async def test_discord_a_form_of_seven_inputs_takes_two_steps_across_a_restart(bot: Harness) -> None:
    bot.slash("test survey")
    first = modal_of(await bot.last_callback())
    assert first["title"].endswith("(1/2)") and len(first["components"]) == 5
    assert "token" not in inputs_of(first), "secret inputs go to the last step"
    bot.submit(first["custom_id"], {"name": "Ada", "count": "3", "color": ["red"], "tags": ["t1", "t3"],
                                    "notes": "hello"})
    [*_, step] = await bot.callbacks(2)
    assert "step 1 of 2 saved" in step.json["data"]["content"]
    assert step.message is not None

    await bot.restart()
    bot.click(step.message, custom_id_of(step.json, "Continue"))
    second = modal_of(await bot.last_callback(3))
    assert second["title"].endswith("(2/2)")
    assert set(inputs_of(second)) == {"token", "agree"}
    assert "value" not in inputs_of(second)["token"], "a secret is never prefilled"

    bot.submit(second["custom_id"], {"token": "s3cret", "agree": ["yes"]})
    [*_, refused] = await bot.callbacks(4)
    assert "**Colour**: Blue, please." in refused.json["data"]["content"]
    assert refused.message is not None
    bot.click(refused.message, custom_id_of(refused.json, "Try again"))
    again = modal_of(await bot.last_callback(5))
    assert again["custom_id"] == first["custom_id"], "the error is in the first step"
    assert inputs_of(again)["name"]["value"] == "Ada"

    bot.submit(again["custom_id"], {"name": "Ada", "count": "3", "color": ["blue"], "tags": ["t1", "t3"],
                                    "notes": "hello"})
    [*_, step_again] = await bot.callbacks(6)
    assert step_again.message is not None
    bot.click(step_again.message, custom_id_of(step_again.json, "Continue"))
    await bot.callbacks(7)
    bot.submit(second["custom_id"], {"token": "s3cret", "agree": ["yes"]})
    done = await bot.last_callback(8)
    assert done["data"]["content"] == "Thanks!"
    assert received == [{"name": "Ada", "count": "3", "token": "s3cret", "color": "blue", "tags": ("t1", "t3"),
                         "notes": "hello", "agree": True, "state": "s42"}]


async def test_discord_a_number_is_checked_before_the_handler(bot: Harness) -> None:
    bot.slash("test survey")
    first = modal_of(await bot.last_callback())
    bot.submit(first["custom_id"], {"name": "Ada", "count": "three", "color": ["blue"], "tags": [], "notes": ""})
    body = await bot.last_callback(2)
    assert "**How many**: Enter a number." in body["data"]["content"]


async def test_discord_someone_else_cannot_use_my_form(bot: Harness) -> None:
    bot.slash("profile")
    form_id = modal_of(await bot.last_callback())["custom_id"]
    bot.submit(form_id, {"display_name": "Mallory", "notify_deployments": ["no"], "notify_billing": ["no"]},
               user_id=USER_ID)
    body = await bot.last_callback(2)
    assert "belongs to someone else" in body["data"]["content"]


async def test_discord_an_unknown_form_has_expired(bot: Harness) -> None:
    bot.submit("radf|0123456789abcdef|0", {"display_name": "x"})
    body = await bot.last_callback()
    assert "This form has expired" in body["data"]["content"]
