"""End to end, through every front door: ``/rad costs`` (summary, chart, CSV checked against the imported rows),
who may see whose costs, and a deployment card's cost to date.

Each scenario runs against Slack (signed requests into the real Bolt app) and Discord (INTERACTION_CREATE
payloads into the real discord.py client).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.accounts import identity
from core.costs.imports import import_export
from core.costs.report import CSV_HEADER
from core.costs.sources.csv import csv_export
from storage.db import Database
from storage.models import Deployment, User
from tests.support.billing_export import Line, write_export
from tests.support.front_door import ADMIN, FrontDoor, Person, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

pytestmark = pytest.mark.e2e
UMA, EVE, FIN = Person("uma"), Person("eve"), Person("fin")
D = Decimal
JAN = datetime(2026, 1, 5, 10, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """The Discord client with its default options."""
    return {}


def user_of(db: Database, door: FrontDoor, person: Person) -> int:
    with db.unit_of_work() as s:
        found = identity.find_user(s, door.identity(person))
        assert found is not None
        return found.id


def lines() -> list[Line]:
    """Uma's project (dep0000a by project id) and bucket (dep0000b by label), Eve's vm, and one nobody claims."""
    return [Line("uma-proj", "1.25", JAN, credits=("-0.25",)),
            Line("uma-proj", "0.5", JAN + timedelta(days=1), service="Cloud Storage", sku="Standard"),
            Line("pooled", "0.125", JAN, service="Cloud Storage", labels={"rad-deployment": "dep0000b"}),
            Line("eve-proj", "3", JAN, service="BigQuery"),
            Line("stray", "9", JAN),
            Line("uma-proj", "100", datetime(2026, 2, 3, tzinfo=UTC))]


async def billed_platform(door: FrontDoor, db: Database, tmp_path: Path) -> tuple[int, int]:
    for person in (UMA, EVE):
        await door.command("whoami", user=person)
    uma, eve = user_of(db, door, UMA), user_of(db, door, EVE)
    with db.unit_of_work() as s:
        s.add_all([
            Deployment(short_id="dep0000a", module_name="project", owner_id=uma, outputs={"project_id": "uma-proj"}),
            Deployment(short_id="dep0000b", module_name="bucket", owner_id=uma),
            Deployment(short_id="dep0000e", module_name="vm", owner_id=eve, outputs={"project_id": "eve-proj"})])
        s.flush()
        import_export(s, "csv:test", csv_export(write_export(tmp_path / "jan.csv", lines())))
    return uma, eve


def csv_rows(door: FrontDoor, name: str) -> list[dict[str, str]]:
    table = list(csv.reader(io.StringIO(door.files()[name].decode())))
    assert table[0] == list(CSV_HEADER)
    return [dict(zip(CSV_HEADER, row, strict=True)) for row in table[1:]]


async def test_costs_show_a_users_own_deployments_with_a_chart_and_an_exact_csv(door: FrontDoor, db: Database,
                                                                                tmp_path: Path) -> None:
    await billed_platform(door, db, tmp_path)
    with db.unit_of_work() as s:
        uma_name = s.get_one(User, user_of(db, door, UMA)).display_name
    reply = await door.command("costs", {"start": "2026-01-01", "end": "2026-01-31"}, user=UMA)
    assert reply.private and "Project costs – 2026-01-01 to 2026-01-31, yours" in reply.text
    assert "1.62 USD net (cost 1.88 USD, Google credits -0.25 USD), 0 credits debited so far" in reply.text
    assert "`dep0000a` project (uma-proj) — 1.50 USD net" in reply.text.replace("*", "")
    assert "dep0000b" in reply.text and "dep0000e" not in reply.text and "Unattributed" not in reply.text
    assert "Compute Engine — 1.00 USD" in reply.text and "Cloud Storage — 0.62 USD" in reply.text
    assert door.files()["costs.png"].startswith(PNG)
    slug = uma_name.lower().replace(" ", "-")
    got = csv_rows(door, f"costs-{slug}-2026-01-01-2026-01-31.csv")
    expected: dict[tuple[str, str, str], D] = defaultdict(D)
    for line in lines()[:3]:
        net = D(line.cost) + sum(map(D, line.credits), D(0))
        expected[(line.when.date().isoformat(), line.service, line.sku)] += net
    assert {(r["period"], r["service"], r["sku"]): D(r["net_cost"]) for r in got} == expected
    assert {r["deployment"] for r in got} == {"dep0000a", "dep0000b"} and {r["owner"] for r in got} == {uma_name}
    assert sum(int(r["rows"]) for r in got) == 3

    quarter = await door.command("costs", {"start": "2026-01-01", "end": "2026-03-31"}, user=UMA)
    assert "101.62 USD net" in quarter.text
    monthly = csv_rows(door, f"costs-{slug}-2026-01-01-2026-03-31.csv")
    assert sorted({r["period"] for r in monthly}) == ["2026-01", "2026-02"]
    assert sum(D(r["net_cost"]) for r in monthly) == D("101.625")

    card = await door.command("deployment", {"id": "dep0000a"}, user=UMA)
    assert "Project cost to date" in card.text and "101.50 USD" in card.text


async def test_nobody_sees_anothers_costs_but_finance_sees_all_and_the_unattributed(door: FrontDoor, db: Database,
                                                                                    tmp_path: Path) -> None:
    await billed_platform(door, db, tmp_path)
    nosy = await door.command("costs", {"user": UMA, "start": "2026-01-01", "end": "2026-01-31"}, user=EVE)
    assert "Only finance and admins can see another user's project costs" in nosy.text
    assert not any(n.startswith("costs-") for n in door.files())
    own = await door.command("costs", {"start": "2026-01-01", "end": "2026-01-31"}, user=EVE)
    assert "3.00 USD net" in own.text and "dep0000a" not in own.text
    await door.command("admin grant", {"user": FIN, "role": "finance"})
    everyone = await door.command("costs", {"start": "2026-01-01", "end": "2026-01-31"}, user=FIN)
    assert "everyone's" in everyone.text and "4.62 USD net" in everyone.text
    assert "Unattributed: 1 rows, 9.00 USD net" in everyone.text.replace("*", "")
    got = csv_rows(door, "costs-everyone-2026-01-01-2026-01-31.csv")
    assert sum(D(r["net_cost"]) for r in got) == D("13.625") and sum(int(r["rows"]) for r in got) == 5
    one = await door.command("costs", {"user": UMA, "start": "2026-01-01", "end": "2026-01-31", "module": "bucket"},
                             user=FIN)
    assert "module `bucket`" in one.text and "0.12 USD net" in one.text and "dep0000a" not in one.text
    for args, says in (({"start": "2026-01-01"}, "Give both days"), ({"start": "2026-13-01", "end": "-"}, "is not a"),
                       ({"start": "2025-01-01", "end": "2026-06-30"}, "at most 366 days")):
        refused = await door.command("costs", args, user=UMA)
        assert refused.private and says in refused.text
    empty = await door.command("costs", {"start": "2025-01-01", "end": "2025-01-31"}, user=UMA)
    assert "no project costs" in empty.text


async def test_a_period_the_balance_cannot_cover_is_told_to_the_user_and_the_admins(door: FrontDoor, db: Database,
                                                                                     tmp_path: Path) -> None:
    import asyncio

    from bot.cost_clock import run_cost_cycle
    from tests.e2e.test_credit_history import Clock, drain

    await door.command("whoami")
    await billed_platform(door, db, tmp_path)
    await door.command("admin credits", {"user": UMA, "kind": "award", "amount": "1"})
    clock = Clock()
    with door.worker(clock) as worker:
        run = await asyncio.to_thread(run_cost_cycle, worker.runtime, datetime(2026, 1, 31, tzinfo=UTC))
        assert run is not None and len(run.short) == 2
        await drain(worker)
        [told] = [m.text for m in door.direct_messages(UMA) if "project costs" in m.text]
        assert "came to 1.62 USD, that is 1.625 credits, but only 1 are available" in told.replace("*", "")
        assert "/rad costs" in told.replace("`", "")
        admin = [m.text for m in door.direct_messages(ADMIN) if "could not be debited" in m.text]
        assert len(admin) == 2 and any("does not switch off the cloud billing" in t for t in admin)
        again = await asyncio.to_thread(run_cost_cycle, worker.runtime, datetime(2026, 1, 31, 1, tzinfo=UTC))
        assert again is None
    costs_now = await door.command("costs", {"start": "2026-01-01", "end": "2026-01-31"}, user=UMA)
    assert "0 credits debited so far" in costs_now.text
