"""Code pinned at confirm: a run applies the module files the confirmation showed, and a deployment keeps
what it needs to be destroyed after its module changed or was unpublished."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo import EXAMPLES, seed
from bot.deploy_worker import DeployWorker
from bot.runtime import Runtime
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Form, Reply
from core.accounts.identity import Caller, IdentityKey
from core.catalog import publish as catalog
from core.catalog import scan as scanner
from core.config import Config
from core.deployments.status import DeploymentStatus
from core.repos import connections
from storage.db import Database
from storage.models import Deployment, Module, SourceBlob, User, utcnow
from tests.integration.test_deploy import apply_plan

UMA = Caller(IdentityKey("slack", "T1", "UUMA"), "Uma")
ADMIN = Caller(IdentityKey("console", "", "demo-admin"), "demo")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "platform-modules"
    shutil.copytree(EXAMPLES, copy)
    return copy


@pytest.fixture
def platform(dispatcher: Dispatcher, db: Database, folder: Path) -> Dispatcher:
    seed(db, dispatcher.services, ADMIN, folder)
    dispatcher.run_text(UMA, "whoami")
    dispatcher.run_text(Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada"), "admin credits <@UUMA> award 100 go")
    return dispatcher


@pytest.fixture
def worker(platform: Dispatcher, config: Config) -> DeployWorker:
    return DeployWorker(Runtime(config, platform.db, platform.registry, platform), {}, name="pin-worker")


def republish(platform: Dispatcher, db: Database, keep: set[str] | None = None) -> None:
    """Scan the platform folder again and publish what it holds (or only ``keep``), as an admin would."""
    with db.unit_of_work() as session:
        conn = connections.find_repo(session, None)
        assert conn is not None
        conn_id = conn.id
    result = scanner.scan(db, platform.services, conn_id, utcnow())
    with db.unit_of_work() as session:
        admin = session.scalars(select(User).where(User.display_name == "demo")).one()
        names = [c.name for c in result.candidates if c.valid and (keep is None or c.name in keep)]
        catalog.sync(session, admin, None, result, names, "platform-modules", utcnow())


def review(platform: Dispatcher, module: str) -> Reply:
    outcome = platform.run_text(UMA, f"deploy {module}")
    while isinstance(outcome, Form):
        values = {i.name: i.default or ("docs" if i.required else i.default) for i in outcome.inputs}
        outcome = platform.submit_form(UMA, outcome.action_id, values, outcome.state)
    assert isinstance(outcome, Reply)
    return outcome


def confirm(platform: Dispatcher, reply: Reply) -> Reply:
    button = next(b for b in reply.actions if b.action_id == "deploy:confirm")
    answer = platform.run_action(UMA, ActionEvent("deploy:confirm", button.value))
    assert isinstance(answer, Reply)
    return answer


def test_a_module_republished_after_review_is_shown_again_before_it_is_applied(
    platform: Dispatcher, db: Database, folder: Path, worker: DeployWorker
) -> None:
    reviewed = review(platform, "network-plan")
    main = folder / "network-plan" / "outputs.tf"
    main.write_text(main.read_text() + '\noutput "republished" {\n  value = "yes"\n}\n')
    republish(platform, db)
    again = confirm(platform, reviewed)
    assert "was published again since you reviewed it" in again.text
    with db.unit_of_work() as session:
        assert session.scalars(select(Deployment)).first() is None  # nothing was queued on the old review
        module = session.scalars(select(Module).where(Module.name == "network-plan")).one()
        assert module.commit[:7] in str(again.cards[0].fields)
    confirm(platform, again)
    assert worker.run_once()
    with db.unit_of_work() as session:
        deployment = session.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS
        assert deployment.outputs.get("republished") == "yes"


def test_destroy_works_after_the_module_changed_and_was_unpublished(
    platform: Dispatcher, db: Database, folder: Path, worker: DeployWorker
) -> None:
    confirm(platform, review(platform, "network-plan"))
    assert worker.run_once()
    with db.unit_of_work() as session:
        deployment = session.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.SUCCESS
        short, pinned = deployment.short_id, dict(deployment.source_files)
        kept = set(session.scalars(select(SourceBlob.sha)))
    assert set(pinned.values()) <= kept  # the files it ran are kept in the database

    (folder / "network-plan" / "outputs.tf").write_text('output "broken" {\n  value = \n')
    republish(platform, db, keep={"static-site"})  # network-plan is unpublished (and broken on disk)
    shutil.rmtree(folder / "network-plan")
    with db.unit_of_work() as session:
        assert session.scalars(select(Module).where(Module.name == "network-plan")).first() is None
    platform.run_action(UMA, ActionEvent("deployment:destroy", short))
    assert worker.run_once()  # the destroy's plan (of the pinned files) waits for review
    apply_plan(platform, worker, db)
    with db.unit_of_work() as session:
        deployment = session.scalars(select(Deployment)).one()
        assert deployment.status == DeploymentStatus.DELETED and deployment.source_files == pinned
