"""The clock: APScheduler with fixed schedules in memory and a SQLAlchemy store for dynamic ones."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime import Runtime
from core.jobs import housekeeping
from storage.models import utcnow

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = timedelta(hours=1)


def run_housekeeping(runtime: Runtime) -> dict[str, int]:
    """Run one housekeeping sweep and log what it removed; returns the counts by kind."""
    with runtime.db.unit_of_work() as session:
        counts = housekeeping.sweep(session, utcnow())
    log.info("housekeeping done", extra=counts)
    return counts


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """A scheduler (not started) with the housekeeping sweep and a persistent store for later schedules.

    Fixed schedules are re-created at every start, so they live in memory; schedules created at run
    time (e.g. revenue digests) go to the ``persistent`` store, the ``apscheduler_jobs`` table.
    """
    scheduler = BackgroundScheduler(
        jobstores={
            "default": MemoryJobStore(),
            "persistent": SQLAlchemyJobStore(engine=runtime.db.engine, tablename="apscheduler_jobs"),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone=UTC,
    )
    scheduler.add_job(run_housekeeping, "interval", args=[runtime], id="housekeeping", replace_existing=True,
                      seconds=HOUSEKEEPING_EVERY.total_seconds(), next_run_time=utcnow() + timedelta(seconds=30))
    return scheduler
