"""A CREATE that never succeeded stays a create: Update or Retry holds the cost anew and is charged once.

Runs are claimed and finished with the worker's own core calls (``claim_run``, ``finish_run``), so these
tests hold whatever engine runs Terraform; ``test_retry_through_the_worker`` runs the real worker too.
``retry_scenario`` is the end-to-end story each front door runs (tests/e2e/test_slack_deploy.py and
tests/e2e/test_discord_deploy.py give it a ``Door``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.deploy_worker import DeployWorker
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.handlers import deployment_notices as notices
from commands.ui.model import Button, Form, Reply
from commands.views.deployment import result_reply
from core.credits import service as credits
from core.credits.ledger import check_balances
from core.deployments import queue as run_queue
from core.deployments import service as deployments
from core.deployments.queue import Finished
from core.deployments.status import DeploymentAction as Action
from core.deployments.status import DeploymentRunStatus as Run
from core.deployments.status import DeploymentStatus
from core.errors import Conflict
from storage.db import Database
from storage.models import CreditTransaction, Deployment, DeploymentRun, Job, Module, User, utcnow
from tests.integration.test_deploy import ADMIN, UMA, available, deploy_button, fill, platform, worker

__all__ = ["platform", "worker"]


def end_run(db: Database, status: Run) -> str:
    """Claim the next queued run as a worker would and end it with ``status``; the deployment's short id."""
    with db.unit_of_work() as s:
        run = run_queue.claim_run(s, "test-worker", utcnow())
        assert run is not None, "nothing was queued"
        return run_queue.finish_run(s, run.id, Finished(status, outputs={"ok": True}), utcnow()).short_id


def deployed_and_failed(platform: Dispatcher, db: Database, module: str = "network-plan",
                        status: Run = Run.FAILURE) -> str:
    """A confirmed deployment of ``module`` whose CREATE ended with ``status``; its short id."""
    queued = platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, module)))
    assert isinstance(queued, Reply) and "is queued" in queued.text, queued
    return end_run(db, status)


def ledger(db: Database, name: str = "Uma") -> list[str]:
    """The user's transactions (``"HOLD 50"``), oldest first, after checking the balance equals their sum."""
    with db.unit_of_work() as s:
        return ledger_of(s, s.scalars(select(User).where(User.display_name == name)).one())


def ledger_of(s: Session, user: User) -> list[str]:
    assert check_balances(s, user.id) == []
    rows = s.scalars(select(CreditTransaction).where(CreditTransaction.user_id == user.id)
                     .order_by(CreditTransaction.id))
    return [f"{r.kind} {r.amount.normalize():f}" for r in rows]


def button(reply: object, action_id: str) -> Button | None:
    assert isinstance(reply, Reply), reply
    return next((a for a in reply.actions if isinstance(a, Button) and a.action_id == action_id), None)


def card_fields(reply: Reply) -> dict[str, str]:
    return {f.label: f.value for f in reply.cards[0].fields}


def runs(db: Database, short: str) -> list[tuple[Action, Run]]:
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        return [(r.action, r.status) for r in s.scalars(select(DeploymentRun).where(
            DeploymentRun.deployment_id == deployment.id).order_by(DeploymentRun.id))]


def test_retry_holds_anew_and_is_charged_once(platform: Dispatcher, db: Database) -> None:
    short = deployed_and_failed(platform, db)
    assert available(db) == Decimal(100)  # the failed CREATE released its hold
    card = platform.run_text(UMA, f"deployment {short}")
    retry = button(card, "deployment:retry")
    assert retry is not None and retry.value == short and button(card, "deployment:update") is not None

    review = platform.run_action(UMA, ActionEvent("deployment:retry", short))
    assert isinstance(review, Reply) and review.cards[0].title == "Retry network-plan?"
    assert {"Cost": "50 credits", "Available": "100 credits", "Deployment": f"`{short}`"}.items() \
        <= card_fields(review).items()
    confirm = button(review, "deploy:confirm")
    assert confirm is not None
    first = platform.run_action(UMA, ActionEvent("deploy:confirm", confirm.value))
    second = platform.run_action(UMA, ActionEvent("deploy:confirm", confirm.value))  # a double click
    assert isinstance(first, Reply) and isinstance(second, Reply) and first.text == second.text
    assert f"`{short}`" in first.text and "(create)" in first.text
    assert available(db) == Decimal(50)  # one new hold
    assert runs(db, short) == [(Action.CREATE, Run.FAILURE), (Action.CREATE, Run.QUEUED)]

    end_run(db, Run.SUCCESS)
    assert ledger(db) == ["AWARD 100", "HOLD 50", "RELEASE 50", "HOLD 50", "SPEND 50"]
    assert available(db) == Decimal(50)
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        assert deployment.charged and deployment.status == DeploymentStatus.SUCCESS
        assert deployments.created(s, deployment)
        assert s.scalars(select(Module).where(Module.name == "network-plan")).one().deployment_count == 1
    assert button(platform.run_text(UMA, f"deployment {short}"), "deployment:retry") is None


