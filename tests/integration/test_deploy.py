"""Deploying through the dispatcher, run by the real worker with the embedded Terraform engine."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.runtime import Runtime
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Form, Reply
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.credits import service as credits
from core.deployments import queue as run_queue
from core.deployments import service as deployments
from core.deployments.status import DeploymentAction, DeploymentRunStatus, DeploymentStatus
from storage.db import Database
from storage.models import CreditTransaction, DeployDraft, Deployment, DeploymentRun, Module, User, utcnow
from tests.support.engines import embedded_terraform

ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
UMA = Caller(IdentityKey("slack", "T1", "UUMA"), "Uma")


@pytest.fixture
def platform(dispatcher: Dispatcher, db: Database) -> Dispatcher:
    """The example modules published as platform modules, and Uma with 100 awarded credits."""
    seed(db, dispatcher.services, Caller(IdentityKey("console", "", "demo-admin"), "demo"))
    dispatcher.run_text(UMA, "whoami")
    dispatcher.run_text(ADMIN, "admin credits <@UUMA> award 100 welcome")
    return dispatcher


@pytest.fixture
def worker(platform: Dispatcher, config: Config) -> DeployWorker:
    """A deploy worker using the embedded engine (whatever Terraform this machine has on PATH)."""
    runtime = Runtime(config, platform.db, platform.registry, platform)
    return DeployWorker(runtime, {}, name="test-worker", terraform=embedded_terraform)


def fill(dispatcher: Dispatcher, caller: Caller, outcome: object, answers: dict[str, str]) -> Reply:
    """Submit every step of a deploy form with the defaults, overridden by ``answers``."""
    while isinstance(outcome, Form):
        values = {i.name: answers.get(i.name, i.default) for i in outcome.inputs}
        outcome = dispatcher.submit_form(caller, outcome.action_id, values, outcome.state)
    assert isinstance(outcome, Reply), outcome
    return outcome


def confirm_button(reply: Reply) -> Button | None:
    return next((a for a in reply.actions if isinstance(a, Button) and a.action_id == "deploy:confirm"), None)


def planned_run(db: Database) -> int:
    """The id of the one run whose plan waits for review."""
    with db.unit_of_work() as s:
        return s.scalars(select(DeploymentRun.id).where(DeploymentRun.status == DeploymentRunStatus.PLANNED)).one()


def apply_plan(platform: Dispatcher, worker: DeployWorker, db: Database, caller: Caller = UMA) -> Reply:
    """Apply the plan waiting for review (as ``caller``), then let the worker apply it; the click's answer."""
    applied = platform.run_action(caller, ActionEvent("plan:apply", str(planned_run(db))))
    assert isinstance(applied, Reply) and "Applying the reviewed plan" in applied.text, applied
    assert worker.run_once()
    return applied


def available(db: Database, name: str = "Uma") -> Decimal:
    with db.unit_of_work() as s:
        user = s.scalars(select(User).where(User.display_name == name)).one()
        return credits.balance(s, user).available_total


def test_deploy_confirm_run_and_charge_once(platform: Dispatcher, worker: DeployWorker, db: Database) -> None:
    form = platform.run_text(UMA, "deploy network-plan")
    assert isinstance(form, Form) and form.state.endswith(":0") and form.submit_label == "Next"
    review = fill(platform, UMA, form, {"network_name": "lab"})
    assert "Cost" in str(review.cards[0].fields) and "50 credits" in str(review.cards[0].fields)
    button = confirm_button(review)
    assert button is not None
    queued = platform.run_action(UMA, ActionEvent("deploy:confirm", button.value))
    again = platform.run_action(UMA, ActionEvent("deploy:confirm", button.value))  # a double click
    assert isinstance(queued, Reply) and isinstance(again, Reply) and queued.text == again.text
    assert available(db) == Decimal(50)  # held
    assert worker.run_once() and not worker.run_once()
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS and deployment.charged and deployment.outputs
        assert s.scalars(select(Module).where(Module.name == "network-plan")).one().deployment_count == 1
        kinds = [t.kind for t in s.scalars(select(CreditTransaction).order_by(CreditTransaction.id))]
        assert kinds.count("HOLD") == 1 and kinds.count("SPEND") == 1
        short = deployment.short_id
    assert available(db) == Decimal(50)
    shown = platform.run_text(UMA, f"deployment {short}")
    assert isinstance(shown, Reply) and "success" in str(shown.cards[0].fields[0])


