"""End to end, through every front door: ``/rad invoices`` sends the month's PDF (read back with pdftotext), keeps
its number when asked again, refuses another user's invoice, and gives finance every invoice of the month as CSV."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.accounts.roles import ADMIN
from core.costs import debits
from core.credits import service as credits
from core.invoices.export import CSV_HEADER
from core.settings import store as settings
from storage.db import Database
from storage.models import User, UserRole
from tests.e2e.test_costs import EVE, FIN, UMA, billed_platform, user_of
from tests.support.front_door import FrontDoor, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

pytestmark = pytest.mark.e2e


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """The Discord client with its default options."""
    return {}


def pdf_text(content: bytes, tmp_path: Path) -> str:
    """The PDF's text as ``pdftotext -layout`` (poppler) extracts it; the file must open for that."""
    assert content.startswith(b"%PDF-")
    path = tmp_path / "invoice.pdf"
    path.write_bytes(content)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, timeout=30,
                          check=True)
    assert not done.stderr.strip(), done.stderr
    return done.stdout


async def test_the_invoice_pdf_lists_each_project_with_totals_and_keeps_its_number(door: FrontDoor, db: Database,
                                                                                   tmp_path: Path) -> None:
    uma, _eve = await billed_platform(door, db, tmp_path)
    await door.command("whoami")
    with db.unit_of_work() as s:
        settings.put(s, "credits_per_unit", "100")
        admin = s.query(User).join(UserRole).filter(UserRole.role == ADMIN).first()
        assert admin is not None
        credits.purchase(s, admin, s.get_one(User, uma), Decimal(1000), reason="start")
        run = debits.run(s, datetime(2026, 1, 31, tzinfo=UTC))
        assert run is not None and [(d.user_id, d.charged) for d in run.debits] == [(uma, True), (_eve, False)]
        name = s.get_one(User, uma).display_name
    reply = await door.command("invoices", {"month": "2026-01"}, user=UMA)
    assert reply.private and "Invoice RAD-202601-00001 – January 2026, yours: 2 projects, 1.62 USD net, 162.5 " \
        "credits debited" in reply.text.replace("*", "")
    text = pdf_text(door.files()["invoice-2026-01.pdf"], tmp_path)
    assert "RAD — project costs invoice" in text and "Invoice number: RAD-202601-00001" in " ".join(text.split())
    assert "January 2026" in text and f"{name} (user {uma})" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert rows["uma-proj"] == ["1.75", "USD", "-0.25", "USD", "1.50", "USD", "150"]
    assert rows["pooled"] == ["0.12", "USD", "0.00", "USD", "0.12", "USD", "12.5"]
    assert rows["Total"] == ["USD", "1.88", "USD", "-0.25", "USD", "1.62", "USD", "162.5"]
    assert "eve-proj" not in text and "stray" not in text

    again = await door.command("invoices", {"month": "2026-01"}, user=UMA)
    assert "RAD-202601-00001" in again.text
    february = await door.command("invoices", {"month": "2026-02"}, user=UMA)
    assert "RAD-202602-00001" in february.text
    assert "RAD-202602-00001" in pdf_text(door.files()["invoice-2026-02.pdf"], tmp_path)
    none = await door.command("invoices", {"month": "2025-12"}, user=UMA)
    assert "You have no project costs in December 2025, so there is no invoice" in none.text
    bad = await door.command("invoices", {"month": "2026-1"}, user=UMA)
    assert bad.private and "`2026-1` is not a month" in bad.text


async def test_finance_gets_anyones_invoice_and_the_months_csv_others_are_refused(door: FrontDoor, db: Database,
                                                                                  tmp_path: Path) -> None:
    uma, eve = await billed_platform(door, db, tmp_path)
    first = await door.command("invoices", {"month": "2026-01"}, user=UMA)
    assert "RAD-202601-00001" in first.text
    nosy = await door.command("invoices", {"user": UMA, "month": "2026-01"}, user=EVE)
    assert "Only finance and admins can see another user's invoices" in nosy.text
    await door.command("admin grant", {"user": FIN, "role": "finance"})
    month = await door.command("invoices", {"month": "2026-01"}, user=FIN)
    assert "Every invoice of January 2026: 2 users" in month.text
    table = list(csv.reader(io.StringIO(door.files()["invoices-2026-01.csv"].decode())))
    assert table[0] == list(CSV_HEADER)
    got = {int(r[1]): dict(zip(CSV_HEADER, r, strict=True)) for r in table[1:]}
    assert got[uma]["number"] == "RAD-202601-00001" and got[uma]["net_cost"] == "1.625"
    assert got[eve]["number"] == "RAD-202601-00002" and got[eve]["cost"] == "3" and got[eve]["projects"] == "1"
    theirs = await door.command("invoices", {"user": UMA, "month": "2026-01"}, user=FIN)
    assert "RAD-202601-00001" in theirs.text and "invoices-" not in theirs.text.replace("invoice-", "")
    assert user_of(db, door, UMA) == uma
