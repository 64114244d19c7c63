"""The revenue digests' tick, kept in the clock's persistent (SQLAlchemy) job store.

A job in that store is saved by reference (``bot.digest_clock:tick``) with no arguments, so it survives a
restart and never pickles the process's runtime: the clock registers its runtime here when it builds the
scheduler. Exactly-once posting does not rest on APScheduler (its 3.x job stores are not shared safely between
processes): each tick claims ended periods in the database (``core.revenue.digests``), so two clocks ticking
together, or a clock back after a long stop, claim each period once; late ones say so.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.runtime import Runtime
from commands.handlers.digests import run_clock
from storage.models import utcnow

log = logging.getLogger(__name__)

DIGEST_EVERY = timedelta(minutes=5)
"""How often ended digest periods are looked for (a daily digest goes out within this after midnight UTC)."""
FIRST_TICK_AFTER = timedelta(seconds=2)
"""A clock that starts looks at once (soon after its start-up) for the periods that ended while it was down."""
JOB_ID = "revenue_digests"
REFERENCE = "bot.digest_clock:tick"

_runtime: Runtime | None = None


def register(runtime: Runtime) -> None:
    """The runtime the stored tick runs against (one clock per process)."""
    global _runtime
    _runtime = runtime


def tick(now: datetime | None = None) -> int:
    """Claim the ended periods of every digest target and queue their posts; returns how many were claimed."""
    if _runtime is None:
        log.warning("revenue digest tick without a runtime: skipped")
        return 0
    return run_digests(_runtime, now)


def run_digests(runtime: Runtime, now: datetime | None = None) -> int:
    """One tick against ``runtime``: claims committed with their ``revenue.digest`` jobs."""
    with runtime.db.unit_of_work() as session:
        claims = run_clock(session, now or utcnow())
    if claims:
        log.info("revenue digests claimed", extra={"periods": len(claims), "late": sum(c.late for c in claims)})
    return len(claims)
