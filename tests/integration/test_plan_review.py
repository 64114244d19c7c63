"""Plan review on the real embedded engine in the real sandbox: updates and destroys wait for Apply or Discard.

The plan is sealed in the database; Apply (owner or admin) applies exactly that plan, once; Discard, expiry and
a stale plan apply nothing and leave the deployment as it was. ``plan_review_scenario`` is the end-to-end story
each front door runs (tests/e2e/test_slack_plan_review.py and tests/e2e/test_discord_plan_review.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from bot.deploy_worker import DeployWorker
from bot.runtime import Runtime
from bot.scheduler import run_plan_expiry
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Form, Reply
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.credits import service as credits
from core.deployments import review
from core.deployments import service as deployments
from core.deployments.pending import PLAN_KIND
from core.deployments.state import DatabaseStateStore
from core.deployments.status import DeploymentAction as Action
from core.deployments.status import DeploymentRunStatus as Run
from core.deployments.status import DeploymentStatus
from core.terraform.engine import BinaryEngine
from core.terraform.launch import terraform_for
from storage.db import Database
from storage.models import Deployment, DeploymentRun, Job, Module, StoredSecret, User, utcnow
from tests.integration.test_deploy import (
    ADMIN,
    UMA,
    available,
    deploy_button,
    fill,
    planned_run,
    platform,
    worker,
)

__all__ = ["platform", "worker"]

FINANCE = Caller(IdentityKey("slack", "TDEMO", "UFINANCE"), "Fin Ance")
STRANGER = Caller(IdentityKey("slack", "T1", "USTRANGER"), "Stranger")
SECRET = "hook-s3cret-for-review"


def buttons(reply: object) -> dict[str, Button]:
    assert isinstance(reply, Reply), reply
    return {b.action_id: b for b in reply.actions if isinstance(b, Button)}


def click(platform: Dispatcher, caller: Caller, action_id: str, value: str) -> Reply:
    answer = platform.run_action(caller, ActionEvent(action_id, value))
    assert isinstance(answer, Reply), answer
    return answer


def created(platform: Dispatcher, worker: DeployWorker, db: Database, module: str = "budget-alerts",
            answers: dict[str, str] | None = None) -> str:
    """A deployment of ``module`` created (a create applies at once); its short id."""
    platform.run_text(ADMIN, "admin credits <@UUMA> award 400 more")
    click(platform, UMA, "deploy:confirm", deploy_button(platform, UMA, module, answers))
    assert worker.run_once()
    with db.unit_of_work() as s:
        deployment = s.scalars(select(Deployment).order_by(Deployment.id.desc())).first()
        assert deployment is not None and deployment.status == DeploymentStatus.SUCCESS
        return deployment.short_id


def update(platform: Dispatcher, short: str, answers: dict[str, str]) -> Reply:
    """Update ``short`` with ``answers`` (the rest as they are) and confirm; the confirm's answer."""
    form = platform.run_action(UMA, ActionEvent("deployment:update", short))
    assert isinstance(form, Form)
    return click(platform, UMA, "deploy:confirm", buttons(fill(platform, UMA, form, answers))["deploy:confirm"].value)


def deployment(db: Database, short: str) -> Deployment:
    with db.unit_of_work() as s:
        found = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        s.expunge(found)
        return found


def runs(db: Database, short: str) -> list[tuple[Action, Run]]:
    with db.unit_of_work() as s:
        d = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        return [(r.action, r.status) for r in s.scalars(select(DeploymentRun).where(
            DeploymentRun.deployment_id == d.id).order_by(DeploymentRun.id))]


def plan_secrets(db: Database) -> list[StoredSecret]:
    with db.unit_of_work() as s:
        rows = list(s.scalars(select(StoredSecret).where(StoredSecret.kind == PLAN_KIND)))
        s.expunge_all()
        return rows


