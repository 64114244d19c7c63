"""Importing billing exports: whole or not at all, each row once, attributed as it lands.

An export is read row by row (streamed) and written in batches inside the caller's unit of work: the first bad
row raises :class:`~core.costs.rows.BadExport` and the unit of work rolls back, so nothing of the file stays. A
row already imported (same content) is skipped and counted as a duplicate; an export already imported (same
source and fingerprint) is not read again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.costs.attribution import match, owners
from core.costs.money import shown
from core.costs.rows import BadExport, Header, parse_row
from core.costs.sources import BillingSource, Export
from storage.models import CostImport, CostRow

log = logging.getLogger(__name__)
BATCH = 5000
"""Rows written per statement: memory stays flat whatever the file's size."""


@dataclass(frozen=True)
class ImportOutcome:
    """What one import did: rows added, rows already there, how many were attributed, totals by currency."""

    source: str
    name: str
    added: int = 0
    duplicates: int = 0
    attributed: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    already: bool = False
    """The export had been imported before: nothing was read."""

    @property
    def unattributed(self) -> int:
        """Rows added that match no deployment (kept, shown to finance)."""
        return self.added - self.attributed

    def describe(self) -> str:
        """One line for the log, the command line and the admins."""
        if self.already:
            return f"{self.name}: already imported, nothing to do."
        money = ", ".join(shown(nanos, currency) for currency, nanos in sorted(self.totals.items())) or "nothing"
        return (f"{self.name}: {self.added} rows imported ({money}), {self.duplicates} already imported; "
                f"{self.attributed} attributed to deployments, {self.unattributed} unattributed.")


def imported_digests(session: Session, source: str) -> set[str]:
    """The fingerprints of the exports of ``source`` imported so far."""
    return set(session.scalars(select(CostImport.digest).where(CostImport.source == source)))


def watermark(session: Session, source: str) -> datetime | None:
    """The newest ``export_time`` imported from ``source``: the next read starts after it."""
    return session.scalar(select(func.max(CostImport.watermark)).where(CostImport.source == source))


def import_next(session: Session, source: BillingSource) -> ImportOutcome | None:
    """Import the next export of ``source`` not imported yet (one per unit of work); None when there is none."""
    for export in source.exports(watermark(session, source.label), imported_digests(session, source.label)):
        return import_export(session, source.label, export)
    return None


def import_export(session: Session, source: str, export: Export) -> ImportOutcome:
    """Import one export whole, in the caller's unit of work (which rolls back on error).

    Raises:
        BadExport: the export is empty, has a bad header or a bad row (its line is named); nothing is kept.
    """
    if export.digest in imported_digests(session, source):
        return ImportOutcome(source, export.name, already=True)
    record = CostImport(source=source, digest=export.digest, name=export.name[:300], rows=0, duplicates=0)
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        return ImportOutcome(source, export.name, already=True)  # another process imported it just now
    found = owners(session)
    header: Header | None = None
    batch: list[dict[str, Any]] = []
    read = 0
    newest: datetime | None = None
    write = _writer(session)
    for line, values in export.lines:
        if header is None:
            header = Header(values, export.name)
            continue
        row = parse_row(header, values, line, export.name)
        read += 1
        if row.export_time is not None and (newest is None or row.export_time > newest):
            newest = row.export_time
        hit = match(found, row.label_deployment, row.project_id)
        batch.append({
            "row_key": row.key, "import_id": record.id, "billing_account": row.billing_account,
            "service": row.service, "sku": row.sku, "usage_start": row.usage_start, "usage_end": row.usage_end,
            "project_id": row.project_id, "project_name": row.project_name,
            "label_deployment": row.label_deployment, "cost_nanos": row.cost_nanos,
            "credits_nanos": row.credits_nanos, "currency": row.currency, "invoice_month": row.invoice_month,
            "deployment_id": hit[0] if hit else None, "user_id": hit[1] if hit else None})
        if len(batch) >= BATCH:
            write(batch)
            batch = []
    if header is None:
        raise BadExport(f"{export.name} is empty: it has no header row.",
                        hint="Export the billing table with its header; nothing was imported.")
    if batch:
        write(batch)
    mine = CostRow.import_id == record.id
    totals = {currency: int(nanos) for currency, nanos in session.execute(
        select(CostRow.currency, func.sum(CostRow.cost_nanos)).where(mine).group_by(CostRow.currency))}
    added = int(session.scalar(select(func.count(CostRow.id)).where(mine)) or 0)
    attributed = int(session.scalar(select(func.count(CostRow.id)).where(mine, CostRow.deployment_id.is_not(None)))
                     or 0)
    record.rows, record.duplicates, record.watermark = added, read - added, newest
    session.flush()
    outcome = ImportOutcome(source, export.name, added, read - added, attributed, totals)
    log.info("costs imported", extra={"source": source, "export": export.name, "added": added,
                                      "duplicates": read - added, "unattributed": outcome.unattributed})
    return outcome


def _writer(session: Session) -> Any:
    """A function writing one batch of rows, skipping rows whose content is already stored."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(CostRow).on_conflict_do_nothing(index_elements=["row_key"])
    elif dialect == "sqlite":
        statement = sqlite.insert(CostRow).on_conflict_do_nothing(index_elements=["row_key"])
    else:  # pragma: no cover - the bot runs on SQLite and PostgreSQL
        raise RuntimeError(f"costs cannot be imported into {dialect}")

    def write(batch: list[dict[str, Any]]) -> None:
        session.execute(statement, batch)

    return write
