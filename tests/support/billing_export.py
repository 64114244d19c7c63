"""Google Cloud usage cost exports written as BigQuery writes them to CSV, for tests and the benchmark."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

COLUMNS = ("billing_account_id", "service.id", "service.description", "sku.id", "sku.description",
           "usage_start_time", "usage_end_time", "project.id", "project.name", "labels", "location.region",
           "export_time", "cost", "currency", "currency_conversion_rate", "usage.amount", "usage.unit",
           "credits", "invoice.month", "cost_type")


@dataclass
class Line:
    """One export row; ``when`` is its usage start (an hour long)."""

    project: str
    cost: str
    when: datetime
    service: str = "Compute Engine"
    sku: str = "N1 Predefined Instance Core running in Americas"
    labels: Mapping[str, str] = field(default_factory=dict)
    credits: tuple[str, ...] = ()
    currency: str = "USD"
    month: str = ""

    def values(self) -> dict[str, str]:
        end = self.when + timedelta(hours=1)
        return {
            "billing_account_id": "01ABCD-234567-89EF01", "service.id": "6F81-5844-456A",
            "service.description": self.service, "sku.id": "2E27-4F75-95CD", "sku.description": self.sku,
            "usage_start_time": stamp(self.when), "usage_end_time": stamp(end), "project.id": self.project,
            "project.name": self.project.replace("-", " ").title(),
            "labels": json.dumps([{"key": k, "value": v} for k, v in self.labels.items()]),
            "location.region": "us-central1", "export_time": stamp(end + timedelta(hours=3)), "cost": self.cost,
            "currency": self.currency, "currency_conversion_rate": "1.0", "usage.amount": "3600",
            "usage.unit": "seconds",
            "credits": json.dumps([{"name": "Free tier", "amount": float(c), "type": "FREE_TIER"}
                                   for c in self.credits]),
            "invoice.month": self.month or f"{self.when.year:04d}{self.when.month:02d}", "cost_type": "regular"}


def stamp(moment: datetime) -> str:
    """A timestamp as BigQuery writes it to CSV: ``2026-01-31 09:00:00 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def write_export(path: Path, lines: Iterable[Line], *, columns: tuple[str, ...] = COLUMNS) -> Path:
    """Write ``lines`` as one CSV export file at ``path``."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for line in lines:
            values = line.values()
            writer.writerow([values[c] for c in columns])
    return path


def generated(count: int, projects: list[str], start: datetime, *, labels: Mapping[str, str] | None = None
              ) -> Iterator[Line]:
    """``count`` rows spread over ``projects`` hour by hour from ``start`` (two services), for volume runs."""
    services = (("Compute Engine", "N1 Predefined Instance Core"), ("Cloud Storage", "Standard Storage"))
    for i in range(count):
        service, sku = services[i % 2]
        yield Line(projects[i % len(projects)], f"0.{(i * 7919) % 1000000:06d}",
                   start + timedelta(hours=i // len(projects)), service=service, sku=sku,
                   labels=labels or {}, credits=("-0.000100",) if i % 5 == 0 else ())