def test_short_credits_and_missing_dependencies_are_said_before_the_form(platform: Dispatcher, db: Database) -> None:
    refused = platform.run_text(UMA, "deploy static-site")
    assert isinstance(refused, Reply) and confirm_button(refused) is None
    assert "Deploy `network-plan` first" in refused.text and "No form was opened" in refused.text
    poor = Caller(IdentityKey("slack", "T1", "UPOOR"), "Poor")
    refused = platform.run_text(poor, "deploy network-plan")
    assert isinstance(refused, Reply) and confirm_button(refused) is None
    assert "credits short: this needs" in refused.text and "INSUFFICIENT" not in refused.text
    assert "Ask an admin or finance to add credits to your account: Ada, demo or Fin Ance." in refused.text, \
        "it names whom to ask"
    with db.unit_of_work() as s:
        assert s.scalars(select(DeployDraft)).all() == []  # no form was started


def test_bad_values_stay_on_the_field(platform: Dispatcher) -> None:
    form = platform.run_text(UMA, "deploy network-plan")
    assert isinstance(form, Form)
    values = {i.name: i.default for i in form.inputs}
    values["region"] = "mars-north1"
    errors = platform.submit_form(UMA, form.action_id, values, form.state)
    assert "must be one of" in str(errors)


def test_a_failed_run_releases_the_hold(platform: Dispatcher, worker: DeployWorker, db: Database) -> None:
    review = fill(platform, UMA, platform.run_text(UMA, "deploy network-plan"), {"cidr_block": "10.10.0.0/30"})
    button = confirm_button(review)
    assert button is not None
    platform.run_action(UMA, ActionEvent("deploy:confirm", button.value))
    worker.run_once()
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        run = s.scalars(select(DeploymentRun)).one()
        assert deployment.status == DeploymentStatus.FAILURE and not deployment.charged and run.error
    assert available(db) == Decimal(100)


def test_destroy_cancel_purge_and_rate(platform: Dispatcher, worker: DeployWorker, db: Database) -> None:
    for _ in range(2):
        review = fill(platform, UMA, platform.run_text(UMA, "deploy budget-alerts"), {})
        platform.run_action(UMA, ActionEvent("deploy:confirm", confirm_button(review).value))  # type: ignore[union-attr]
    with db.unit_of_work() as s:
        first, second = (d.short_id for d in s.scalars(select(Deployment).order_by(Deployment.id)))
    assert worker.run_once()  # the first runs; the second is still queued
    cancelled = platform.run_action(UMA, ActionEvent("deployment:cancel", second))
    assert isinstance(cancelled, Reply) and "cancelled" in cancelled.text
    rated = platform.run_action(UMA, ActionEvent("deployment:rate", first, ("4",)))
    assert isinstance(rated, Reply) and "averages 4.0" in rated.text
    platform.run_action(UMA, ActionEvent("deployment:rate", first, ("2",)))
    with db.unit_of_work() as s:
        module = s.scalars(select(Module).where(Module.name == "budget-alerts")).one()
        assert (module.rating_sum, module.rating_count) == (2, 1)  # a changed rating replaces the old one
    other = Caller(IdentityKey("slack", "T1", "UOTHER"), "Other")
    refused = platform.run_action(other, ActionEvent("deployment:destroy", first))
    assert isinstance(refused, Reply) and "There is no deployment" in refused.text
    platform.run_action(UMA, ActionEvent("deployment:destroy", first))
    assert worker.run_once()  # the destroy's plan waits for review
    apply_plan(platform, worker, db)
    with db.unit_of_work() as s:
        destroyed = s.scalars(select(Deployment).where(Deployment.short_id == first)).one()
        assert destroyed.status == DeploymentStatus.DELETED
    platform.run_action(UMA, ActionEvent("deployment:purge", first))
    with db.unit_of_work() as s:
        assert [d.short_id for d in s.scalars(select(Deployment))] == [second]


def test_a_run_whose_worker_died_becomes_an_internal_error(platform: Dispatcher, worker: DeployWorker,
                                                           db: Database) -> None:
    review = fill(platform, UMA, platform.run_text(UMA, "deploy network-plan"), {})
    platform.run_action(UMA, ActionEvent("deploy:confirm", confirm_button(review).value))  # type: ignore[union-attr]
    with db.unit_of_work() as s:
        run = run_queue.claim_run(s, "dead-worker", utcnow() - timedelta(minutes=10))
        assert run is not None
    with db.unit_of_work() as s:
        assert run_queue.fail_abandoned(s, utcnow())
    with db.unit_of_work() as s:
        assert s.scalars(select(Deployment)).one().status == DeploymentStatus.INTERNAL_ERROR
    assert available(db) == Decimal(100)


