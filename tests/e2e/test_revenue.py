"""End to end, through every front door: ``/rad revenue`` for a partner and for finance, chart and CSV checked.

Each scenario runs against Slack (signed requests into the real Bolt app) and Discord (INTERACTION_CREATE
payloads into the real discord.py client). The headline sums come from the daily rollup and the CSV from the
ledger rows: they are checked against each other, and a CSV too large to write at once reaches the viewer in a
direct message from the real worker.
"""

from __future__ import annotations

import asyncio
import csv
import io
import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from commands.views import revenue as views
from core.accounts.roles import PARTNER, revoke_role
from core.revenue.export import FINANCE_HEADER, PARTNER_HEADER
from storage.db import Database
from storage.models import AuditEvent, CreditTransaction, User, utcnow
from tests.support.front_door import FrontDoor, door, door_registry
from tests.support.revenue_story import FIN, PAT, QUINN, UMA, door_story, november, spent, user_of
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

D = Decimal
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """The Discord client with its default options (the door fixture may ask for them)."""
    return {}


def png_size(content: bytes) -> tuple[int, int]:
    assert content.startswith(PNG)
    width, height = struct.unpack(">II", content[16:24])
    return width, height


def table(door: FrontDoor, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(door.files()[name].decode())))


async def test_a_partner_sees_their_own_modules_and_share(door: FrontDoor, db: Database) -> None:
    await door_story(door, db)
    mine = await door.command("revenue", NOVEMBER, user=PAT)
    assert mine.private and "Your partner revenue – 2026-11-01 to 2026-11-30 (UTC)" in mine.text
    assert "Your share: 2.20 USD from 3 paying deployments (11.01 USD true revenue, 1,101 purchased credits)" \
        in mine.text
    assert "queue" not in mine.text and "platform-net" not in mine.text and "Payouts due" not in mine.text
    assert f"2026-11-02 12:00 · `net-plan` · {door.mention(UMA)} · 800 credits · true revenue 3.00 USD · " \
        "your share 0.60 USD" in mine.text  # the deployer as this platform mentions them
    files = door.files()
    width, _ = png_size(files["revenue-2026-11-01-2026-11-30.png"])
    assert width == 800 and len(files["revenue-2026-11-01-2026-11-30.png"]) > 5_000
    rows = table(door, "revenue-2026-11-01-2026-11-30.csv")
    pat = user_of(db, door, PAT).id
    with db.unit_of_work() as s:
        ledger = list(s.scalars(select(CreditTransaction).where(
            CreditTransaction.kind == "SPEND", CreditTransaction.partner_id == pat,
            CreditTransaction.user_id != pat, CreditTransaction.purchased_part > 0).order_by(CreditTransaction.id)))
    assert rows[0] == list(PARTNER_HEADER) and [int(r[0]) for r in rows[1:]] == [row.id for row in ledger]
    assert [D(r[8]) for r in rows[1:]] == [D("0.6"), D("1.6"), D("0.005")]


