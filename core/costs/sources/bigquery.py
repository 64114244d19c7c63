"""``bigquery:<project.dataset.table>``: the billing export table itself, read with ``google-cloud-bigquery``.

One read asks for the rows exported after the last import's watermark (``export_time > @since``), with the
nested fields flattened and money cast to text so it stays exact. The rows are spooled to a temporary CSV file
first, outside any database transaction (no network inside one), then imported like a CSV export: whole or
not at all. The library is an optional extra (``pip install 'rad-chatops[bigquery]'``); credentials are the
machine's Application Default Credentials, or none against an emulator (``BIGQUERY_API_URL``).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.costs.rows import BadExport
from core.costs.sources import Export
from core.costs.sources.csv import read_lines
from core.errors import NotConfigured
from core.network import assert_no_transaction

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HEADER = ("billing_account_id", "service_description", "sku_description", "usage_start_time", "usage_end_time",
          "project_id", "project_name", "labels", "cost", "currency", "credits", "invoice_month", "export_time")
QUERY = """SELECT billing_account_id, service.description AS service_description,
  sku.description AS sku_description, usage_start_time, usage_end_time, project.id AS project_id,
  project.name AS project_name, TO_JSON_STRING(labels) AS labels, CAST(cost AS STRING) AS cost, currency,
  TO_JSON_STRING(credits) AS credits, invoice.month AS invoice_month, export_time
FROM `{table}`
WHERE export_time > @since
ORDER BY export_time"""
"""The read: columns named as the CSV importer knows them; ``@since`` is the watermark."""


class BigQuerySource:
    """The billing export table in BigQuery."""

    def __init__(self, table: str, *, api_url: str = "", retry_seconds: float = 60.0) -> None:
        self.table = table
        self.api_url = api_url
        self.retry_seconds = retry_seconds

    @property
    def label(self) -> str:
        """``bigquery:<table>``."""
        return f"bigquery:{self.table}"

    def exports(self, watermark: datetime | None, imported: set[str]) -> Iterator[Export]:
        """The rows exported after ``watermark``, as one export (nothing when there are none).

        Raises:
            NotConfigured: the ``bigquery`` extra is not installed.
            BadExport: BigQuery refused (403, 404) or failed (5xx); the message says which and what to do.
        """
        spool = self._read(watermark or EPOCH)
        if spool is None:
            return
        path, digest = spool
        if digest in imported:
            path.unlink(missing_ok=True)
            return
        yield Export(f"{self.table} (exported after {(watermark or EPOCH).isoformat()})", digest, _lines(path))

    def _read(self, since: datetime) -> tuple[Path, str] | None:
        assert_no_transaction("BigQuery: read the billing export")
        try:
            from google.api_core import exceptions
            from google.api_core.retry import Retry
            from google.cloud import bigquery
        except ImportError:
            raise NotConfigured("RAD_BILLING_SOURCE names BigQuery, but google-cloud-bigquery is not installed.",
                                hint="Install the extra: pip install 'rad-chatops[bigquery]'.") from None
        client = self._client(bigquery)
        config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("since", "TIMESTAMP", since)])
        retry = Retry(timeout=self.retry_seconds) if self.retry_seconds > 0 else None
        descriptor, name = tempfile.mkstemp(suffix=".csv", prefix="rad-bigquery-")
        path = Path(name)
        digest = hashlib.sha256(f"{self.table}|{since.isoformat()}".encode())
        count = 0
        try:
            with open(descriptor, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(HEADER)
                rows = client.query_and_wait(QUERY.format(table=self.table), job_config=config, retry=retry,
                                             job_retry=None, page_size=10_000)
                for row in rows:
                    values = [_text(row.get(name)) for name in HEADER]
                    writer.writerow(values)
                    digest.update("\x1f".join(values).encode())
                    count += 1
        except exceptions.Forbidden:
            path.unlink(missing_ok=True)
            raise BadExport(f"BigQuery refused to read {self.table} (403 Forbidden).",
                            hint="Give the bot's service account BigQuery Data Viewer on the dataset and BigQuery "
                                 "Job User on the project; nothing was imported.") from None
        except exceptions.NotFound:
            path.unlink(missing_ok=True)
            raise BadExport(f"BigQuery has no table {self.table} (404).",
                            hint="Check RAD_BILLING_SOURCE against the billing export's dataset and table; "
                                 "nothing was imported.") from None
        except exceptions.GoogleAPICallError as error:
            path.unlink(missing_ok=True)
            code = getattr(error, "code", None) or "error"
            raise BadExport(f"BigQuery failed while reading {self.table} ({code}).",
                            hint="It is tried again at the next import; nothing was imported.") from None
        except Exception:
            path.unlink(missing_ok=True)
            raise
        if count == 0:
            path.unlink(missing_ok=True)
            return None
        log.info("billing rows read from BigQuery", extra={"table": self.table, "rows": count})
        return path, digest.hexdigest()

    def _client(self, bigquery: Any) -> Any:
        project = self.table.split(".")[0]
        if self.api_url:
            from google.auth.credentials import AnonymousCredentials

            return bigquery.Client(project=project, credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                                   client_options={"api_endpoint": self.api_url})
        return bigquery.Client(project=project)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The spooled rows; the spool file is removed once read (or abandoned)."""
    try:
        yield from read_lines(path)
    finally:
        path.unlink(missing_ok=True)
