"""Deploy forms in the console: refused before the first prompt, a bad answer asked again at its field, choice
and yes/no prompts that re-ask instead of taking a default, Ctrl-C halfway then resume, 300 inputs in steps."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.console import Console, console_caller
from bot.demo import seed
from commands.framework.dispatch import Dispatcher
from commands.ui.model import Input, Option
from storage.db import Database
from storage.models import DeployDraft, Deployment
from tests.e2e.test_deploy_form_checks import CHECKED, WIDE, module, wide_variables

STOP = object()
"""In a script: Ctrl-C at that prompt."""
CHOICES = '''
variable "colour" {
  description = "{{UIMeta group=1 order=1}}"
  type        = string
  default     = "red"
  validation {
    condition     = contains(["red", "blue"], var.colour)
    error_message = "Red or blue."
  }
}
variable "enabled" {
  description = "{{UIMeta group=1 order=2}}"
  type        = bool
  default     = false
}
'''


class Script:
    """Scripted answers to the console's prompts; the prompts asked are kept."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers: Iterator[Any] = iter(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        answer = next(self.answers, "quit")
        if answer is STOP:
            raise KeyboardInterrupt
        return str(answer)


@pytest.fixture
def published(dispatcher: Dispatcher, db: Database, tmp_path: Path) -> Dispatcher:
    root = tmp_path / "modules"
    module(root, "wide-form", wide_variables())
    module(root, "checked-form", CHECKED)
    module(root, "choice-form", CHOICES)
    module(root, "pricey", 'variable "note" {\n  default = "x"\n}\n', cost=500)
    module(root, "after-checked", 'variable "note" {\n  default = "x"\n}\n', dependencies='["checked-form"]')
    seed(db, dispatcher.services, console_caller("slack:T1:UADMIN"), root)
    return dispatcher


def run(dispatcher: Dispatcher, tmp_path: Path, answers: list[Any]) -> tuple[str, Script]:
    script, out = Script(answers), io.StringIO()
    console = Console(dispatcher, console_caller("slack:T1:UADMIN"), tmp_path / "files", read=script,
                      read_secret=script, out=out, ansi=False)
    console.loop()
    return out.getvalue(), script


def test_a_shortfall_or_a_missing_dependency_comes_before_any_prompt(published: Dispatcher, db: Database,
                                                                     tmp_path: Path) -> None:
    text, _ = run(published, tmp_path, ["deploy pricey", "", "deploy after-checked", "", "quit"])
    assert "credits short" in text and "Deploy `checked-form` first" in text
    assert text.count("No form was opened and nothing was charged.") == 2 and "== Deploy" not in text
    with db.unit_of_work() as s:
        assert s.scalars(select(DeployDraft)).all() == []


def test_a_bad_answer_is_asked_again_at_its_field(published: Dispatcher, db: Database, tmp_path: Path) -> None:
    text, script = run(published, tmp_path, [
        "deploy checked-form",
        "11", "Big",              # both refused by their validation blocks
        "3", "ok",                # only these two are asked again
        '["a"]', "",              # a list where a map is wanted (a JSON field ends with an empty line)
        '{"a": 1}', "",
        "",                       # leave the review without confirming
        "quit",
    ])
    assert "✖ size: The size must be between 1 and 10." in text
    assert "✖ label: The label is lowercase letters only." in text
    assert "tags should be an object" in text and 'Write JSON (map(number)), for example {"key": 1}' in text
    assert [p for p in script.prompts if p.startswith("size")] == ["size: ", "size [11]: "]
    assert "Deploy checked-form?" in text
    with db.unit_of_work() as s:
        assert s.scalars(select(DeployDraft)).one().values == {"size": 3, "label": "ok", "tags": {"a": 1}}


def test_choice_and_yes_no_prompts_ask_again_instead_of_taking_a_default(published: Dispatcher, db: Database,
                                                                         tmp_path: Path) -> None:
    text, _ = run(published, tmp_path, [
        "deploy choice-form",
        "3", "green", "2",        # no third choice, not a choice, then blue
        "maybe", "y",             # neither yes nor no, then yes
        "",
        "quit",
    ])
    assert "There is no choice 3: type a number from 1 to 2." in text
    assert "`green` is not one of the choices" in text and "`maybe` is neither yes nor no" in text
    with db.unit_of_work() as s:
        assert s.scalars(select(DeployDraft)).one().values == {"colour": "blue", "enabled": True}