def test_an_update_waits_for_apply_and_is_applied_once(platform: Dispatcher, worker: DeployWorker,
                                                       db: Database) -> None:
    short = created(platform, worker, db, answers={"webhook_secret": SECRET})
    update(platform, short, {"monthly_budget": "250"})
    assert worker.run_once() and not worker.run_once()  # planned, then nothing more until someone applies it
    assert runs(db, short)[-1] == (Action.UPDATE, Run.PLANNED)
    assert deployment(db, short).status == DeploymentStatus.AWAITING_REVIEW
    [sealed] = plan_secrets(db)
    assert SECRET not in sealed.ciphertext and "terraform" not in sealed.ciphertext.lower()
    run_id = str(planned_run(db))

    shown = platform.run_text(UMA, f"deployment {short}")
    assert {"plan:apply", "plan:discard"} <= set(buttons(shown)) and buttons(shown)["plan:apply"].value == run_id
    blocked = update(platform, short, {"monthly_budget": "999"})  # another change while the plan waits
    assert "waits for review" in blocked.text and "Apply or discard it first" in blocked.text
    seen_by_finance = platform.run_text(FINANCE, f"deployment {short}")
    assert "plan:apply" not in buttons(seen_by_finance) and "plan:discard" not in buttons(seen_by_finance)
    assert "Only the owner or an admin" in click(platform, FINANCE, "plan:apply", run_id).text
    assert "There is no deployment" in click(platform, STRANGER, "plan:apply", run_id).text
    for forged in ("99999", "9" * 40, "-1", "1; DROP", "١٢"):
        assert "This plan is gone" in click(platform, UMA, "plan:apply", forged).text

    applied = click(platform, UMA, "plan:apply", run_id)
    again = click(platform, UMA, "plan:apply", run_id)  # a double click
    late = click(platform, ADMIN, "plan:discard", run_id)
    assert "Applying the reviewed plan" in applied.text and applied.replace_original
    assert "already applied" in again.text and "already applied" in late.text
    with db.unit_of_work() as s:  # the owner's offer, not delivered yet, goes out saying so, without buttons
        [offer] = [j.payload for j in s.scalars(select(Job).where(Job.kind == "chat.post"))
                   if j.payload["key"].startswith(f"plan-review:{run_id}:")]
        assert "was applied by Uma" in offer["text"] and "buttons" not in offer
    assert worker.run_once() and not worker.run_once()  # applied once
    assert runs(db, short) == [(Action.CREATE, Run.SUCCESS), (Action.UPDATE, Run.SUCCESS)]
    assert "already applied" in click(platform, UMA, "plan:apply", run_id).text
    done = deployment(db, short)
    assert done.status == DeploymentStatus.SUCCESS and done.inputs["monthly_budget"] == 250
    with db.unit_of_work() as s:
        run = s.get_one(DeploymentRun, int(run_id))
        assert run.log.count("$ terraform plan") == 1 and "rad.tfplan" in run.log.split("$ terraform apply")[-1]
        assert "Apply complete" in run.log and SECRET not in run.log and run.plan_secret_id is None
        assert deployments.sensitive_inputs(s, platform.services.secrets, s.get_one(Deployment, done.id)) == {
            "webhook_secret": SECRET}
    assert plan_secrets(db) == []  # the sealed plan is gone once applied


def test_discard_applies_nothing_and_puts_the_inputs_back(platform: Dispatcher, worker: DeployWorker,
                                                          db: Database) -> None:
    short = created(platform, worker, db, answers={"webhook_secret": SECRET})
    before = deployment(db, short)
    state = DatabaseStateStore(db, platform.services.secrets, before.id)
    kept_state = state.load()
    update(platform, short, {"monthly_budget": "300", "webhook_secret": "another-secret-value"})
    assert worker.run_once()
    assert deployment(db, short).inputs["monthly_budget"] == 300  # what the plan planned
    run_id = str(planned_run(db))
    discarded = click(platform, UMA, "plan:discard", run_id)
    assert "nothing was applied" in discarded.text and discarded.replace_original
    assert "already discarded" in click(platform, UMA, "plan:discard", run_id).text
    assert "already discarded" in click(platform, UMA, "plan:apply", run_id).text
    assert not worker.run_once()
    after = deployment(db, short)
    assert after.status == DeploymentStatus.SUCCESS and after.inputs == before.inputs
    assert after.outputs == before.outputs and state.load() == kept_state
    with db.unit_of_work() as s:
        assert deployments.sensitive_inputs(s, platform.services.secrets, s.get_one(Deployment, after.id)) == {
            "webhook_secret": SECRET}
    assert plan_secrets(db) == [] and runs(db, short)[-1] == (Action.UPDATE, Run.DISCARDED)