async def test_a_partner_asking_for_another_partners_revenue_is_refused_and_audited(door: FrontDoor,
                                                                                     db: Database) -> None:
    await door_story(door, db)
    refused = await door.command("revenue", {**NOVEMBER, "module": "-", "partner": QUINN}, user=PAT)
    assert refused.private and "Partners can see only the revenue of their own modules" in refused.text
    assert door.files() == {}
    with db.unit_of_work() as s:
        denied = [e.actor_id for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied"))]
    assert denied == [user_of(db, door, PAT).id]
    nobody = await door.command("revenue", NOVEMBER, user=UMA)
    assert "Only partners (their own modules), finance and admins can see revenue" in nobody.text


async def test_finance_sees_every_partner_and_the_payouts_due(door: FrontDoor, db: Database) -> None:
    await door_story(door, db)
    report = await door.command("revenue", NOVEMBER, user=FIN)
    assert "Platform revenue – 2026-11-01 to 2026-11-30 (UTC), all partners" in report.text
    assert "True revenue: 13.91 USD from 5 paying deployments (1,391 purchased credits at 100 credits per USD)" \
        in report.text
    assert "Partner shares: 3.46 USD" in report.text  # 0.6 + 1.6 + 1.25 + 0.005 = 3.455, half-even
    pat_name = user_of(db, door, PAT).display_name
    assert f"{pat_name}: 3 paying deployments, 1,101 purchased credits, due 2.20 USD" in report.text
    assert "1 paying deployment, 250 purchased credits, due 1.25 USD" in report.text
    rows = table(door, "revenue-2026-11-01-2026-11-30.csv")
    assert rows[0] == list(FINANCE_HEADER) and len(rows) == 6
    assert sum(D(r[9]) for r in rows[1:]) == D("13.91")
    assert png_size(door.files()["revenue-2026-11-01-2026-11-30.png"])[0] == 800

    one = await door.command("revenue", {**NOVEMBER, "module": "-", "partner": QUINN}, user=FIN)
    assert "True revenue: 2.50 USD from 1 paying deployment" in one.text and "net-plan" not in one.text


async def test_bad_periods_and_names_are_refused_with_what_to_do(door: FrontDoor, db: Database) -> None:
    await door_story(door, db)
    reversed_ = await door.command("revenue", {"start": "2026-11-30", "end": "2026-11-01"}, user=FIN)
    assert "after it ends" in reversed_.text
    open_ = await door.command("revenue", {"start": "2026-11-01", "end": "-"}, user=FIN)
    assert "needs both its first and its last day" in open_.text
    long_ = await door.command("revenue", {"start": "2025-01-01", "end": "2026-11-30"}, user=FIN)
    assert "a report covers at most 366 days" in long_.text
    unknown = await door.command("revenue", {**NOVEMBER, "module": "nope"}, user=FIN)
    assert "There is no module `nope`" in unknown.text
    empty = await door.command("revenue", {"start": "2026-10-01", "end": "2026-10-31"}, user=FIN)
    assert "No paying deployments in this period" in empty.text and door.files() == {}



async def test_rows_page_with_buttons_and_each_click_is_checked_again(door: FrontDoor, db: Database) -> None:
    await door_story(door, db)
    pat, uma = user_of(db, door, PAT).id, user_of(db, door, UMA).id
    with db.unit_of_work() as s:
        for day in range(11, 21):
            spent(s, s.get_one(User, uma), "db-kit", s.get_one(User, pat), "100", "100", "20", november(day),
                  f"rev:dep{day:05d}")
    first = await door.command("revenue", NOVEMBER, user=PAT)
    assert "Deployments (page 1 of 2, newest first)" in first.text.replace("*", "")
    assert [b.label for b in first.buttons] == ["Next ▶"]
    second = await door.click(first, "Next", user=PAT)
    assert second.replaced and "page 2 of 2" in second.text and "2026-11-02 12:00" in second.text
    assert [b.label for b in second.buttons] == ["◀ Previous"]
    with db.unit_of_work() as s:  # Pat is a partner no more: the same button now refuses
        revoke_role(s, s.get_one(User, pat), PARTNER)
    refused = await door.click(second, "Previous", user=PAT)
    assert "Only partners (their own modules), finance and admins can see revenue" in refused.text


def odd_spends(db: Database, door: FrontDoor) -> None:
    """Forty more SPENDs over November: odd amounts and shares, some at the last and first instant of a day."""
    pat, quinn, uma = (user_of(db, door, p).id for p in (PAT, QUINN, UMA))
    with db.unit_of_work() as s:
        for i in range(40):
            day = datetime(2026, 11, 1 + i % 29, tzinfo=UTC) + (timedelta(days=1, microseconds=-1) if i % 3 else
                                                                 timedelta(0))
            who, module = (s.get_one(User, quinn), "queue") if i % 2 else (s.get_one(User, pat), "net-plan")
            spent(s, s.get_one(User, pat if i % 7 == 0 else uma), module, who, f"{10 + i}.25", f"{i % 5}.0{i % 10}",
                  ("20", "33.33", "12.5")[i % 3], day, f"rev:odd{i:05d}")


async def test_finance_headline_and_payouts_are_the_csv_rows_summed(door: FrontDoor, db: Database) -> None:
    """The reply's sums (the rollup) and its CSV (the ledger rows) agree to the cent, for finance and a partner."""
    await door_story(door, db)
    odd_spends(door=door, db=db)
    report = await door.command("revenue", NOVEMBER, user=FIN)
    rows = table(door, "revenue-2026-11-01-2026-11-30.csv")
    revenue, share = sum((D(r[9]) for r in rows[1:]), D(0)), sum((D(r[10]) for r in rows[1:]), D(0))
    assert f"from {len(rows) - 1} paying deployments" in report.text
    assert f"True revenue: {revenue.quantize(D('0.01')):,} USD" in report.text
    assert f"Partner shares: {share.quantize(D('0.01')):,} USD" in report.text
    quinn = user_of(db, door, QUINN).display_name
    owed = sum((D(r[10]) for r in rows[1:] if r[5] == quinn), D(0))
    assert f"{quinn}: {sum(1 for r in rows[1:] if r[5] == quinn)} paying deployments" in report.text
    assert f"due {owed.quantize(D('0.01')):,} USD" in report.text
    mine = await door.command("revenue", NOVEMBER, user=QUINN)
    assert f"Your share: {owed.quantize(D('0.01')):,} USD" in mine.text


async def test_a_csv_too_large_to_write_at_once_comes_by_direct_message(door: FrontDoor, db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Over ``CSV_NOW_ROWS`` rows the reply says the CSV follows; the worker writes it and sends it to the viewer."""
    await door_story(door, db)
    monkeypatch.setattr(views, "CSV_NOW_ROWS", 3)
    report = await door.command("revenue", NOVEMBER, user=FIN)
    assert "The CSV of these 5 rows is being written: it comes to you in a direct message" in report.text
    assert list(door.files()) == ["revenue-2026-11-01-2026-11-30.png"]
    mine = await door.command("revenue", NOVEMBER, user=PAT)  # 3 rows: with the reply
    assert "being written" not in mine.text
    now = utcnow() + timedelta(minutes=1)
    with door.worker(lambda: now) as worker:
        while await asyncio.to_thread(worker.run_once):
            pass
    [sent] = [m for m in door.direct_messages(FIN) if "CSV of your revenue report" in m.text]
    assert "2026-11-01 to 2026-11-30 (UTC): 5 rows, oldest first" in sent.text
    rows = table(door, "revenue-2026-11-01-2026-11-30.csv")
    assert rows[0] == list(FINANCE_HEADER) and len(rows) == 6 and sum(D(r[9]) for r in rows[1:]) == D("13.91")
