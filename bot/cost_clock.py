"""The clock's project-cost cycle: import what the billing source has new, then debit the period once.

Each export is imported in a unit of work of its own (whole or not at all); a source read that needs the
network (BigQuery) happens before that unit of work opens. A failed export is logged and told to the admins
once, and the next exports still go in. The debit runs once per ``refresh_interval_hours`` period, whatever the
number of clocks.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.runtime import Runtime
from commands.handlers.cost_notices import tell_import_failed, tell_short
from core.costs import debits
from core.costs.imports import ImportOutcome, import_all
from core.costs.sources import open_source
from core.errors import RadError
from storage.models import utcnow

log = logging.getLogger(__name__)


def import_new_costs(runtime: Runtime) -> list[ImportOutcome]:
    """Import every export of ``RAD_BILLING_SOURCE`` not imported yet; nothing when costs are off."""
    if not runtime.config.billing_source:
        return []
    try:
        source = open_source(runtime.config.billing_source, api_url=runtime.config.bigquery_api_url)
        done, failed = import_all(runtime.db, source)
    except RadError as refused:
        done, failed = [], [(runtime.config.billing_source, refused)]
    for name, error in failed:
        _failed(runtime, name, error)
    return done


def run_cost_cycle(runtime: Runtime, now: datetime | None = None) -> debits.DebitRun | None:
    """Import new costs, then debit the current period if no clock did yet (None if one did)."""
    for outcome in import_new_costs(runtime):
        log.info("cost export imported: %s", outcome.describe())
    with runtime.db.unit_of_work() as session:
        run = debits.run(session, now or utcnow())
        if run is not None:
            tell_short(session, run, f"/{runtime.config.command}")
    return run


def _failed(runtime: Runtime, name: str, error: RadError) -> None:
    log.warning("cost import failed", extra={"export": name, "reason": error.message})
    with runtime.db.unit_of_work() as session:
        tell_import_failed(session, name, error)
