"""Importing billing exports: whole or not at all, each row once, attributed as it lands.

An export is read row by row (streamed) and written in batches inside the caller's unit of work: the first bad
row raises :class:`~core.costs.rows.BadExport` and the unit of work rolls back, so nothing of the file stays. A
row already imported (same content) is skipped and counted as a duplicate; an export already imported (same
source and fingerprint) is not read again.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.costs.attribution import Owners, match, owners
from core.costs.money import shown
from core.costs.rows import BadExport, Header, parse_row
from core.costs.sources import BillingSource, Export
from core.errors import RadError
from storage.db import Database, dialect_insert
from storage.models import CostImport, CostRow

log = logging.getLogger(__name__)
BATCH = 5000
"""Rows held in memory before they are written: memory stays flat whatever the file's size."""
QUEUED = 4
"""Batches waiting for the PostgreSQL writer thread at most."""
CHUNK = 50_000
"""Rows copied before they are moved into ``cost_rows`` (PostgreSQL)."""
ANALYZE_AFTER = 10_000
"""An import adding this many rows refreshes the table's statistics (PostgreSQL), so the next report is planned
for the table as it now is rather than waiting for autovacuum."""


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
    """Import the next export of a local ``source`` (CSV) in this unit of work; None when there is none.

    A network source (BigQuery) refuses to be read inside a unit of work: use :func:`import_all`.
    """
    for export in source.exports(watermark(session, source.label), imported_digests(session, source.label)):
        return import_export(session, source.label, export)
    return None


def import_all(db: Database, source: BillingSource) -> tuple[list[ImportOutcome], list[tuple[str, RadError]]]:
    """Import every export of ``source`` not imported yet, each in a unit of work of its own.

    The source is read (for BigQuery, over the network) with no transaction open; a bad export is skipped
    (nothing of it kept) and returned with its error, the next ones still go in.
    """
    with db.unit_of_work() as session:
        seen, since = imported_digests(session, source.label), watermark(session, source.label)
    done: list[ImportOutcome] = []
    failed: list[tuple[str, RadError]] = []
    exports = source.exports(since, seen)
    while True:
        try:
            export = next(exports)
        except StopIteration:
            break
        except RadError as error:
            failed.append((source.label, error))
            break
        try:
            with db.unit_of_work() as session:
                done.append(import_export(session, source.label, export))
        except RadError as error:
            failed.append((export.name, error))
    return done, failed


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
    writer = _writer(session)
    try:
        added, attributed, totals, read, newest = _stream(export, writer, record.id, found)
    finally:
        writer.close()
    record.rows, record.duplicates, record.watermark = added, read - added, newest
    session.flush()
    outcome = ImportOutcome(source, export.name, added, read - added, attributed, totals)
    audit.record(session, None, "costs.import", target=f"cost_import:{record.id}", source=source,
                 export=export.name[:200], added=added, duplicates=read - added, unattributed=outcome.unattributed)
    log.info("costs imported", extra={"source": source, "export": export.name, "added": added,
                                      "duplicates": read - added, "unattributed": outcome.unattributed})
    return outcome


def _stream(export: Export, writer: _Writer, import_id: int, found: Owners
            ) -> tuple[int, int, dict[str, int], int, datetime | None]:
    """Read, check and write every row of ``export``; added, attributed, totals, rows read, newest export time."""
    header: Header | None = None
    read = 0
    newest: datetime | None = None
    for line, values in export.lines:
        if header is None:
            header = Header(values, export.name)
            continue
        row = parse_row(header, values, line, export.name)
        read += 1
        if row.export_time is not None and (newest is None or row.export_time > newest):
            newest = row.export_time
        hit = match(found, row.label_deployment, row.project_id)
        writer.add((row.key, import_id, row.billing_account, row.service, row.sku, row.usage_start, row.usage_end,
                    row.project_id, row.project_name, row.label_deployment, row.cost_nanos, row.credits_nanos,
                    row.currency, row.invoice_month, hit[0] if hit else None, hit[1] if hit else None))
    if header is None:
        raise BadExport(f"{export.name} is empty: it has no header row.",
                        hint="Export the billing table with its header; nothing was imported.")
    return (*writer.finish(import_id), read, newest)


COLUMNS = ("row_key", "import_id", "billing_account", "service", "sku", "usage_start", "usage_end", "project_id",
           "project_name", "label_deployment", "cost_nanos", "credits_nanos", "currency", "invoice_month",
           "deployment_id", "user_id")
"""The columns an import writes, in the order of the tuples it builds."""
COPY_TYPES = ("bytea", "int4", "varchar", "varchar", "varchar", "timestamptz", "timestamptz", "varchar", "varchar",
              "varchar", "int8", "int8", "varchar", "varchar", "int4", "int4")
"""PostgreSQL types of :data:`COLUMNS`: binary ``COPY`` with the types named skips per-value type lookups."""
CURRENCY, COST, DEPLOYMENT = (COLUMNS.index(name) for name in ("currency", "cost_nanos", "deployment_id"))


