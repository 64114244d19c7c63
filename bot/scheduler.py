"""The clock: APScheduler with fixed schedules in memory and a SQLAlchemy store for dynamic ones."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bot import digest_clock
from bot.cost_clock import run_cost_cycle
from bot.runtime import Runtime
from commands.handlers import deployment_notices as notices
from commands.handlers.credit_notices import KIND as LOW_BALANCE_KIND
from commands.handlers.notify import post_later
from commands.handlers.refine_relay import poll as poll_refine_sessions
from commands.views.review import again_buttons
from core.deployments import review
from core.deployments import service as deployments
from core.jobs import housekeeping
from core.jobs import queue as jobs
from storage.models import Job, JobStatus, utcnow

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = timedelta(hours=1)
PLAN_EXPIRY_EVERY = timedelta(minutes=5)
"""How often plans waiting for review are checked for their expiry (``plan_review_hours``)."""
COST_CYCLE_EVERY = timedelta(minutes=10)
"""How often new billing exports are looked for; the cost debit itself runs once per ``refresh_interval_hours``."""
REFINE_RELAY_EVERY = timedelta(seconds=5)
"""How often due Jules sessions are relayed (each session backs off on its own: 5 s, 1 min, stopped)."""
LOW_BALANCE_HOUR = 9
"""The hour (UTC) at which the daily low-balance notices are queued."""


def run_housekeeping(runtime: Runtime) -> dict[str, int]:
    """Run one housekeeping sweep and log what it removed; returns the counts by kind."""
    with runtime.db.unit_of_work() as session:
        counts = housekeeping.sweep(session, utcnow())
    log.info("housekeeping done", extra=counts)
    return counts


def run_plan_expiry(runtime: Runtime, now: datetime | None = None) -> list[str]:
    """Expire the plans nobody reviewed in time (a create's hold released) and say so in each deployment's thread.

    The notices go through the outbox (posted by a worker after this commits): the thread is told without a
    button, the owner's direct message offering the plan becomes Plan again (or Retry for a create), and the
    status message shows it expired. Returns the short ids of the deployments whose plan expired.
    """
    with runtime.db.unit_of_work() as session:
        expired = review.expire(session, now or utcnow())
        for run, deployment in expired:
            notices.review_over(session, None, review.Outcome.EXPIRED, run, deployment, run.error)
            where = deployments.chat_ref(deployment)
            if not where.channel:
                continue
            again = " The owner can plan it again from their direct messages." if again_buttons(run, deployment) \
                else ""
            post_later(session, f"plan-expired:{run.id}",
                       f"The plan of `{deployment.short_id}` ({deployment.module_name}) expired: nobody applied it "
                       f"in time, so nothing was applied.{again}", where=where.in_thread(where.thread or where.message))
        shorts = [deployment.short_id for _, deployment in expired]
    if shorts:
        log.info("plans expired", extra={"deployments": len(shorts)})
    return shorts


def run_refine_relay(runtime: Runtime, now: datetime | None = None) -> int:
    """Relay the due Jules sessions: pending thread messages out, new activities into their threads (outbox)."""
    return poll_refine_sessions(runtime.db, runtime.dispatcher.services, now or utcnow())


def start_refine_relay(runtime: Runtime, stop: threading.Event,
                       every: float = REFINE_RELAY_EVERY.total_seconds()) -> threading.Thread:
    """The Jules relay alone in a daemon thread, until ``stop`` is set: for the console, which runs no clock."""

    def loop() -> None:
        while not stop.wait(every):
            try:
                run_refine_relay(runtime)
            except Exception:  # the relay's trouble never stops the console
                log.exception("refine relay failed")

    thread = threading.Thread(target=loop, name="rad-refine-relay", daemon=True)
    thread.start()
    return thread


def queue_low_balance_check(runtime: Runtime) -> bool:
    """Queue the day's low-balance job for the workers, unless one is already waiting; True if queued."""
    with runtime.db.unit_of_work() as session:
        waiting = session.scalars(select(Job.id).where(
            Job.kind == LOW_BALANCE_KIND, Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))).first()
        if waiting is not None:
            return False
        jobs.enqueue(session, LOW_BALANCE_KIND)
    log.info("low-balance check queued")
    return True


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
    scheduler.add_job(run_plan_expiry, "interval", args=[runtime], id="plan_expiry", replace_existing=True,
                      seconds=PLAN_EXPIRY_EVERY.total_seconds())
    scheduler.add_job(run_cost_cycle, "interval", args=[runtime], id="cost_cycle", replace_existing=True,
                      seconds=COST_CYCLE_EVERY.total_seconds())
    scheduler.add_job(run_refine_relay, "interval", args=[runtime], id="refine_relay", replace_existing=True,
                      seconds=REFINE_RELAY_EVERY.total_seconds())
    scheduler.add_job(queue_low_balance_check, "cron", args=[runtime], id="low_balance", replace_existing=True,
                      hour=LOW_BALANCE_HOUR, minute=0)
    digest_clock.register(runtime)
    scheduler.add_job(digest_clock.REFERENCE, "interval", id=digest_clock.JOB_ID, jobstore="persistent",
                      replace_existing=True, seconds=digest_clock.DIGEST_EVERY.total_seconds(),
                      next_run_time=utcnow() + digest_clock.FIRST_TICK_AFTER)  # periods missed while down: at once
    return scheduler
