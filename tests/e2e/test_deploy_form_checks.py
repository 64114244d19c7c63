"""Deploy forms check early, through Slack and Discord: what blocks a deployment is said before the first step,
a bad value is shown at its field (Slack: ``response_action: errors``; Discord: a private notice naming the field
with a button reopening the step, values kept), and a 300-input module is deployed in as many steps as it needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.demo import seed
from core.accounts.identity import Caller
from storage.db import Database
from storage.models import DeployDraft, Deployment
from tests.support.discord_harness import components_of
from tests.support.front_door import ADMIN, DiscordDoor, Form, FrontDoor, Reply, SlackDoor, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

WIDE = 300
METADATA = '''
variable "module_description" {{
  description = "{{{{UIMeta group=0}}}} {description}"
  default     = "{description}"
}}
variable "credit_cost" {{
  description = "{{{{UIMeta group=0}}}}"
  default     = {cost}
}}
variable "public_access" {{
  description = "{{{{UIMeta group=0}}}}"
  default     = true
}}
variable "module_dependency" {{
  description = "{{{{UIMeta group=0}}}}"
  type        = list(string)
  default     = {dependencies}
}}
'''
CHECKED = '''
variable "size" {
  description = "How big. {{UIMeta group=1 order=1}}"
  type        = number
  validation {
    condition     = var.size >= 1 && var.size <= 10
    error_message = "The size must be between 1 and 10."
  }
}
variable "label" {
  description = "A short name. {{UIMeta group=1 order=2}}"
  type        = string
  validation {
    condition     = can(regex("^[a-z]+$", var.label))
    error_message = "The label is lowercase letters only."
  }
}
variable "tags" {
  description = "Tags. {{UIMeta group=2 order=1}}"
  type        = map(number)
  default     = {}
}
'''


def wide_variables() -> str:
    """300 inputs in one UIMeta group: every third one required text (the first validated), the others numbers and
    text with defaults."""
    blocks = []
    for n in range(WIDE):
        tag = f"{{{{UIMeta group=1 order={n}}}}}"
        if n == 0:
            blocks.append(f'variable "v000" {{\n  description = "Field 0. {tag}"\n  type = string\n'
                          '  validation {\n    condition = length(var.v000) <= 20\n'
                          '    error_message = "Field 0 is at most 20 characters."\n  }\n}\n')
        elif n % 3 == 0:
            blocks.append(f'variable "v{n:03}" {{\n  description = "Field {n}. {tag}"\n  type = string\n}}\n')
        elif n % 3 == 1:
            blocks.append(f'variable "v{n:03}" {{\n  description = "{tag}"\n  type = number\n  default = {n}\n}}\n')
        else:
            blocks.append(f'variable "v{n:03}" {{\n  description = "{tag}"\n  type = string\n'
                          f'  default = "d{n}"\n}}\n')
    return "".join(blocks)


def module(root: Path, name: str, variables: str, *, cost: int = 0, dependencies: str = "[]") -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "variables.tf").write_text(METADATA.format(description=f"The {name} module.", cost=cost,
                                                         dependencies=dependencies) + variables)
    (folder / "main.tf").write_text('terraform {\n  required_version = ">= 1.3.0"\n}\n'
                                    'output "done" {\n  value = true\n}\n')


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """The Discord client's options for the door: the defaults."""
    return {}


@pytest.fixture
async def platform(door: FrontDoor, db: Database, tmp_path: Path) -> FrontDoor:
    """Four generated modules published: a wide one (300 inputs), one with validations, one that depends on
    ``checked-form``, one costing more than the admin has (no credits)."""
    root = tmp_path / "modules"
    module(root, "wide-form", wide_variables())
    module(root, "checked-form", CHECKED)
    module(root, "after-checked", 'variable "note" {\n  default = "x"\n}\n', dependencies='["checked-form"]')
    module(root, "pricey", 'variable "note" {\n  default = "x"\n}\n', cost=500)
    await door.command("whoami")
    services = door.harness.runtime.dispatcher.services  # type: ignore[attr-defined]
    done = await asyncio.to_thread(seed, db, services, Caller(door.identity(ADMIN), "admin"), root)
    assert any("published" in line and "wide-form" in line for line in done), done
    return door


# -- driving form steps the way each platform does --------------------------------------------------------


@dataclass
class FieldErrors:
    """What a step refused: the error per field as the platform shows it, and the way back to the step."""

    errors: dict[str, str]
    text: str = ""
    reply: Reply | None = None


async def submit_step(door: FrontDoor, form: Form, answers: Mapping[str, str]) -> Form | Reply | FieldErrors:
    """Submit one dialog (a Slack modal, one Discord modal) with ``answers`` over what it shows already.

    The answer: the next dialog, the reply after the last one, or the errors shown for this one.
    """
    if isinstance(door, SlackDoor):
        return slack_step(door, form, answers)
    assert isinstance(door, DiscordDoor)
    return await discord_step(door, form, answers)


