"""Prometheus metrics, exposed at ``GET /metrics``: the dispatcher's, and the platform's read at scrape time.

Counted as they happen (this process): requests by kind and outcome, their latency by kind, and each slash
command's latency by command name. Read from the database at each scrape (:class:`PlatformCollector`, a few
``COUNT ... GROUP BY`` queries, so every process reports the whole platform): deployments by status, each
queue's depth and the age of its oldest item (jobs due now, queued deployment runs), deployment runs by
status and the durations of those finished in the last day, Jules (refine) sessions by status, and Stripe
webhook deliveries by event type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Deployment, DeploymentRun, Job, RefineSession, StripeEvent, utcnow
from storage.models.states import DeploymentRunStatus, JobStatus

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "rad_requests_total", "Requests dispatched, by kind and outcome", ["kind", "outcome"]
)
LATENCY = Histogram(
    "rad_request_seconds", "Time to handle a request, by kind", ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
COMMAND_LATENCY = Histogram(
    "rad_command_seconds", "Time to handle a slash command, by command (its first word)", ["command"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
RUN_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
RECENT_RUNS = timedelta(days=1)


def command_name(label: str, known: Iterable[str]) -> str | None:
    """The command a dispatcher label (``command:deploy net``) names, ``"unknown"`` if unregistered, or None."""
    kind, _, text = label.partition(":")
    if kind != "command":
        return None
    first = (text.split() or [""])[0].lower()
    return first if first in {name.split(" ", 1)[0] for name in known} else "unknown"


class PlatformCollector(Collector):
    """The platform's state, read from the database at each scrape; a scrape never fails for a database error."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        """The gauges of the module docstring, or only ``rad_metrics_database_up 0`` when the database fails."""
        up = GaugeMetricFamily("rad_metrics_database_up", "Whether the last scrape could read the database")
        try:
            found = list(self._read())
        except Exception as error:
            log.warning("metrics: the database could not be read", extra={"error": type(error).__name__})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _read(self) -> Iterator[Metric]:
        now = utcnow()
        with self.db.unit_of_work() as session:
            by_status = session.execute(select(Deployment.status, func.count()).group_by(Deployment.status)).all()
            runs = session.execute(select(DeploymentRun.status, func.count()).group_by(DeploymentRun.status)).all()
            due = session.execute(select(func.count(), func.min(Job.run_after)).where(
                Job.status == JobStatus.QUEUED, Job.run_after <= now)).one()
            queued = session.execute(select(func.count(), func.min(DeploymentRun.created_at)).where(
                DeploymentRun.status == DeploymentRunStatus.QUEUED)).one()
            finished = session.execute(select(DeploymentRun.action, DeploymentRun.started_at,
                                              DeploymentRun.finished_at).where(
                DeploymentRun.finished_at >= now - RECENT_RUNS, DeploymentRun.started_at.is_not(None))).all()
            refines = session.execute(select(RefineSession.status, func.count()).group_by(RefineSession.status)).all()
            webhooks = session.execute(select(StripeEvent.type, func.count()).group_by(StripeEvent.type)).all()
        yield _gauge("rad_deployments", "Deployments by status", "status", by_status)
        yield _gauge("rad_deployment_runs", "Deployment runs by status", "status", runs)
        depth = GaugeMetricFamily("rad_queue_depth", "Items waiting in a queue (jobs due now, queued runs)",
                                  labels=["queue"])
        age = GaugeMetricFamily("rad_queue_oldest_seconds", "Age of the oldest waiting item of a queue (0: empty)",
                                labels=["queue"])
        for queue, (count, oldest) in (("jobs", due), ("deployment_runs", queued)):
            depth.add_metric([queue], int(count or 0))
            age.add_metric([queue], max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        yield depth
        yield age
        yield _durations(finished)
        yield _gauge("rad_jules_sessions", "Jules (refine) sessions by status", "status", refines)
        yield _gauge("rad_webhook_deliveries", "Stripe webhook events received (each once), by type", "type",
                     webhooks)


def _gauge(name: str, documentation: str, label: str, rows: Iterable[tuple[object, int]]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in rows:
        gauge.add_metric([str(getattr(value, "value", value))], int(count))
    return gauge


def _durations(rows: Iterable[tuple[object, object, object]]) -> GaugeHistogramMetricFamily:
    """Durations of the runs finished in the last day, by action, as a gauge histogram."""
    by_action: dict[str, list[float]] = {}
    for action, started, finished in rows:
        seconds = (finished - started).total_seconds()  # type: ignore[operator]
        by_action.setdefault(str(getattr(action, "value", action)), []).append(max(0.0, seconds))
    family = GaugeHistogramMetricFamily("rad_deployment_run_seconds",
                                        "Durations of the deployment runs finished in the last day, by action",
                                        labels=["action"])
    for action, seconds in sorted(by_action.items()):
        buckets = [(str(edge), float(sum(1 for s in seconds if s <= edge))) for edge in RUN_BUCKETS]
        buckets.append(("+Inf", float(len(seconds))))
        family.add_metric([action], buckets, gsum_value=sum(seconds))
    return family