def test_update_of_a_never_created_deployment_is_a_charged_create(platform: Dispatcher, db: Database) -> None:
    short = deployed_and_failed(platform, db, status=Run.TIMEOUT)
    form = platform.run_action(UMA, ActionEvent("deployment:update", short))
    assert isinstance(form, Form) and form.title == "Retry network-plan"
    review = fill(platform, UMA, form, {"network_name": "second-try"})
    assert card_fields(review)["Cost"] == "50 credits" and "not charged" not in str(review.cards)
    platform.run_action(UMA, ActionEvent("deploy:confirm", button(review, "deploy:confirm").value))  # type: ignore[union-attr]
    assert available(db) == Decimal(50) and runs(db, short)[-1] == (Action.CREATE, Run.QUEUED)
    end_run(db, Run.FAILURE)  # failed again: released again
    assert available(db) == Decimal(100)
    assert ledger(db)[1:] == ["HOLD 50", "RELEASE 50", "HOLD 50", "RELEASE 50"]


def test_updates_of_a_created_deployment_stay_free(platform: Dispatcher, db: Database) -> None:
    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "network-plan")))
    short = end_run(db, Run.SUCCESS)
    for outcome in (Run.FAILURE, Run.SUCCESS):  # a failed update is no reason to charge the next one
        form = platform.run_action(UMA, ActionEvent("deployment:update", short))
        assert isinstance(form, Form) and form.title == "Update network-plan"
        review = fill(platform, UMA, form, {})
        assert card_fields(review)["Cost"] == "updates are not charged"
        platform.run_action(UMA, ActionEvent("deploy:confirm", button(review, "deploy:confirm").value))  # type: ignore[union-attr]
        end_run(db, outcome)
        assert button(platform.run_text(UMA, f"deployment {short}"), "deployment:retry") is None
    assert runs(db, short) == [(Action.CREATE, Run.SUCCESS), (Action.UPDATE, Run.FAILURE), (Action.UPDATE, Run.SUCCESS)]
    assert ledger(db) == ["AWARD 100", "HOLD 50", "SPEND 50"]
    refused = platform.run_action(UMA, ActionEvent("deployment:retry", short))
    assert isinstance(refused, Reply) and "was created" in refused.text and "/rad deployment" in refused.text


def test_retry_short_of_credits_is_refused_with_the_first_deploys_code(platform: Dispatcher, db: Database) -> None:
    short = deployed_and_failed(platform, db, status=Run.INTERNAL_ERROR)
    early = button(platform.run_action(UMA, ActionEvent("deployment:retry", short)), "deploy:confirm")
    assert early is not None
    for _ in range(2):  # two new deployments hold all 100 credits
        platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "network-plan")))
    review = platform.run_action(UMA, ActionEvent("deployment:retry", short))
    assert button(review, "deploy:confirm") is None
    assert isinstance(review, Reply) and "credits short" in review.text and "INSUFFICIENT" not in review.text
    refused = platform.run_action(UMA, ActionEvent("deploy:confirm", early.value))
    assert isinstance(refused, Reply) and "Not enough credits" in refused.text and "/rad credits" in refused.text
    assert runs(db, short) == [(Action.CREATE, Run.INTERNAL_ERROR)]
    assert [row.split()[0] for row in ledger(db)].count("HOLD") == 3 and available(db) == 0