def test_a_plan_that_changes_nothing_says_so_and_applies_nothing(platform: Dispatcher, worker: DeployWorker,
                                                                 db: Database) -> None:
    short = created(platform, worker, db, module="network-plan")
    kept = DatabaseStateStore(db, platform.services.secrets, deployment(db, short).id).load()
    update(platform, short, {})
    assert worker.run_once()
    with db.unit_of_work() as s:
        run = s.scalars(select(DeploymentRun).order_by(DeploymentRun.id.desc())).first()
        assert run is not None and (run.status, run.plan_summary) == (Run.SUCCESS, review.NO_CHANGES)
        assert "$ terraform apply" not in run.log
    assert deployment(db, short).status == DeploymentStatus.SUCCESS and plan_secrets(db) == []
    assert DatabaseStateStore(db, platform.services.secrets, deployment(db, short).id).load() == kept


def test_a_failed_plan_changes_nothing(platform: Dispatcher, worker: DeployWorker, db: Database, config: Config,
                                       tmp_path: Path) -> None:
    short = created(platform, worker, db, module="network-plan")
    before = deployment(db, short)
    script = tmp_path / "slow-terraform"  # hangs in the sandbox at its first command: the plan never comes
    script.write_text(f"#!{os.path.realpath(sys.executable)} -I\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    slow = DeployWorker(Runtime(dataclasses.replace(config, deploy_timeout=2.0), db, platform.registry, platform),
                        {}, name="slow", terraform=lambda cfg: terraform_for(
                            cfg, engine=BinaryEngine(str(script), cfg.data_dir / "plugins")))
    update(platform, short, {"network_name": "never"})
    assert slow.run_once()
    failed = deployment(db, short)
    assert failed.status == DeploymentStatus.TIMEOUT and runs(db, short)[-1] == (Action.UPDATE, Run.TIMEOUT)
    assert failed.inputs == before.inputs and failed.outputs == before.outputs  # the version it runs, kept
    assert plan_secrets(db) == []


def test_an_expired_plan_is_refused_and_can_be_planned_again(platform: Dispatcher, worker: DeployWorker,
                                                             db: Database) -> None:
    short = created(platform, worker, db, module="network-plan")
    platform.run_text(ADMIN, "admin settings plan_review_hours 2")
    update(platform, short, {"network_name": "later"})
    assert worker.run_once()
    run_id = str(planned_run(db))
    with db.unit_of_work() as s:
        run = s.get_one(DeploymentRun, int(run_id))
        assert run.expires_at is not None and timedelta(hours=1.9) < run.expires_at - utcnow() <= timedelta(hours=2)
    with db.unit_of_work() as s:  # as if deployed in a Slack channel, whose status message is its thread
        made_in = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        made_in.chat_platform, made_in.chat_channel, made_in.chat_message = "slack", "CDEPLOY", "1700000000.000001"
    assert run_plan_expiry(worker.runtime, utcnow() + timedelta(hours=1)) == []  # not yet
    assert run_plan_expiry(worker.runtime, utcnow() + timedelta(hours=3)) == [short]  # the scheduler, later
    assert run_plan_expiry(worker.runtime, utcnow() + timedelta(hours=4)) == []  # once
    assert deployment(db, short).inputs.get("network_name", "main") == "main" and plan_secrets(db) == []
    with db.unit_of_work() as s:  # through the outbox: the public thread without a button, Plan again privately
        posts = [j.payload for j in s.scalars(select(Job).where(Job.kind == "chat.post").order_by(Job.id))]
        [notice] = [p for p in posts if "plan-expired" in p["key"]]
        assert "nothing was applied" in notice["text"] and "buttons" not in notice
        assert (notice["where"]["channel"], notice["where"]["thread"]) == ("CDEPLOY", "1700000000.000001")
        [offer] = [p for p in posts if p["key"].startswith(f"plan-review:{run_id}:")]  # not sent yet: rewritten
        assert offer["user"]["external_id"] == "UUMA" and "Nobody applied this plan in time" in offer["text"]
        assert [b["action_id"] for b in offer["buttons"]] == ["plan:again"]
        [status] = [p for p in posts if p["key"].startswith("deployment-status:")]  # the status message, edited
        assert status["edit"] and status["where"]["message"] == "1700000000.000001"
        assert "plan expired: nothing applied" in str(status["cards"])
    refused = click(platform, UMA, "plan:apply", run_id)
    assert "Nobody applied this plan in time" in refused.text and "Nothing was applied" in refused.text
    again = buttons(refused)["plan:again"]
    assert again.value == run_id
    planning = click(platform, UMA, "plan:again", run_id)
    assert "Planning update again" in planning.text
    assert "was planned again since" in click(platform, UMA, "plan:again", run_id).text
    assert deployment(db, short).inputs["network_name"] == "later"  # the update it proposed
    assert worker.run_once()
    click(platform, UMA, "plan:apply", str(planned_run(db)))
    assert worker.run_once()
    done = deployment(db, short)
    assert done.status == DeploymentStatus.SUCCESS and done.outputs["network_name"] == "later"


