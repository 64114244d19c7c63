"""One billing-export row read and checked: the columns Google's standard usage cost export writes.

A header names the columns (``service.description``, ``project.id``, ``labels`` as JSON...); the required
ones must all be there. Each row is checked whole (dates, a numeric cost, a known currency, JSON labels and
credits); the first bad row stops the import with its line number and the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

from core.costs.money import CURRENCIES, to_nanos
from core.errors import InvalidInput

REQUIRED = ("service.description", "usage_start_time", "usage_end_time", "project.id", "cost", "currency")
OPTIONAL = ("billing_account_id", "sku.description", "project.name", "labels", "credits", "invoice.month",
            "export_time")
DEPLOYMENT_LABEL = "rad-deployment"
"""The resource label that names the deployment a row belongs to."""
ALIASES = {"service_description": "service.description", "sku_description": "sku.description",
           "project_id": "project.id", "project_name": "project.name", "invoice_month": "invoice.month"}
"""Flattened names some exports use (``SELECT service.description AS service_description``)."""
LIMITS = {"billing_account_id": 64, "service.description": 200, "sku.description": 300, "project.id": 100,
          "project.name": 200}


class BadExport(InvalidInput):
    """The export cannot be imported; the message names the file, the line and what is wrong."""


class ParsedRow(NamedTuple):
    """A checked row, money in integer nanos; ``key`` (a SHA-256 digest) identifies the row's content."""

    key: bytes
    billing_account: str
    service: str
    sku: str
    usage_start: datetime
    usage_end: datetime
    project_id: str
    project_name: str
    label_deployment: str
    cost_nanos: int
    credits_nanos: int
    currency: str
    invoice_month: str
    export_time: datetime | None


FIELDS = (*REQUIRED, *OPTIONAL)
CHECKED = tuple(FIELDS.index(name) for name in LIMITS)


class Header:
    """Where each known column is in a file's rows (a missing optional column reads as empty)."""

    def __init__(self, names: Sequence[str], where: str) -> None:
        found = {ALIASES.get(n.strip(), n.strip()): i for i, n in enumerate(names)}
        missing = [name for name in REQUIRED if name not in found]
        if missing:
            raise BadExport(f"{where}: the header has no column {', '.join(f'`{m}`' for m in missing)}.",
                            hint="Export Google Cloud's standard usage cost table with its column names "
                                 f"({', '.join(REQUIRED)}). Nothing was imported.")
        self.width = len(names)
        self.index = {name: found.get(name, -1) for name in FIELDS}
        self.cells = itemgetter(*(found.get(name, self.width) for name in FIELDS))
        """The known cells of a row (padded with one empty cell), in :data:`FIELDS` order."""


def parse_row(header: Header, values: list[str], line: int, where: str) -> ParsedRow:
    """Check one row; raises BadExport naming ``where`` and ``line`` when anything is wrong."""
    if len(values) != header.width:
        raise _bad(where, line, f"it has {len(values)} fields where the header has {header.width}")
    values.append("")
    cells = header.cells(values)
    (service, started, ended, project, cost_text, currency_text, account, sku, project_name, labels, credits_text,
     month, exported) = cells
    for i, limit in zip(CHECKED, LIMITS.values(), strict=True):
        if len(cells[i]) > limit:
            raise _bad(where, line, f"`{FIELDS[i]}` is longer than {limit} characters")
    service = service.strip()
    if not service:
        raise _bad(where, line, "`service.description` is empty")
    start, end = _moment(started, "usage_start_time", where, line), _moment(ended, "usage_end_time", where, line)
    if end < start:
        raise _bad(where, line, "`usage_end_time` is before `usage_start_time`")
    cost = to_nanos(cost_text)
    if cost is None:
        raise _bad(where, line, f"the cost `{cost_text[:40]}` is not a number")
    currency = currency_text.strip().upper()
    if currency not in CURRENCIES:
        raise _bad(where, line, f"`{currency_text[:10]}` is not a known currency (ISO 4217, like USD)")
    credits = _credits(credits_text, where, line)
    label = _label(labels, where, line)
    month = month.strip() or f"{start.year:04d}{start.month:02d}"
    if not _month_ok(month):
        raise _bad(where, line, f"`invoice.month` `{month[:10]}` is not a month written YYYYMM")
    export_time = _moment(exported, "export_time", where, line) if exported.strip() else None
    key = hashlib.sha256("\x1f".join((
        account, service, sku, _canonical(started), _canonical(ended), project, labels, str(cost), str(credits),
        currency, month, _canonical(exported) if export_time else "")).encode()).digest()
    return ParsedRow(key, account.strip(), service, sku.strip(), start, end, project.strip(), project_name.strip(),
                     label, cost, credits, currency, month, export_time)


@lru_cache(maxsize=1024)
def _month_ok(month: str) -> bool:
    return len(month) == 6 and month.isdigit() and 1 <= int(month[4:]) <= 12


@lru_cache(maxsize=65536)
def _canonical(text: str) -> str:
    moment = _parse_moment(text)
    return moment.isoformat() if moment is not None else text


def _bad(where: str, line: int, why: str) -> BadExport:
    return BadExport(f"{where}, line {line}: {why}.",
                     hint="Fix or re-export the file; nothing of it was imported (a file is imported whole or "
                          "not at all).")


@lru_cache(maxsize=65536)
def _parse_moment(text: str) -> datetime | None:
    written = text.strip()
    if written.endswith(" UTC"):
        written = written[:-4] + "+00:00"
    elif written.endswith("Z"):
        written = written[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(written)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _moment(text: str, name: str, where: str, line: int) -> datetime:
    moment = _parse_moment(text)
    if moment is None:
        raise _bad(where, line, f"`{name}` `{text[:40]}` is not a date and time (like 2026-01-31 09:00:00 UTC)")
    return moment


@lru_cache(maxsize=4096)
def _json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _parsed_json(text: str, name: str, where: str, line: int) -> Any:
    try:
        return _json(text)
    except ValueError:
        raise _bad(where, line, f"`{name}` is not JSON") from None


def _label(text: str, where: str, line: int) -> str:
    written = text.strip()
    if written in ("", "[]", "{}"):
        return ""
    labels = _parsed_json(written, "labels", where, line)
    if isinstance(labels, dict):
        value = labels.get(DEPLOYMENT_LABEL, "")
    elif isinstance(labels, list):
        value = next((item.get("value", "") for item in labels
                      if isinstance(item, dict) and item.get("key") == DEPLOYMENT_LABEL), "")
    else:
        raise _bad(where, line, "`labels` is neither a list of {key, value} nor an object")
    return str(value).strip().lower()[:64]


def _credits(text: str, where: str, line: int) -> int:
    written = text.strip()
    if written in ("", "[]"):
        return 0
    credits = _parsed_json(written, "credits", where, line)
    if not isinstance(credits, list):
        raise _bad(where, line, "`credits` is not a list of credits")
    total = 0
    for item in credits:
        amount = to_nanos(str(item.get("amount", ""))) if isinstance(item, dict) else None
        if amount is None:
            raise _bad(where, line, "a credit's `amount` is not a number")
        total += amount
    return total