def slack_step(door: SlackDoor, form: Form, answers: Mapping[str, str]) -> Form | Reply | FieldErrors:
    harness = door.harness
    before = len(harness.emulator.calls("chat.postEphemeral"))
    state = {}
    for block in form.raw["blocks"]:
        if block["type"] == "input":
            name, element = block["block_id"], block["element"]
            state[name] = {"type": element["type"], "value": answers.get(name, element.get("initial_value"))}
    answer = harness.interact(harness.submission_body(form.raw, state))
    assert answer.status == 200
    if answer.body:
        ack = answer.json()
        if ack["response_action"] == "errors":
            return FieldErrors(dict(ack["errors"]))
        assert ack["response_action"] == "update", ack
        view = ack["view"]
        return Form(str(view["callback_id"]), {str(b["block_id"]): b["element"] for b in view["blocks"]
                                               if b["type"] == "input"}, view)
    posted = harness.emulator.wait_for("chat.postEphemeral", count=before + 1, timeout=10)[-1].body
    return door._as_reply(posted, "", private=True)


async def discord_step(door: DiscordDoor, form: Form, answers: Mapping[str, str]) -> Form | Reply | FieldErrors:
    values: dict[str, str | list[str] | bool] = {}
    for component in components_of(form.raw):
        name = str(component.get("custom_id", ""))
        if component["type"] == 4:
            values[name] = answers.get(name, component.get("value", ""))
        elif component["type"] == 3:
            given = answers.get(name)
            values[name] = [given] if given else [o["value"] for o in component["options"] if o.get("default")]
    door.harness.validate_all()  # then forget the calls, so that a long form's calls are each validated once
    door.harness.emulator.clear()
    door.seen = 0
    sent = door.harness.submit(form.id, values)
    reply = await door._reply(sent, None)
    if "Please fix this" in reply.text:
        errors = {line.split("*")[1] if "*" in line else line: line for line in reply.text.splitlines()[1:]}
        return FieldErrors(errors, reply.text, reply)
    if any(b.label.startswith(("Continue", "Open the form")) for b in reply.buttons):
        return await door.click_form(reply, next(b.label for b in reply.buttons
                                                 if b.label.startswith(("Continue", "Open the form"))))
    return reply


async def fill_all(door: FrontDoor, form: Form, answers: Mapping[str, str]) -> tuple[Reply, int]:
    """Every dialog submitted with ``answers``; the reply after the last one and how many dialogs there were."""
    dialogs = 0
    outcome: Form | Reply | FieldErrors = form
    while isinstance(outcome, Form):
        dialogs += 1
        outcome = await submit_step(door, outcome, answers)
        assert not isinstance(outcome, FieldErrors), outcome
    assert isinstance(outcome, Reply), outcome
    return outcome, dialogs


# -- the tests --------------------------------------------------------------------------------------------


async def test_a_shortfall_or_a_missing_dependency_is_said_before_the_first_step(platform: FrontDoor,
                                                                                 db: Database) -> None:
    short = await platform.command("deploy", {"module": "pricey"})
    assert "credits short" in short.text and "No form was opened" in short.text, short.text
    assert not any(b.label == "Confirm" for b in short.buttons)
    missing = await platform.command("deploy", {"module": "after-checked"})
    assert "Deploy `checked-form` first" in missing.text and "No form was opened" in missing.text, missing.text
    with db.unit_of_work() as s:
        assert s.scalars(select(DeployDraft)).all() == []  # no form, no draft
        assert s.scalars(select(Deployment)).all() == []


async def test_a_bad_value_is_shown_at_its_field_and_nothing_is_lost(platform: FrontDoor, db: Database) -> None:
    form = await platform.open_form("deploy", {"module": "checked-form"})
    assert set(form.inputs) >= {"size", "label"}
    empty = await submit_step(platform, form, {"size": "", "label": "fine"})
    assert isinstance(empty, FieldErrors), empty
    if isinstance(platform, SlackDoor):
        assert empty.errors == {"size": "size is required"}
    else:
        assert "size: This is required." in empty.text and empty.reply is not None
        form = await platform.click_form(empty.reply, "Try again")
        assert form.inputs["label"].get("value") == "fine"
    refused = await submit_step(platform, form, {"size": "11", "label": "Big"})
    if isinstance(refused, Form):  # Discord asks a modal at a time and checks each before the next
        pytest.fail("the bad values were let through")
    assert isinstance(refused, FieldErrors), refused
    if platform.platform == "slack":
        assert refused.errors == {"size": "The size must be between 1 and 10.",
                                  "label": "The label is lowercase letters only."}  # keyed by block id
    else:
        assert "size: The size must be between 1 and 10." in refused.text
        assert "label: The label is lowercase letters only." in refused.text
        assert refused.reply is not None and refused.reply.private
        form = await platform.click_form(refused.reply, "Try again")  # the same step, values kept
        assert form.inputs["size"].get("value") == "11" and form.inputs["label"].get("value") == "Big"
    refused = await submit_step(platform, form, {"size": "ten", "label": "ok"})
    assert isinstance(refused, FieldErrors) and "size" in " ".join(refused.errors) and "number" in str(refused)
    if isinstance(platform, DiscordDoor):
        assert refused.reply is not None
        form = await platform.click_form(refused.reply, "Try again")
    after = await submit_step(platform, form, {"size": "3", "label": "ok"})
    assert isinstance(after, Form) and "tags" in after.inputs  # the next step
    assert "JSON" in str(after.raw) and '{"key": 1}' in str(after.raw)  # a map asks for JSON with an example
    refused = await submit_step(platform, after, {"tags": '["a"]'})
    assert isinstance(refused, FieldErrors) and "should be an object" in str(refused)
    if isinstance(platform, DiscordDoor):
        assert refused.reply is not None
        after = await platform.click_form(refused.reply, "Try again")
    review = await submit_step(platform, after, {"tags": '{"a": 1}'})
    assert isinstance(review, Reply) and "Deploy checked-form?" in review.text, review
    with db.unit_of_work() as s:
        [draft] = s.scalars(select(DeployDraft)).all()
        assert draft.values == {"size": 3, "label": "ok", "tags": {"a": 1}}