def test_a_plan_whose_state_moved_or_module_was_republished_is_never_applied(
    platform: Dispatcher, worker: DeployWorker, db: Database
) -> None:
    short = created(platform, worker, db, module="network-plan")
    before = deployment(db, short)
    store = DatabaseStateStore(db, platform.services.secrets, before.id)
    update(platform, short, {"network_name": "moved"})
    assert worker.run_once()
    run_id = str(planned_run(db))
    state = json.loads(store.load() or b"{}")
    store.save(json.dumps({**state, "serial": state["serial"] + 1}).encode())  # another writer moved the state
    refused = click(platform, UMA, "plan:apply", run_id)
    assert "state changed after this plan was made" in refused.text and "plan:again" in buttons(refused)
    assert not worker.run_once() and runs(db, short)[-1] == (Action.UPDATE, Run.STALE)
    assert deployment(db, short).inputs == before.inputs and deployment(db, short).status == DeploymentStatus.SUCCESS
    assert "state changed" in click(platform, UMA, "plan:apply", run_id).text  # a second click says why again

    click(platform, UMA, "plan:again", run_id)
    assert worker.run_once()
    second = str(planned_run(db))
    with db.unit_of_work() as s:
        s.scalars(select(Module).where(Module.name == "network-plan")).one().commit = "f" * 40  # published again
    refused = click(platform, UMA, "plan:apply", second)
    assert "was published again (`fffffff`)" in refused.text and "plan:again" in buttons(refused)
    assert not worker.run_once()
    assert deployment(db, short).outputs == before.outputs


def test_review_creates_holds_until_apply_and_a_discard_releases(platform: Dispatcher, worker: DeployWorker,
                                                                 db: Database) -> None:
    platform.run_text(ADMIN, "admin settings review_creates true")
    click(platform, UMA, "deploy:confirm", deploy_button(platform, UMA, "network-plan"))
    assert worker.run_once()
    assert available(db) == Decimal(50)  # held while the plan waits
    run_id = str(planned_run(db))
    with db.unit_of_work() as s:
        short = s.scalars(select(Deployment.short_id)).one()
    refused = click(platform, UMA, "plan:discard", run_id)
    assert "nothing was applied" in refused.text
    assert available(db) == Decimal(100) and deployment(db, short).status == DeploymentStatus.CANCELLED
    assert not deployment(db, short).charged

    click(platform, UMA, "deploy:confirm", deploy_button(platform, UMA, "network-plan"))
    assert worker.run_once()
    second = str(planned_run(db))
    assert run_plan_expiry(worker.runtime, utcnow() + timedelta(hours=25))  # nobody reviewed it: hold released
    assert available(db) == Decimal(100)
    expired = click(platform, UMA, "plan:apply", second)
    assert "in time" in expired.text and buttons(expired) == {} and "/rad deploy network-plan" in expired.text

    click(platform, UMA, "deploy:confirm", deploy_button(platform, UMA, "network-plan"))
    assert worker.run_once()
    click(platform, UMA, "plan:apply", str(planned_run(db)))
    assert worker.run_once()
    assert available(db) == Decimal(50)  # spent once, when the reviewed create succeeded