def test_a_purchased_only_retry_needs_purchased_credits(platform: Dispatcher, db: Database) -> None:
    platform.run_text(ADMIN, "admin credits <@UUMA> purchase 130 top-up")
    short = deployed_and_failed(platform, db, module="data-bucket")
    platform.run_action(UMA, ActionEvent("deploy:confirm", deploy_button(platform, UMA, "data-bucket")))
    review = platform.run_action(UMA, ActionEvent("deployment:retry", short))
    assert isinstance(review, Reply) and "purchased credits short" in review.text
    assert card_fields(review)["Available"] == "9.5 purchased credits" and button(review, "deploy:confirm") is None
    assert available(db) == Decimal("109.5")  # 100 awarded are there, but cannot pay this module


def test_a_partners_own_module_retries_free(platform: Dispatcher, db: Database) -> None:
    with db.unit_of_work() as s:
        uma = s.scalars(select(User).where(User.display_name == "Uma")).one()
        s.scalars(select(Module).where(Module.name == "network-plan")).one().owner_id = uma.id
    short = deployed_and_failed(platform, db)
    review = platform.run_action(UMA, ActionEvent("deployment:retry", short))
    assert isinstance(review, Reply) and card_fields(review)["Cost"] == "0 credits (your own module)"
    platform.run_action(UMA, ActionEvent("deploy:confirm", button(review, "deploy:confirm").value))  # type: ignore[union-attr]
    end_run(db, Run.SUCCESS)
    assert available(db) == Decimal(100)
    assert ledger(db)[1:] == ["HOLD 0", "RELEASE 0", "HOLD 0", "SPEND 0"]


def test_only_the_owner_deploys_a_never_created_deployment_again(platform: Dispatcher, db: Database) -> None:
    short = deployed_and_failed(platform, db)
    for action_id in ("deployment:retry", "deployment:update"):
        refused = platform.run_action(ADMIN, ActionEvent(action_id, short))
        assert isinstance(refused, Reply) and "only its owner" in refused.text, refused
    assert runs(db, short) == [(Action.CREATE, Run.FAILURE)] and ledger(db, "Ada") == []


def test_a_used_confirmation_never_holds_or_queues_again(platform: Dispatcher, db: Database) -> None:
    token = deploy_button(platform, UMA, "network-plan")
    platform.run_action(UMA, ActionEvent("deploy:confirm", token))
    short = end_run(db, Run.FAILURE)
    retried = button(platform.run_action(UMA, ActionEvent("deployment:retry", short)), "deploy:confirm")
    platform.run_action(UMA, ActionEvent("deploy:confirm", retried.value))  # type: ignore[union-attr]
    end_run(db, Run.FAILURE)
    box = platform.services.secrets
    with db.unit_of_work() as s:  # the first confirmation's key again, straight into the core
        uma = s.scalars(select(User).where(User.display_name == "Uma")).one()
        module = s.scalars(select(Module).where(Module.name == "network-plan")).one()
        deployment = s.scalars(select(Deployment)).one()
        with pytest.raises(Conflict, match="already used"):
            deployments.create(s, box, uma, module, {}, {}, token, utcnow())
        with pytest.raises(Conflict, match="already used"):
            deployments.queue_update(s, box, uma, deployment, {}, {}, token, utcnow())
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Deployment)) == 1
    assert runs(db, short) == [(Action.CREATE, Run.FAILURE), (Action.CREATE, Run.FAILURE)]
    assert available(db) == Decimal(100)


