"""Plan review in the console: the feed says a plan waits and where to find it, the owner's direct message says
it is ready, another user sees no Apply; the deployment's card offers Apply as a numbered choice; the real worker
then applies that plan once and the feed prints the result."""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import select

from bot.console import Console, console_caller, console_channel
from bot.console_feed import ConsoleFeed
from bot.demo import seed
from bot.deploy_worker import DeployWorker
from bot.runtime import Runtime
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Reply
from core.accounts.identity import find_user
from core.config import Config
from core.conversations import ConversationRef
from core.deployments import service as deployments
from core.deployments.status import DeploymentAction, DeploymentRunStatus, DeploymentStatus
from storage.db import Database
from storage.models import Deployment, DeploymentRun, Module, utcnow
from tests.support.engines import embedded_terraform


def test_the_console_shows_a_waiting_plan_and_applies_it(dispatcher: Dispatcher, db: Database, config: Config,
                                                         tmp_path: Path) -> None:
    caller = console_caller("ada")
    seed(db, dispatcher.services, caller)
    worker = DeployWorker(Runtime(config, db, dispatcher.registry, dispatcher), {}, name="console-review",
                          terraform=embedded_terraform)
    with db.unit_of_work() as s:
        ada, module = find_user(s, caller.key), s.scalars(select(Module).where(Module.name == "budget-alerts")).one()
        assert ada is not None
        short = deployments.create(s, dispatcher.services.secrets, ada, module, {}, {}, "console-review", utcnow(),
                                   ConversationRef("console", channel=console_channel(caller.key))).short_id
    assert worker.run_once()
    out = io.StringIO()

    def read(prompt: str) -> str:
        if prompt.startswith("Choose"):
            found = re.search(r"\[(\d+)\] Apply", out.getvalue())
            assert found, out.getvalue()
            return found.group(1)
        return next(typed)

    typed = iter([f"deployment {short}", "quit"])
    console = Console(dispatcher, caller, tmp_path / "files", read=read, read_secret=read, out=out)
    feed = ConsoleFeed(console, db)
    feed.poll()  # how things are now is not news
    with db.unit_of_work() as s:
        ada = find_user(s, caller.key)
        deployment = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        assert ada is not None
        deployments.queue_update(s, dispatcher.services.secrets, ada, deployment, {"monthly_budget": 250}, {},
                                 "console-review-update", utcnow())
    assert worker.run_once()
    with db.unit_of_work() as s:
        planned = s.scalars(select(DeploymentRun.id).where(DeploymentRun.status == DeploymentRunStatus.PLANNED)).one()
    feed.poll()
    assert f"· {short}: 📝 awaiting review (its plan: `deployment {short}`, then Apply or Discard)" in out.getvalue()
    assert f"📬 To @ada:\nThe plan to update budget-alerts `{short}` is ready" in out.getvalue()  # privately
    assert "[Apply]" in out.getvalue() and "[Discard]" in out.getvalue()  # listed; pressed from its card
    bystander = dispatcher.run_text(console_caller("bob"), f"deployment {short}")  # another console user
    assert isinstance(bystander, Reply) and "There is no deployment" in bystander.text and not bystander.actions

    console.loop()
    assert "Applying the reviewed plan" in out.getvalue()
    again = dispatcher.run_action(caller, ActionEvent("plan:apply", str(planned)))  # applied once
    assert isinstance(again, Reply) and "already applied" in again.text
    assert worker.run_once()
    feed.poll()
    assert f"budget-alerts `{short}`: ✅ success." in out.getvalue()
    with db.unit_of_work() as s:
        done = s.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        assert done.status == DeploymentStatus.SUCCESS and done.inputs["monthly_budget"] == 250
        runs = [(r.action, r.status) for r in s.scalars(select(DeploymentRun).order_by(DeploymentRun.id))]
        assert runs == [(DeploymentAction.CREATE, DeploymentRunStatus.SUCCESS),
                        (DeploymentAction.UPDATE, DeploymentRunStatus.SUCCESS)]