def test_destroy_names_its_dependents_and_asks_first(platform: Dispatcher, worker: DeployWorker,
                                                     db: Database) -> None:
    network = created(platform, worker, db, module="network-plan")
    site = created(platform, worker, db, module="static-site", answers={"site_name": "blog"})
    asked = click(platform, UMA, "deployment:destroy", network)
    assert f"`{site}` (static-site) depends on `{network}`" in asked.text
    assert set(buttons(asked)) == {"deployment:destroy_anyway", "deployment:keep"}
    assert "Nothing was destroyed" in click(platform, UMA, "deployment:keep", network).text
    assert not worker.run_once() and deployment(db, network).status == DeploymentStatus.SUCCESS
    assert "Only the owner or an admin" in click(platform, FINANCE, "deployment:destroy", network).text

    planning = click(platform, UMA, "deployment:destroy_anyway", network)
    assert "Planning the destroy" in planning.text
    assert worker.run_once() and runs(db, network)[-1] == (Action.DESTROY, Run.PLANNED)
    outputs = deployment(db, network).outputs
    click(platform, UMA, "plan:discard", str(planned_run(db)))
    kept = deployment(db, network)
    assert kept.status == DeploymentStatus.SUCCESS and kept.outputs == outputs and kept.deleted_at is None

    assert "Planning the destroy" in click(platform, UMA, "deployment:destroy", site).text  # nothing depends on it
    assert worker.run_once()
    click(platform, ADMIN, "plan:apply", str(planned_run(db)))  # an admin may apply it too
    assert worker.run_once() and deployment(db, site).status == DeploymentStatus.DELETED
    assert "depends" not in click(platform, UMA, "deployment:destroy", network).text  # the site is gone


# -- the end-to-end story, run by each front door ---------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A message the bot sent, as the scenario reads it: its text, its buttons by action id (with what the door
    needs to click them) and the files attached to it (name -> content)."""

    text: str
    buttons: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


class Door(Protocol):
    """One front door, driven by the deployment's owner as its platform does."""

    async def deploy(self, module: str, answers: dict[str, str]) -> Seen:
        """``deploy <module>`` with every form step submitted; the confirmation."""

    async def click(self, seen: Seen, action_id: str, times: int = 1) -> list[Seen]:
        """Click the button ``action_id`` of ``seen`` ``times`` in a row; what each click answered."""

    async def show(self, short: str) -> Seen:
        """``deployment <short>``."""

    async def update(self, short: str, answers: dict[str, str]) -> Seen:
        """Update on the card of ``deployment <short>``, every form step submitted; the confirmation."""

    async def run_worker(self) -> Seen:
        """Run one run with the real worker; the last message it posted in the deployment's thread."""

    async def direct_message(self) -> Seen:
        """Deliver the outbox (as a worker does); the newest direct message to the deployment's owner."""

    async def bystander_show(self, short: str) -> Seen:
        """``deployment <short>`` typed in the channel by a plain user who is not the owner."""

    def public_buttons(self) -> set[str]:
        """The action ids of every button on what the bot posted or edited in the channel and its threads."""

    def status_message(self, short: str) -> str:
        """The text the status message of deployment ``short`` shows now (after its last edit)."""


