"""Billing sources (``RAD_BILLING_SOURCE``): where project costs come from, behind one interface.

A source hands out *exports*: a named, fingerprinted batch of billing rows that the importer takes whole or
not at all. ``csv:<file or folder>`` reads Google Cloud's usage cost export written as CSV; ``bigquery:<table>``
reads the export table itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.errors import InvalidInput, NotConfigured

KINDS = ("csv", "bigquery")


@dataclass(frozen=True)
class Export:
    """One batch of rows: its name, its fingerprint (the same batch is never imported twice), and a reader."""

    name: str
    digest: str
    lines: Iterator[tuple[int, list[str]]]
    """The header first (line 1), then each row with its line number."""


class BillingSource(Protocol):
    """Where billing rows come from."""

    @property
    def label(self) -> str:
        """The source as configured (``csv:/data/billing``), recorded with each import."""

    def exports(self, watermark: datetime | None, imported: set[str]) -> Iterator[Export]:
        """The exports not imported yet: rows after ``watermark``, batches whose digest is not in ``imported``."""


def parse_source(text: str) -> tuple[str, str]:
    """``RAD_BILLING_SOURCE`` split into its kind and target; ``("", "")`` when unset.

    Raises:
        InvalidInput: not ``csv:<file or folder>`` or ``bigquery:<project.dataset.table>``.
    """
    written = text.strip()
    if not written:
        return "", ""
    kind, _, target = written.partition(":")
    kind, target = kind.strip().lower(), target.strip()
    if kind not in KINDS or not target:
        raise InvalidInput(f"RAD_BILLING_SOURCE `{written}` is not a billing source.",
                           hint="Write csv:<file or folder> or bigquery:<project.dataset.table>.")
    if kind == "bigquery" and len([p for p in target.split(".") if p]) != 3:
        raise InvalidInput(f"RAD_BILLING_SOURCE names the table `{target}`; BigQuery needs project.dataset.table.",
                           hint="Like bigquery:my-billing.billing_export.gcp_billing_export_v1_0123AB.")
    return kind, target


def open_source(text: str, **options: str) -> BillingSource:
    """The billing source ``RAD_BILLING_SOURCE`` names.

    Raises:
        NotConfigured: no source is configured (costs are off).
        InvalidInput: the setting does not parse.
    """
    kind, target = parse_source(text)
    if not kind:
        raise NotConfigured("No billing source is configured, so there are no project costs to import.",
                            hint="Set RAD_BILLING_SOURCE to csv:<file or folder> or bigquery:<project.dataset.table>.")
    if kind == "csv":
        from core.costs.sources.csv import CsvSource

        return CsvSource(target)
    from core.costs.sources.bigquery import BigQuerySource

    return BigQuerySource(target, api_url=options.get("api_url", ""))
