"""``/healthz`` and ``/metrics`` through the real HTTP front (Slack HTTP mode), and the example alert rules."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.web import forget_front_door, report_front_door
from core.accounts.identity import IdentityKey, create_user
from storage.models import Deployment, DeploymentRun, Job, utcnow
from storage.models.states import DeploymentAction, DeploymentRunStatus, DeploymentStatus
from tests.support.slack_support import Harness, emulator, harness, slack_runtime

__all__ = ["emulator", "harness", "slack_runtime"]

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus-alerts.yml"


@pytest.fixture
def discord_down() -> Iterator[None]:
    report_front_door("discord", lambda: False)
    yield
    forget_front_door("discord")


def queue_old_job(harness: Harness, minutes: int) -> None:
    with harness.runtime.db.unit_of_work() as session:
        session.add(Job(kind="metrics-test-idle", payload={}, run_after=utcnow() - timedelta(minutes=minutes)))


def test_healthz_reports_the_database_queues_and_front_doors(harness: Harness) -> None:
    answer = harness.get("/healthz")
    assert answer.status == 200
    body = answer.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["front_doors"] == {"slack": "ok"}
    assert body["queues"]["deployment_runs"] == {"depth": 0, "oldest_seconds": 0.0, "status": "ok"}
    queue_old_job(harness, minutes=20)
    jobs = harness.get("/healthz").json()["queues"]["jobs"]
    assert jobs["status"] == "stuck" and jobs["depth"] >= 1 and jobs["oldest_seconds"] >= 20 * 60


def test_healthz_is_503_when_a_front_door_is_down(harness: Harness, discord_down: None) -> None:
    answer = harness.get("/healthz")
    assert answer.status == 503
    assert answer.json()["front_doors"] == {"discord": "down", "slack": "ok"}


def seed_deployment(harness: Harness) -> None:
    with harness.runtime.db.unit_of_work() as session:
        owner = create_user(session, IdentityKey("console", "", "metrics-owner"), "Owner")
        deployment = Deployment(short_id="met1", owner_id=owner.id, module_name="network",
                                status=DeploymentStatus.SUCCESS, action=DeploymentAction.CREATE)
        session.add(deployment)
        session.flush()
        now = utcnow()
        session.add(DeploymentRun(deployment_id=deployment.id, action=DeploymentAction.CREATE,
                                  status=DeploymentRunStatus.SUCCESS, started_at=now - timedelta(seconds=45),
                                  finished_at=now))


def scrape(harness: Harness) -> str:
    answer = harness.get("/metrics")
    assert answer.status == 200
    return answer.body


def test_metrics_cover_commands_queues_deployments_and_runs(harness: Harness) -> None:
    queue_old_job(harness, minutes=5)
    harness.command("help")
    deadline = time.monotonic() + 20
    while 'rad_command_seconds_count{command="help"}' not in (body := scrape(harness)):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    assert "rad_metrics_database_up 1.0" in body
    assert re.search(r'rad_queue_depth\{queue="jobs"\} [1-9]', body)
    assert re.search(r'rad_queue_oldest_seconds\{queue="jobs"\} (29\d|[3-9]\d\d)', body)  # about 300 s
    assert 'rad_queue_depth{queue="deployment_runs"} 0.0' in body
    assert "# TYPE rad_jules_sessions gauge" in body and "# TYPE rad_webhook_deliveries gauge" in body


def test_metrics_count_deployments_and_time_finished_runs(harness: Harness) -> None:
    seed_deployment(harness)
    body = scrape(harness)
    assert 'rad_deployments{status="SUCCESS"} 1.0' in body
    assert 'rad_deployment_runs{status="SUCCESS"} 1.0' in body
    assert 'rad_deployment_run_seconds_bucket{action="CREATE",le="30.0"} 0.0' in body
    assert 'rad_deployment_run_seconds_bucket{action="CREATE",le="60.0"} 1.0' in body


def exposed_names(body: str) -> set[str]:
    """Every sample name a scrape holds (``rad_x_bucket``, ``rad_x_count``, ``rad_x`` ...)."""
    return {line.split("{", 1)[0].split(" ", 1)[0] for line in body.splitlines() if line and not line.startswith("#")}


def test_the_example_alert_rules_parse_and_name_only_served_metrics(harness: Harness) -> None:
    harness.command("help")
    seed_deployment(harness)
    time.sleep(1)
    served = exposed_names(scrape(harness))
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    assert {"RadJobQueueStuck", "RadDeploymentQueueStuck", "RadDeploymentRunsFailing"} <= {r["alert"] for r in rules}
    for rule in rules:
        assert rule["expr"] and rule["labels"]["severity"] in ("page", "warn") and rule["annotations"]["summary"]
        named = set(re.findall(r"\brad_[a-z_]+", rule["expr"]))
        assert named and named <= served, (rule["alert"], named - served)