async def test_a_300_input_module_is_deployed_in_as_many_steps_as_it_needs(platform: FrontDoor,
                                                                         db: Database) -> None:
    answers = {f"v{n:03}": f"text {n}" for n in range(0, WIDE, 3)}
    form = await platform.open_form("deploy", {"module": "wide-form"})
    refused = await submit_step(platform, form, {**answers, "v000": "x" * 30})  # checked before the next dialog
    assert isinstance(refused, FieldErrors) and "Field 0 is at most 20 characters." in str(refused), refused
    if isinstance(platform, DiscordDoor):
        assert refused.reply is not None
        form = await platform.click_form(refused.reply, "Try again")
        assert form.inputs["v000"].get("value") == "x" * 30  # kept, to be corrected
    review, dialogs = await fill_all(platform, form, answers)
    # Slack: 6 modals of 50; Discord: the same 6 steps, each in modals of 5 (the first of a step has its intro)
    assert dialogs == (6 if platform.platform == "slack" else 6 * 11), dialogs
    assert "Deploy wide-form?" in review.text, review.text
    confirmed = await platform.click(review, "Confirm")
    assert "is queued" in confirmed.text, confirmed.text
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        inputs: dict[str, Any] = dict(deployment.inputs)
    expected = {f"v{n:03}": (f"text {n}" if n % 3 == 0 else n if n % 3 == 1 else f"d{n}") for n in range(WIDE)}
    assert inputs == expected  # every input reached the deployment, each once



async def test_a_form_left_halfway_is_resumed_or_started_again(platform: FrontDoor, db: Database) -> None:
    form = await platform.open_form("deploy", {"module": "checked-form"})
    second = await submit_step(platform, form, {"size": "4", "label": "kept"})
    assert isinstance(second, Form) and "tags" in second.inputs  # then the dialog is closed: nothing is sent
    offer = await platform.command("deploy", {"module": "checked-form"})
    assert "step 2 of 2" in offer.text and "nothing was deployed or charged" in offer.text, offer.text
    resumed = await platform.click_form(offer, "Resume")
    assert "tags" in resumed.inputs  # at the step it reached
    review = await submit_step(platform, resumed, {"tags": "{}"})
    assert isinstance(review, Reply), review
    assert "size` = 4" in review.text and 'label` = "kept"' in review.text, review.text
    form = await platform.open_form("deploy", {"module": "checked-form"})  # reviewed: a new form, no offer
    await submit_step(platform, form, {"size": "5", "label": "other"})
    offer = await platform.command("deploy", {"module": "checked-form"})
    fresh = await platform.click_form(offer, "Start again")
    size = fresh.inputs["size"]
    assert not (size.get("value") or size.get("initial_value"))  # from the first step, empty
    with db.unit_of_work() as s:
        assert len(s.scalars(select(DeployDraft)).all()) == 2  # the reviewed one and the fresh one
        assert s.scalars(select(Deployment)).all() == []


async def test_a_forged_value_longer_than_its_field_is_refused_at_the_field(platform: FrontDoor) -> None:
    form = await platform.open_form("deploy", {"module": "checked-form"})
    most = 3000 if platform.platform == "slack" else 4000  # Slack's plain_text_input, Discord's text input
    assert form.inputs["label"]["max_length"] == most
    refused = await submit_step(platform, form, {"size": "2", "label": "a" * (most + 1)})
    assert isinstance(refused, FieldErrors), refused
    if isinstance(platform, SlackDoor):  # the front door knows the modal's limit
        assert refused.errors == {"label": f"This is {most + 1} characters long; at most {most} fit here."}
    else:  # the deploy form's own limit, which is Discord's
        assert f"label: label is {most + 1} characters long; at most {most} fit in a form field" in refused.text