class _Writer:
    """Rows written in batches; the same content already stored is skipped (``(usage_start, row_key)`` is unique)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.batch: list[tuple[Any, ...]] = []
        self.statement = dialect_insert(session)(CostRow).on_conflict_do_nothing(
            index_elements=["usage_start", "row_key"])

    def add(self, row: tuple[Any, ...]) -> None:
        self.batch.append(row)
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.session.execute(self.statement, [dict(zip(COLUMNS, row, strict=True)) for row in self.batch])
            self.batch = []

    def close(self, *, cancel: bool = True) -> None:
        """Stop writing (after the last row, or when the import fails)."""

    def finish(self, import_id: int) -> tuple[int, int, dict[str, int]]:
        """Write what is left; the rows added by this import, how many are attributed, their cost by currency."""
        self.flush()
        mine = CostRow.import_id == import_id
        totals = {currency: int(nanos) for currency, nanos in self.session.execute(
            select(CostRow.currency, func.sum(CostRow.cost_nanos)).where(mine).group_by(CostRow.currency))}
        added = int(self.session.scalar(select(func.count(CostRow.id)).where(mine)) or 0)
        attributed = int(self.session.scalar(select(func.count(CostRow.id)).where(
            mine, CostRow.deployment_id.is_not(None))) or 0)
        return added, attributed, totals


class _CopyWriter(_Writer):
    """PostgreSQL: batches go by ``COPY`` straight into ``cost_rows`` while no row is a duplicate.

    Each batch is copied inside a savepoint; the first batch holding a row already stored (a unique violation
    on ``row_key``) is rolled back to its savepoint and, from then on, batches go by ``COPY`` into a temporary
    table and move on with ``INSERT ... ON CONFLICT DO NOTHING``. A new export (the usual case) thus costs one
    ``COPY``; an export that overlaps an earlier one still counts each row once.

    A writer thread owns the connection while the rows are read, so the database indexes one batch while this
    thread parses the next; at most :data:`QUEUED` batches wait, so memory stays flat. The caller's thread
    does not touch the connection until :meth:`close` has joined the writer.
    """

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        driver: Any = session.connection().connection.driver_connection
        self.connection = driver
        with driver.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS cost_rows_incoming "
                           "(LIKE cost_rows INCLUDING DEFAULTS) ON COMMIT DROP")
            cursor.execute("ALTER TABLE cost_rows_incoming ALTER COLUMN id DROP NOT NULL")
        self.queue: queue.Queue[list[tuple[Any, ...]] | None] = queue.Queue(maxsize=QUEUED)
        self.added: dict[str, list[int]] = {}
        self.error: BaseException | None = None
        self.cancelled = False
        self.merging = False
        """True once a batch held a row already stored: the rest go through the temporary table."""
        self.thread: threading.Thread | None = threading.Thread(target=self._run, name="cost-import-writer",
                                                                daemon=True)
        self.thread.start()

    def flush(self) -> None:
        if self.batch:
            self._check()
            self.queue.put(self.batch)
            self.batch = []

    def _run(self) -> None:
        pending = 0
        try:
            while True:
                batch = self.queue.get()
                if batch is None:
                    break
                if self.error is None and not self.cancelled:
                    if not self.merging and self._copy_direct(batch):
                        continue
                    self.merging = True
                    self._copy(batch, "cost_rows_incoming")
                    pending += len(batch)
                    if pending >= CHUNK:
                        self._move()
                        pending = 0
            if self.error is None and pending and not self.cancelled:
                self._move()
        except BaseException as error:  # handed to the caller's thread by _check
            self.error = error
            while self.queue.get() is not None:
                pass

    def _copy(self, batch: list[tuple[Any, ...]], table: str) -> None:
        with self.connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            for row in batch:
                copy.write_row(row)

    def _copy_direct(self, batch: list[tuple[Any, ...]]) -> bool:
        """Copy ``batch`` into ``cost_rows`` in a savepoint; False (nothing kept) if a row was there already."""
        try:
            with self.connection.transaction():
                self._copy(batch, "cost_rows")
        except psycopg.errors.UniqueViolation:
            return False
        for row in batch:
            total = self.added.setdefault(str(row[CURRENCY]), [0, 0, 0])
            total[0] += row[COST]
            total[1] += 1
            total[2] += row[DEPLOYMENT] is not None
        return True

    def _move(self) -> None:
        names = ", ".join(COLUMNS)
        with self.connection.cursor() as cursor:
            cursor.execute(f"WITH added AS (INSERT INTO cost_rows ({names}) SELECT {names} FROM cost_rows_incoming "
                           "ON CONFLICT (usage_start, row_key) DO NOTHING "
                           "RETURNING currency, cost_nanos, deployment_id) "
                           "SELECT currency, sum(cost_nanos), count(*), count(deployment_id) FROM added "
                           "GROUP BY currency")
            for currency, nanos, count, attributed in cursor.fetchall():
                total = self.added.setdefault(str(currency), [0, 0, 0])
                total[0] += int(nanos)
                total[1] += int(count)
                total[2] += int(attributed)
            cursor.execute("TRUNCATE cost_rows_incoming")

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self, *, cancel: bool = True) -> None:
        """Wait for the writer thread; with ``cancel`` (a failed import) it skips what is still queued."""
        if self.thread is not None:
            self.cancelled = cancel
            self.queue.put(None)
            self.thread.join()
            self.thread = None

    def finish(self, import_id: int) -> tuple[int, int, dict[str, int]]:
        """Move the rest in and wait for the writer; what was added, counted from the rows inserted."""
        self.flush()
        self.close(cancel=False)
        self._check()
        if sum(t[1] for t in self.added.values()) >= ANALYZE_AFTER:
            with self.connection.cursor() as cursor:
                cursor.execute("ANALYZE cost_rows")
        return (sum(t[1] for t in self.added.values()), sum(t[2] for t in self.added.values()),
                {currency: t[0] for currency, t in self.added.items()})


def _writer(session: Session) -> _Writer:
    """The fastest writer the database offers: COPY on PostgreSQL, batched inserts on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return _CopyWriter(session)
    return _Writer(session)
