"""Deploy workers as real processes: two of them, each with its own data directory, share one database.

Any worker can update or destroy any deployment (the state lives in the database); a worker killed with
SIGKILL in the middle of an apply leaves no sandbox process and no charge behind it, and the
next worker that starts removes what the killed run left on disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo import EXAMPLES, seed
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Form, Reply
from core.accounts.identity import Caller, IdentityKey, find_user
from core.config import Config
from core.credits import service as credits
from core.deployments.state import DatabaseStateStore
from core.deployments.status import DeploymentAction, DeploymentRunStatus, DeploymentStatus
from core.secrets import load_keys
from storage.db import Database
from storage.models import Deployment, DeploymentRun
from tests.support.host_processes import processes_mentioning
from tests.support.processes import stop

ROOT = Path(__file__).resolve().parents[2]
UMA = Caller(IdentityKey("slack", "T1", "UUMA"), "Uma")
ADMIN = Caller(IdentityKey("console", "", "demo-admin"), "demo")
SLOW_APPLY = """
variable "module_description" {
  type    = string
  default = "Creates one thing, then takes its time over a second"
}

variable "credit_cost" {
  type    = number
  default = 10
}

resource "terraform_data" "first" {
  input = "created before the worker dies"
}

resource "terraform_data" "slow" {
  input = terraform_data.first.output
  provisioner "local-exec" {
    command = "echo MARKER && sleep 300"
  }
}
"""


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    folder = tmp_path / "platform-modules"
    shutil.copytree(EXAMPLES, folder)
    (folder / "slow-apply").mkdir()
    (folder / "slow-apply" / "main.tf").write_text(SLOW_APPLY.replace("MARKER", f"slow-{folder.parent.name}"))
    return folder


@pytest.fixture
def platform(dispatcher: Dispatcher, db: Database, modules: Path) -> Dispatcher:
    seed(db, dispatcher.services, ADMIN, modules)
    dispatcher.run_text(UMA, "whoami")
    dispatcher.run_text(Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada"), "admin credits <@UUMA> award 100 go")
    return dispatcher


def deploy(platform: Dispatcher, module: str, answers: dict[str, str] | None = None) -> str:
    """Deploy ``module`` as Uma through every form step; returns the deployment's short id."""
    outcome = platform.run_text(UMA, f"deploy {module}")
    while isinstance(outcome, Form):
        values = {i.name: (answers or {}).get(i.name, i.default) for i in outcome.inputs}
        outcome = platform.submit_form(UMA, outcome.action_id, values, outcome.state)
    assert isinstance(outcome, Reply)
    button = next(b for b in outcome.actions if b.action_id == "deploy:confirm")
    platform.run_action(UMA, ActionEvent("deploy:confirm", button.value))
    with platform.db.unit_of_work() as session:
        return session.scalars(select(Deployment.short_id).order_by(Deployment.id.desc())).first() or ""


def status(db: Database, short: str) -> DeploymentStatus:
    with db.unit_of_work() as session:
        return session.scalars(select(Deployment.status).where(Deployment.short_id == short)).one()


@contextmanager
def worker_process(config: Config, data_dir: Path, secret_key: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m bot worker`` on the test database, with a data directory of its own."""
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": config.effective_database_url, "RAD_DATA_DIR": str(data_dir),
           "RAD_SECRET_KEY": secret_key, "RAD_SANDBOX_NETWORK": "off", "RAD_LOG_LEVEL": "INFO",
           "GITHUB_API_URL": "http://127.0.0.1:9/none", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "bot", "worker"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop(process, 20)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 180,
             process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``check``; on timeout fail with what the worker process printed (it is stopped first)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            said = ""
            if process is not None:
                process.kill()
                said = (process.communicate(timeout=10)[0] or b"").decode(errors="replace")[-3000:]
            raise AssertionError(f"timed out waiting for {what}; the worker said:\n{said}")
        time.sleep(0.2)


def test_two_workers_with_their_own_data_dirs_share_every_deployment(
    platform: Dispatcher, db: Database, config: Config, tmp_path: Path
) -> None:
    key = ",".join(load_keys(config.secret_keys, config.data_dir))
    first, second = tmp_path / "worker-a", tmp_path / "worker-b"
    short = deploy(platform, "network-plan", {"network_name": "lab"})
    with worker_process(config, first, key):
        wait_for(lambda: status(db, short) == DeploymentStatus.SUCCESS, "the create on worker A")
    with db.unit_of_work() as session:
        deployment = session.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        assert deployment.outputs["network_name"] == "lab" and deployment.charged
        deployment_id = deployment.id
    platform.run_action(UMA, ActionEvent("deployment:destroy", short))
    with worker_process(config, second, key):
        wait_for(lambda: status(db, short) == DeploymentStatus.AWAITING_REVIEW, "the destroy's plan on worker B")
        with db.unit_of_work() as session:
            planned = session.scalars(select(DeploymentRun.id).where(
                DeploymentRun.status == DeploymentRunStatus.PLANNED)).one()
        platform.run_action(UMA, ActionEvent("plan:apply", str(planned)))  # the reviewed plan, applied
        wait_for(lambda: status(db, short) == DeploymentStatus.DELETED, "the destroy on worker B")
    with db.unit_of_work() as session:
        destroy = session.scalars(select(DeploymentRun).where(DeploymentRun.action == DeploymentAction.DESTROY)).one()
        assert '- network_name = "lab" -> null' in destroy.log  # B planned against the state A wrote
    state = DatabaseStateStore(db, platform.services.secrets, deployment_id).load()
    assert state is not None and b'"outputs": {}' in state
    for data_dir in (first, second):
        assert list((data_dir / "runs").iterdir()) == []  # nothing of any run stayed on disk


def test_a_worker_killed_during_apply_leaves_no_process_and_no_charge(
    platform: Dispatcher, db: Database, config: Config, tmp_path: Path
) -> None:
    key = ",".join(load_keys(config.secret_keys, config.data_dir))
    data_dir = tmp_path / "worker-killed"
    short = deploy(platform, "slow-apply")
    with worker_process(config, data_dir, key) as process:
        marker = f"slow-{tmp_path.name}"
        wait_for(lambda: bool(processes_mentioning(marker)), "the slow step to start", process=process)
        running = processes_mentioning(marker)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    wait_for(lambda: not any(pid in running for pid in processes_mentioning(marker)),
             "the sandbox to die with its worker", timeout=15)
    assert status(db, short) == DeploymentStatus.WORKING
    assert [p.name for p in (data_dir / "runs").iterdir() if not p.name.endswith(".lock")]  # left behind

    with db.unit_of_work() as session:  # the lease runs out (as if two minutes had passed)
        run = session.scalars(select(DeploymentRun)).one()
        assert run.heartbeat_at is not None
        run.heartbeat_at = run.heartbeat_at.replace(year=run.heartbeat_at.year - 1)
    with worker_process(config, data_dir, key):
        wait_for(lambda: status(db, short) == DeploymentStatus.INTERNAL_ERROR, "the abandoned run to be failed")
        wait_for(lambda: [p for p in (data_dir / "runs").iterdir() if not p.name.endswith(".lock")] == [],
                 "the leftovers to be removed")
    with db.unit_of_work() as session:
        uma = find_user(session, UMA.key)
        assert uma is not None
        balance = credits.balance(session, uma)
        deployment = session.scalars(select(Deployment).where(Deployment.short_id == short)).one()
        assert balance.available_total == Decimal(100) and not deployment.charged  # the hold was released