def deploy_button(platform: Dispatcher, caller: Caller, module: str, answers: dict[str, str] | None = None) -> str:
    review = fill(platform, caller, platform.run_text(caller, f"deploy {module}"), answers or {})
    button = confirm_button(review)
    assert button is not None, review.text
    return button.value


def test_update_is_not_charged_and_keeps_sensitive_values(platform: Dispatcher, worker: DeployWorker,
                                                          db: Database) -> None:
    platform.run_text(ADMIN, "admin credits <@UUMA> award 400 more")
    token = deploy_button(platform, UMA, "budget-alerts", {"webhook_secret": "hook-s3cret-value"})
    platform.run_action(UMA, ActionEvent("deploy:confirm", token))
    assert worker.run_once()
    with db.unit_of_work() as s:
        short = s.scalars(select(Deployment)).one().short_id
    form = platform.run_action(UMA, ActionEvent("deployment:update", short))
    assert isinstance(form, Form) and form.title.startswith("Update")
    review = fill(platform, UMA, form, {"monthly_budget": "250"})  # the secret is left empty: kept
    assert "updates are not charged" in str(review.cards[0].fields)
    before = available(db)
    platform.run_action(UMA, ActionEvent("deploy:confirm", confirm_button(review).value))  # type: ignore[union-attr]
    assert worker.run_once()  # the update's plan waits for review
    apply_plan(platform, worker, db)
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        runs = [(r.action, r.status) for r in s.scalars(select(DeploymentRun).order_by(DeploymentRun.id))]
        assert runs == [(DeploymentAction.CREATE, DeploymentRunStatus.SUCCESS),
                        (DeploymentAction.UPDATE, DeploymentRunStatus.SUCCESS)]
        assert deployment.inputs["monthly_budget"] == 250
        box = platform.services.secrets
        assert deployments.sensitive_inputs(s, box, deployment) == {"webhook_secret": "hook-s3cret-value"}
        dump = repr([repr(r) for r in s.scalars(select(DeploymentRun))]) + repr(deployment.inputs)
        assert "hook-s3cret-value" not in dump
    assert available(db) == before


def test_confirm_after_the_module_was_removed(platform: Dispatcher, db: Database) -> None:
    token = deploy_button(platform, UMA, "network-plan")
    with db.unit_of_work() as s:
        s.delete(s.scalars(select(Module).where(Module.name == "network-plan")).one())
    answer = platform.run_action(UMA, ActionEvent("deploy:confirm", token))
    assert isinstance(answer, Reply) and "That module was removed from the catalog" in answer.text


def test_credits_gone_by_confirm_time(platform: Dispatcher, db: Database) -> None:
    first, second = deploy_button(platform, UMA, "network-plan"), deploy_button(platform, UMA, "network-plan")
    platform.run_action(UMA, ActionEvent("deploy:confirm", first))
    platform.run_text(UMA, "whoami")
    third = deploy_button(platform, UMA, "network-plan")  # still affordable: 50 left
    platform.run_action(UMA, ActionEvent("deploy:confirm", third))
    refused = platform.run_action(UMA, ActionEvent("deploy:confirm", second))
    assert isinstance(refused, Reply) and "Not enough credits: this needs 50 credits" in refused.text
    with db.unit_of_work() as s:
        assert len(s.scalars(select(Deployment)).all()) == 2


