"""Queues in the database that wake their workers at once: jobs and deployment runs.

A queued row is claimed by one worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). On PostgreSQL, a trigger
on each queue's table sends ``NOTIFY <channel>`` in the transaction that queues a row (delivered when it
commits); a :class:`~core.queue.wake.Waker` listens on its own connection and wakes the loops that wait on
that queue at once. The poll stays as the fallback (a notification missed while reconnecting, a job due
later) and is all there is on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEPLOYMENT_RUNS", "JOBS", "QUEUES", "Queue"]


@dataclass(frozen=True)
class Queue:
    """A queue: its table's name in words, and the channel its trigger notifies."""

    name: str
    channel: str


JOBS = Queue("jobs", "rad_jobs")
"""Background jobs (the outbox's chat posts among them): notified when a job is queued and due now."""
DEPLOYMENT_RUNS = Queue("deployment runs", "rad_deployment_runs")
"""Deployment runs: notified when a run is queued, or a reviewed plan approved to be applied."""
QUEUES = (JOBS, DEPLOYMENT_RUNS)