def award_the_owner(db: Database, amount: Decimal) -> None:
    """The deployments' owner gets ``amount`` awarded credits (from the first admin), for a second deployment."""
    with db.unit_of_work() as s:
        owner = s.get_one(User, s.scalars(select(Deployment.owner_id)).first())
        admin = next(u for u in s.scalars(select(User).order_by(User.id)) if "admin" in u.role_names)
        credits.award(s, admin, owner, amount, reason="a second deployment")


def short_of_latest(db: Database) -> str:
    with db.unit_of_work() as s:
        return s.scalars(select(Deployment.short_id).order_by(Deployment.id.desc())).first() or ""


async def plan_review_scenario(door: Door, db: Database) -> None:
    """Update → the plan with a file in the public thread (no button) → Apply (twice) in the owner's direct message
    → applied once, a bystander seeing no Apply anywhere; destroy → its dependents named → Discard → nothing
    changed, the status message edited to say so; an update that changes nothing says so."""
    [queued] = await door.click(await door.deploy("network-plan", {}), "deploy:confirm")
    assert "is queued" in queued.text
    assert "success" in (await door.run_worker()).text
    network = short_of_latest(db)

    [queued] = await door.click(await door.update(network, {"network_name": "reviewed"}), "deploy:confirm")
    assert "is queued (update)" in queued.text
    plan = await door.run_worker()  # in the public thread: no button, it says who applies it where
    assert "the plan to update network-plan" in plan.text and "0 to add, 0 to change, 0 to destroy" in plan.text
    assert "outputs change" in plan.text and not plan.buttons, plan
    assert "Apply and Discard in a direct message" in plan.text and f"deployment {network}" in plan.text
    [(name, content)] = plan.files.items()
    assert name.startswith(f"plan-{network}-") and b"network_name" in content and b"Changes to Outputs" in content
    offer = await door.direct_message()  # the owner's Apply and Discard, privately
    assert "The plan to update network-plan" in offer.text and set(offer.buttons) == {"plan:apply", "plan:discard"}
    looked = await door.bystander_show(network)  # someone else in the channel: no Apply anywhere
    assert "There is no deployment" in looked.text and not looked.buttons
    answers = await door.click(offer, "plan:apply", times=2)  # at once: either click may be run first
    assert sorted("Applying the reviewed plan" in a.text for a in answers) == [False, True], answers
    assert ["already applied" in a.text for a in answers].count(True) == 1
    assert "success" in (await door.run_worker()).text
    assert [r for r in runs(db, network)] == [(Action.CREATE, Run.SUCCESS), (Action.UPDATE, Run.SUCCESS)]
    assert deployment(db, network).outputs["network_name"] == "reviewed"

    award_the_owner(db, Decimal(100))
    [queued] = await door.click(await door.deploy("static-site", {"site_name": "blog"}), "deploy:confirm")
    assert "success" in (await door.run_worker()).text
    site = short_of_latest(db)
    [asked] = await door.click(await door.show(network), "deployment:destroy")
    assert f"{site} (static-site) depends on {network}" in asked.text.replace("`", "")
    [planning] = await door.click(asked, "deployment:destroy_anyway")
    assert "Planning the destroy" in planning.text
    destroy_plan = await door.run_worker()
    assert "the plan to destroy network-plan" in destroy_plan.text and destroy_plan.files
    assert not destroy_plan.buttons and "awaiting review" in door.status_message(network)
    outputs = deployment(db, network).outputs
    [discarded] = await door.click(await door.direct_message(), "plan:discard")
    assert "nothing was applied" in discarded.text
    kept = deployment(db, network)
    assert kept.status == DeploymentStatus.SUCCESS and kept.outputs == outputs
    await door.direct_message()  # delivers the edit of the status message, after the commit
    status = door.status_message(network)
    assert "plan discarded: nothing applied" in status and "awaiting review" not in status, status

    await door.click(await door.update(network, {}), "deploy:confirm")
    same = await door.run_worker()
    assert "the plan changes nothing, so nothing was applied" in same.text and not same.files
    assert runs(db, network)[-1] == (Action.UPDATE, Run.SUCCESS)
    assert door.public_buttons() == set()  # nobody in the channel ever saw a button of the worker's