def test_the_result_of_a_failed_create_offers_retry(platform: Dispatcher, db: Database) -> None:
    short = deployed_and_failed(platform, db)
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        failed = result_reply(deployment, "<@UUMA>", "boom", "", "")  # public: no button, it says where Retry is
        assert failed.actions == () and "Retry is in their direct messages" in failed.text
        notices.offer_retry(s, deployment, 7)
        notices.offer_retry(s, deployment, 7)  # once per run
        [offer] = [j.payload for j in s.scalars(select(Job).where(Job.kind == "chat.post"))
                   if j.payload["key"].startswith("deployment-retry:7:")]
        assert offer["user"]["external_id"] == "UUMA" and "50 credits" in offer["text"]
        assert [(b["label"], b["action_id"], b["value"]) for b in offer["buttons"]] == [
            ("Retry", "deployment:retry", short)]
    platform.run_action(UMA, ActionEvent("deploy:confirm", button(
        platform.run_action(UMA, ActionEvent("deployment:retry", short)), "deploy:confirm").value))  # type: ignore[union-attr]
    end_run(db, Run.SUCCESS)
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        assert result_reply(deployment, "<@UUMA>", "", "", "").actions == ()
        # a failed update of a created deployment
        deployment.action, deployment.status = Action.UPDATE, DeploymentStatus.FAILURE
        assert result_reply(deployment, "<@UUMA>", "boom", "", "").actions == ()


def test_retry_through_the_worker(platform: Dispatcher, worker: DeployWorker, db: Database) -> None:
    review = fill(platform, UMA, platform.run_text(UMA, "deploy network-plan"), {"cidr_block": "10.10.0.0/30"})
    platform.run_action(UMA, ActionEvent("deploy:confirm", button(review, "deploy:confirm").value))  # type: ignore[union-attr]
    assert worker.run_once()
    with db.unit_of_work() as s:
        short = s.scalars(select(Deployment)).one().short_id
    form = platform.run_action(UMA, ActionEvent("deployment:update", short))
    review = fill(platform, UMA, form, {"cidr_block": "10.8.0.0/16"})
    platform.run_action(UMA, ActionEvent("deploy:confirm", button(review, "deploy:confirm").value))  # type: ignore[union-attr]
    assert worker.run_once()
    assert runs(db, short) == [(Action.CREATE, Run.FAILURE), (Action.CREATE, Run.SUCCESS)]
    assert ledger(db) == ["AWARD 100", "HOLD 50", "RELEASE 50", "HOLD 50", "SPEND 50"]
    with db.unit_of_work() as s:  # the failure's Retry offer (not delivered yet) goes out without Retry now
        [offer] = [j.payload for j in s.scalars(select(Job).where(Job.kind == "chat.post"))
                   if j.payload["key"].startswith("deployment-retry:")]
        assert "was created since" in offer["text"] and "buttons" not in offer


# -- the end-to-end story, run by each front door ---------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A message the bot sent, as the scenario reads it: its visible text and its buttons by action id
    (each with whatever its front door needs to click it)."""

    text: str
    buttons: dict[str, Any] = field(default_factory=dict)


class Door(Protocol):
    """One front door driven like its platform does, by the deployment's owner."""

    async def deploy(self, module: str, answers: dict[str, str]) -> Seen:
        """``deploy <module>`` with every form step submitted; the confirmation."""

    async def click(self, seen: Seen, action_id: str, times: int = 1) -> list[Seen]:
        """Click the button ``action_id`` of ``seen`` ``times`` in a row; what each click answered."""

    async def show(self, short: str) -> Seen:
        """``deployment <short>``."""

    async def run_worker(self) -> Seen:
        """Run one queued run with the real worker; the result it posted in the deployment's thread."""

    async def direct_message(self) -> Seen:
        """Deliver the outbox; the newest direct message to the deployment's owner."""


def owner_ledger(db: Database) -> tuple[list[str], Decimal]:
    """The deployments' owner's transactions and what they have available."""
    with db.unit_of_work() as s:
        owner = s.get_one(User, s.scalars(select(Deployment.owner_id)).first())
        return ledger_of(s, owner), credits.balance(s, owner).available_total


def abandon(db: Database) -> str:
    """The queued run is claimed by a worker that dies; another worker fails it once its lease expired."""
    with db.unit_of_work() as s:
        run = run_queue.claim_run(s, "dead-worker", utcnow() - timedelta(minutes=10))
        assert run is not None
        short = s.get_one(Deployment, run.deployment_id).short_id
    with db.unit_of_work() as s:
        assert run_queue.fail_abandoned(s, utcnow()) == [short]
    return short


