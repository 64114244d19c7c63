"""Deploy form steps through the dispatcher: repeats change nothing twice, part checks keep the good values, a
resumed form keeps its sealed values, and a forged step number or a stranger's draft is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo import seed
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Form, FormErrors, Reply
from core.accounts.identity import Caller, IdentityKey
from storage.db import Database
from storage.models import CreditTransaction, DeployDraft, Deployment
from tests.e2e.test_deploy_form_checks import CHECKED, module

ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
EVE = Caller(IdentityKey("slack", "T1", "UEVE"), "Eve")
SECRET = '''
variable "token" {
  description = "{{UIMeta group=1 order=1}}"
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.token) >= 8
    error_message = "The token has at least 8 characters."
  }
}
variable "note" {
  description = "{{UIMeta group=2 order=1}}"
  type        = string
}
'''


@pytest.fixture
def published(dispatcher: Dispatcher, db: Database, tmp_path: Path) -> Dispatcher:
    root = tmp_path / "modules"
    module(root, "checked-form", CHECKED)
    module(root, "secret-form", SECRET)
    module(root, "costly-form", CHECKED, cost=10)
    module(root, "costly-note", "", cost=10)
    seed(db, dispatcher.services, ADMIN, root)
    dispatcher.run_text(EVE, "whoami")
    return dispatcher


def button(reply: Reply, label: str) -> Button:
    return next(a for a in reply.actions if isinstance(a, Button) and a.label == label)


def test_a_repeated_step_and_a_double_confirm_apply_once(published: Dispatcher, db: Database) -> None:
    form = published.run_text(ADMIN, "deploy checked-form")
    assert isinstance(form, Form) and form.part_action == "deploy:part"
    first = published.submit_form(ADMIN, form.action_id, {"size": "2", "label": "a"}, form.state)
    again = published.submit_form(ADMIN, form.action_id, {"size": "2", "label": "a"}, form.state)  # a double submit
    assert isinstance(first, Form) and first == again  # the same next step
    review = published.submit_form(ADMIN, first.action_id, {"tags": "{}"}, first.state)
    review_again = published.submit_form(ADMIN, first.action_id, {"tags": "{}"}, first.state)
    assert isinstance(review, Reply) and isinstance(review_again, Reply)
    token = button(review, "Confirm").value
    assert button(review_again, "Confirm").value == token  # one draft
    for _ in range(2):
        queued = published.run_action(ADMIN, ActionEvent("deploy:confirm", token))
        assert isinstance(queued, Reply) and "is queued" in queued.text
    with db.unit_of_work() as s:
        [deployment] = s.scalars(select(Deployment)).all()
        assert deployment.inputs == {"size": 2, "label": "a", "tags": {}}
        assert [t.kind for t in s.scalars(select(CreditTransaction))].count("HOLD") <= 1  # free module: none


def test_a_part_check_keeps_the_good_values_and_names_the_bad_ones(published: Dispatcher, db: Database) -> None:
    form = published.run_text(ADMIN, "deploy checked-form")
    assert isinstance(form, Form)
    checked = published.submit_form(ADMIN, "deploy:part", {"size": "12", "label": "fine"}, form.state)
    assert checked == FormErrors({"size": "The size must be between 1 and 10."})
    with db.unit_of_work() as s:
        assert s.scalars(select(DeployDraft)).one().values == {"label": "fine"}  # kept for a resume
    assert published.submit_form(ADMIN, "deploy:part", {"size": "5"}, form.state) == FormErrors({})
    offer = published.run_text(ADMIN, "deploy checked-form")  # the form was closed: resume it
    assert isinstance(offer, Reply) and "step 1 of 2" in offer.text
    resumed = published.run_action(ADMIN, ActionEvent("deploy:resume", button(offer, "Resume").value))
    assert isinstance(resumed, Form)
    assert {i.name: i.default for i in resumed.inputs} == {"size": "5", "label": "fine"}


def test_a_resumed_form_keeps_a_sensitive_value_left_empty(published: Dispatcher, db: Database) -> None:
    form = published.run_text(ADMIN, "deploy secret-form")
    assert isinstance(form, Form)
    short = published.submit_form(ADMIN, form.action_id, {"token": "short"}, form.state)
    assert short == FormErrors({"token": "The token has at least 8 characters."})
    second = published.submit_form(ADMIN, form.action_id, {"token": "long-enough-secret"}, form.state)
    assert isinstance(second, Form)
    offer = published.run_text(ADMIN, "deploy secret-form")
    assert isinstance(offer, Reply)
    token = button(offer, "Resume").value
    stranger = published.run_action(EVE, ActionEvent("deploy:resume", token))
    assert isinstance(stranger, Reply) and "belongs to someone else" in stranger.text
    first_step = published.submit_form(ADMIN, form.action_id, {"token": ""}, form.state)  # left empty: kept
    assert isinstance(first_step, Form)
    review = published.submit_form(ADMIN, first_step.action_id, {"note": "n"}, first_step.state)
    assert isinstance(review, Reply) and "`token` = ••••••" in review.cards[0].text
    assert "long-enough-secret" not in repr(review)
    forged = published.submit_form(ADMIN, form.action_id, {"token": "x"}, form.state.split(":")[0] + ":99")
    assert forged == FormErrors({"token": "The token has at least 8 characters."})  # read as the first step


def test_a_form_resumed_after_the_credits_went_is_refused_before_its_step(published: Dispatcher) -> None:
    published.run_text(ADMIN, "admin credits <@UADMIN> award 10 welcome")
    form = published.run_text(ADMIN, "deploy costly-form")
    assert isinstance(form, Form)
    assert isinstance(published.submit_form(ADMIN, form.action_id, {"size": "1", "label": "a"}, form.state), Form)
    offer = published.run_text(ADMIN, "deploy costly-form")
    assert isinstance(offer, Reply)
    other = published.run_text(ADMIN, "deploy costly-note")  # no inputs: straight to its confirmation
    assert isinstance(other, Reply)
    published.run_action(ADMIN, ActionEvent("deploy:confirm", button(other, "Confirm").value))  # holds the 10
    for label, action_id in (("Resume", "deploy:resume"), ("Start again", "deploy:restart")):
        refused = published.run_action(ADMIN, ActionEvent(action_id, button(offer, label).value))
        assert isinstance(refused, Reply) and "credits short" in refused.text, label
        assert "No form was opened" in refused.text