def test_a_required_choice_is_never_skipped(dispatcher: Dispatcher, tmp_path: Path) -> None:
    script, out = Script(["", "x", "Blue"]), io.StringIO()
    console = Console(dispatcher, console_caller("ada"), tmp_path, read=script, out=out, ansi=False)
    field = Input("colour", "colour", kind="choice", options=(Option("Red", "red"), Option("Blue", "blue")))
    assert console.ask_input(field, None) == "blue"  # Enter and a wrong answer are asked again; names work too
    assert "this field is required" in out.getvalue() and len(script.prompts) == 3


def test_ctrl_c_halfway_keeps_the_draft_and_the_form_resumes(published: Dispatcher, db: Database,
                                                              tmp_path: Path) -> None:
    text, _ = run(published, tmp_path, [
        "deploy checked-form", "4", "kept",   # step 1 is submitted
        STOP,                                  # Ctrl-C at the tags prompt of step 2
        "deploy checked-form", "1",            # the offer: [1] Resume
        "{}", "", "",                          # step 2, then leave the review
        "quit",
    ])
    assert "Cancelled" in text and "step 2 of 2" in text and "nothing was deployed or charged" in text
    review = text[text.rindex("Deploy checked-form?"):]
    assert "size` = 4" in review and 'label` = "kept"' in review
    with db.unit_of_work() as s:
        assert len(s.scalars(select(DeployDraft)).all()) == 1 and s.scalars(select(Deployment)).all() == []


def test_ctrl_c_inside_the_first_step_keeps_its_answers_and_offers_resume(published: Dispatcher, db: Database,
                                                                         tmp_path: Path) -> None:
    text, script = run(published, tmp_path, [
        "deploy checked-form", "4",            # size answered
        STOP,                                  # Ctrl-C at the label prompt, still in step 1
        "deploy checked-form", "1",            # the same neutral offer as Slack and Discord: [1] Resume
        "", "kept",                            # Enter keeps the size given before the Ctrl-C
        "{}", "", "",                          # step 2, then leave the review
        "quit",
    ])
    assert "the answers you gave are kept" in text and "nothing of this step was sent" not in text
    offer = text[text.index("You left a form"):]
    assert "at step 1 of 2" in offer and "[1] Resume" in offer and "[2] Start again" in offer
    assert "size [4]: " in script.prompts
    review = text[text.rindex("Deploy checked-form?"):]
    assert "size` = 4" in review and 'label` = "kept"' in review
    with db.unit_of_work() as s:
        assert len(s.scalars(select(DeployDraft)).all()) == 1 and s.scalars(select(Deployment)).all() == []


def test_start_again_forgets_the_answers_of_a_form_left_halfway(published: Dispatcher, db: Database,
                                                                tmp_path: Path) -> None:
    text, script = run(published, tmp_path, [
        "deploy checked-form", "4", STOP,      # left halfway, the size kept
        "deploy checked-form", "2",            # [2] Start again
        STOP,                                  # and left at once: nothing given, nothing offered next time
        "deploy checked-form", STOP,
        "quit",
    ])
    assert text.count("You left a form") == 1
    assert [p for p in script.prompts if p.startswith("size")] == ["size: ", "size: ", "size: "]
    with db.unit_of_work() as s:
        assert all(d.values == {} for d in s.scalars(select(DeployDraft)))


def test_a_300_input_module_is_deployed_in_steps(published: Dispatcher, db: Database, tmp_path: Path) -> None:
    answers: list[Any] = ["deploy wide-form"]
    for n in range(WIDE):  # every field in order; Enter keeps a default
        answers.append(f"text {n}" if n % 3 == 0 else "")
    answers += ["1", "quit"]  # [1] Confirm
    text, _ = run(published, tmp_path, answers)
    assert text.count("== Deploy wide-form") == 6 and "(step 6 of 6)" in text
    assert "is queued" in text
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.inputs == {f"v{n:03}": (f"text {n}" if n % 3 == 0 else n if n % 3 == 1 else f"d{n}")
                                     for n in range(WIDE)}
