"""``bigquery:<project.dataset.table>``: the billing export table read with ``google-cloud-bigquery``.

Not available yet in this build: the source says so clearly instead of failing later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from core.costs.sources import Export
from core.errors import NotConfigured


class BigQuerySource:
    """The export table in BigQuery."""

    def __init__(self, table: str, *, api_url: str = "") -> None:
        self.table = table
        self.api_url = api_url

    @property
    def label(self) -> str:
        """``bigquery:<table>``."""
        return f"bigquery:{self.table}"

    def exports(self, watermark: datetime | None, imported: set[str]) -> Iterator[Export]:
        """The rows after ``watermark``, as one export."""
        raise NotConfigured("Reading the billing export from BigQuery is not available in this build.",
                            hint="Export the table to CSV files and set RAD_BILLING_SOURCE=csv:<folder>.")