async def retry_scenario(door: Door, db: Database) -> None:
    """Retry from the owner's direct message after a failed create (the public result has no button) and from
    the card of one whose worker died: a confirmation
    with the cost, one hold per confirm (double clicks too), released on failure, spent once on success."""
    [queued] = await door.click(await door.deploy("network-plan", {"cidr_block": "10.10.0.0/30"}), "deploy:confirm")
    assert "is queued" in queued.text
    failed = await door.run_worker()  # in the public thread: no button, it says where the owner finds Retry
    assert "failure" in failed.text and not failed.buttons and "Retry is in their direct messages" in failed.text
    offer = await door.direct_message()
    assert "was not created" in offer.text and set(offer.buttons) == {"deployment:retry"}, offer
    assert owner_ledger(db) == (["AWARD 100", "HOLD 50", "RELEASE 50"], Decimal(100))
    with db.unit_of_work() as s:  # the plan failed on the input: no plan line anywhere
        short, planned = s.execute(select(Deployment.short_id, DeploymentRun.plan_summary)
                                   .join(DeploymentRun, DeploymentRun.deployment_id == Deployment.id)).one()
    assert planned == "" and "to add" not in failed.text
    assert "to add" not in (await door.show(short)).text

    [review] = await door.click(offer, "deployment:retry")
    assert "Retry network-plan?" in review.text and "50 credits" in review.text and "100 credits" in review.text
    first, second = await door.click(review, "deploy:confirm", times=2)
    assert first.text == second.text and "is queued (create)" in first.text
    assert owner_ledger(db)[1] == Decimal(50)  # one new hold for the two clicks
    again = await door.run_worker()  # the same bad input: failed again, released again
    assert "failure" in again.text and not again.buttons
    assert "deployment:retry" in (await door.direct_message()).buttons  # a new offer for the new failure

    [queued] = await door.click(await door.deploy("network-plan", {}), "deploy:confirm")
    assert "is queued (create)" in queued.text
    short = abandon(db)
    card = await door.show(short)
    assert "internal error" in card.text and {"deployment:retry", "deployment:update"} <= set(card.buttons), card
    [review] = await door.click(card, "deployment:retry")
    await door.click(review, "deploy:confirm")
    done = await door.run_worker()
    assert "success" in done.text and "deployment:retry" not in done.buttons, done
    rows, left = owner_ledger(db)
    assert rows == ["AWARD 100"] + ["HOLD 50", "RELEASE 50"] * 3 + ["HOLD 50", "SPEND 50"] and left == Decimal(50)


def test_a_run_whose_worker_died_updates_its_status_message_and_offers_retry_privately(
    platform: Dispatcher, worker: DeployWorker, db: Database
) -> None:
    review = fill(platform, UMA, platform.run_text(UMA, "deploy network-plan"), {})
    platform.run_action(UMA, ActionEvent("deploy:confirm", button(review, "deploy:confirm").value))  # type: ignore[union-attr]
    with db.unit_of_work() as s:  # as if its status message was posted in a Slack channel, then its worker died
        deployment = s.scalars(select(Deployment)).one()
        deployment.chat_platform, deployment.chat_channel, deployment.chat_message = "slack", "CDEPLOY", "1700.0001"
        run = run_queue.claim_run(s, "dead-worker", utcnow() - timedelta(minutes=10))
        assert run is not None
        run_id, short = run.id, deployment.short_id
    assert not worker.run_once()  # nothing queued; the abandoned run is failed on the way
    assert not worker.run_once()  # and told once
    with db.unit_of_work() as s:
        posts = [j.payload for j in s.scalars(select(Job).where(Job.kind == "chat.post").order_by(Job.id))]
    [status] = [p for p in posts if p["key"] == f"deployment-status:{run_id}:abandoned"]
    assert status["edit"] and status["where"]["message"] == "1700.0001"
    assert "internal error" in str(status["cards"]) and "the worker running it stopped" in str(status["cards"])
    [offer] = [p for p in posts if p["key"].startswith(f"deployment-retry:{run_id}:")]
    assert offer["user"]["external_id"] == "UUMA"
    assert [(b["action_id"], b["value"]) for b in offer["buttons"]] == [("deployment:retry", short)]