def test_concurrent_confirms_never_overdraw(platform: Dispatcher, db: Database) -> None:
    import threading

    tokens = [deploy_button(platform, UMA, "network-plan") for _ in range(6)]
    answers: list[str] = []

    def press(token: str) -> None:
        outcome = platform.run_action(UMA, ActionEvent("deploy:confirm", token))
        answers.append(outcome.text if isinstance(outcome, Reply) else "")

    threads = [threading.Thread(target=press, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum("is queued" in a for a in answers) == 2  # 100 credits, 50 each
    assert sum("Not enough credits" in a for a in answers) == 4
    assert available(db) == 0


def test_a_run_past_its_timeout_is_stopped_and_released(platform: Dispatcher, config: Config, db: Database,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    import dataclasses
    import os
    import sys

    from core.terraform.engine import BinaryEngine
    from core.terraform.launch import terraform_for

    script = tmp_path_factory.mktemp("engine") / "slow-terraform"  # hangs in the sandbox, at its first command
    script.write_text(f"#!{os.path.realpath(sys.executable)} -I\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    slow = dataclasses.replace(config, deploy_timeout=2.0)
    runtime = Runtime(slow, platform.db, platform.registry, platform)
    worker = DeployWorker(runtime, {}, name="slow", terraform=lambda cfg: terraform_for(
        cfg, engine=BinaryEngine(str(script), cfg.data_dir / "plugins")))
    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "network-plan")))
    assert worker.run_once()
    with db.unit_of_work() as s:
        assert s.scalars(select(Deployment)).one().status == DeploymentStatus.TIMEOUT
    assert available(db) == Decimal(100)


def second_queued_run(db: Database) -> int:
    """A second queued run of the only deployment (written straight to the table: queueing refuses it, so this
    is the state a bug or a race could leave); the deployment's id."""
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment)).one()
        s.add(DeploymentRun(deployment_id=deployment.id, action=DeploymentAction.UPDATE,
                            status=DeploymentRunStatus.QUEUED, created_at=utcnow()))
        return deployment.id


def working_per_deployment(db: Database) -> dict[int, int]:
    with db.unit_of_work() as s:
        rows = s.scalars(select(DeploymentRun).where(DeploymentRun.status == DeploymentRunStatus.WORKING)).all()
        return {d: sum(r.deployment_id == d for r in rows) for d in {r.deployment_id for r in rows}}


def test_a_deployment_with_a_working_run_is_never_claimed_again(platform: Dispatcher, db: Database) -> None:
    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "budget-alerts")))
    busy = second_queued_run(db)
    with db.unit_of_work() as s:
        first = run_queue.claim_run(s, "worker-a", utcnow())
        assert first is not None and first.deployment_id == busy
    with db.unit_of_work() as s:
        assert run_queue.claim_run(s, "worker-b", utcnow()) is None  # its other run waits
    with db.unit_of_work() as s:
        run_queue.finish_run(s, first.id, run_queue.Finished(DeploymentRunStatus.SUCCESS), utcnow())
    with db.unit_of_work() as s:
        second = run_queue.claim_run(s, "worker-b", utcnow())
        assert second is not None and (second.deployment_id, second.action) == (busy, DeploymentAction.UPDATE)


def test_two_claimers_at_once_take_different_deployments(platform: Dispatcher, db: Database) -> None:
    import threading
    import time

    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "budget-alerts")))
    busy = second_queued_run(db)  # queued before the other deployment's run: B meets it first
    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "network-plan")))
    claimed: dict[str, int | None] = {}

    def claim(worker: str) -> None:
        with db.unit_of_work() as s:
            run = run_queue.claim_run(s, worker, utcnow())
            claimed[worker] = run.deployment_id if run else None

    with db.unit_of_work() as s:  # worker A holds its claim open while worker B claims
        first = run_queue.claim_run(s, "worker-a", utcnow())
        assert first is not None and first.deployment_id == busy
        other = threading.Thread(target=claim, args=("worker-b",))
        other.start()
        time.sleep(0.5)  # PostgreSQL: B claims now, past A's locks; SQLite: B waits for A's write lock
    other.join(30)
    with db.unit_of_work() as s:
        elsewhere = s.scalars(select(Deployment.id).where(Deployment.id != busy)).one()
    assert claimed == {"worker-b": elsewhere}
    claim("worker-c")
    assert claimed["worker-c"] is None  # what is left is the second run of A's deployment
    assert working_per_deployment(db) == {busy: 1, elsewhere: 1}


STATEMENTS_PER_DEPLOYMENT = 36
"""What one deployment's run may send at most, half of the 73 it sent before: the owner, deployment and module
are read once, at the claim, Terraform's reads of the state are answered from memory after the first, and chat
is posted by a thread of its own (SQLite's BEGIN IMMEDIATE, which PostgreSQL does not send, is not counted)."""


def test_a_deployment_run_reads_each_thing_once(platform: Dispatcher, worker: DeployWorker, db: Database) -> None:
    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "network-plan")))
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement != "BEGIN IMMEDIATE":
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert worker.run_once()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert sum("FROM users" in s for s in sent) == 1  # the owner's mention, once
    assert len(sent) <= STATEMENTS_PER_DEPLOYMENT, "\n".join(sent)
    with db.unit_of_work() as s:
        assert s.scalars(select(Deployment.status)).one() == DeploymentStatus.SUCCESS
