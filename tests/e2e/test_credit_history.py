"""End to end, through every front door: credit history (pages and CSV), debits, adjust all, low balances.

Each scenario runs against Slack (signed requests into the real Bolt app) and Discord (INTERACTION_CREATE
payloads into the real discord.py client). Background messages go through the real worker and each
platform's messenger to its emulator, on a clock the test moves.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot.scheduler import queue_low_balance_check
from bot.worker import Worker
from core.accounts import identity
from core.credits.history import CSV_HEADER
from storage.db import Database
from storage.models import CreditTransaction, User, utcnow
from tests.support.credit_story import DEPLOYMENT, write_story
from tests.support.front_door import ADMIN, FrontDoor, Person, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

UMA, EVE, FIN = Person("uma"), Person("eve"), Person("fin")
D = Decimal


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """The Discord client with its default options (the door fixture may ask for them)."""
    return {}


def user_of(db: Database, door: FrontDoor, person: Person) -> int:
    with db.unit_of_work() as s:
        found = identity.find_user(s, door.identity(person))
        assert found is not None
        return found.id


def ledger(db: Database, uid: int) -> list[CreditTransaction]:
    with db.unit_of_work() as s:
        return list(s.scalars(select(CreditTransaction).where(CreditTransaction.user_id == uid)
                              .order_by(CreditTransaction.id)))


async def with_story(door: FrontDoor, db: Database) -> int:
    """Uma (registered by her first command) with the story's 28 transactions, written by the admin."""
    await door.command("whoami")
    await door.command("whoami", user=UMA)
    uma, admin = user_of(db, door, UMA), user_of(db, door, ADMIN)
    with db.unit_of_work() as s:
        write_story(s, s.get_one(User, uma), s.get_one(User, admin))
    return uma


def name_of(db: Database, door: FrontDoor, person: Person) -> str:
    """The display name RAD knows ``person`` by (each platform tells it its own way)."""
    with db.unit_of_work() as s:
        return s.get_one(User, user_of(db, door, person)).display_name


def csv_sent(door: FrontDoor, db: Database, person: Person, start: str, end: str) -> list[list[str]]:
    """The rows of the CSV the bot sent for ``person``'s history from ``start`` to ``end``."""
    name = name_of(db, door, person).lower().replace(" ", "-")
    return list(csv.reader(io.StringIO(door.files()[f"credits-{name}-{start}-{end}.csv"].decode())))


def rows_shown(text: str) -> list[str]:
    """The transaction lines of a reply, once each (Slack's text repeats in the fallback and the blocks)."""
    return list(dict.fromkeys(line for line in text.splitlines() if " · balance " in line))


async def test_history_pages_with_buttons_and_attaches_the_whole_ledger_as_csv(door: FrontDoor,
                                                                                db: Database) -> None:
    uma = await with_story(door, db)
    first = await door.command("credits history", user=UMA)
    assert first.private and "Your credit history – all time: 28 transactions, page 1 of 3, newest first" \
        in first.text
    shown = rows_shown(first.text)
    assert len(shown) == 10 and "7 held · deployment `dep1a2b3` · net-plan · balance 213.25" in shown[0]
    assert [b.label for b in first.buttons] == ["Next ▶"]
    second = await door.click(first, "Next", user=UMA)
    assert second.replaced and "page 2 of 3" in second.text and len(rows_shown(second.text)) == 10
    third = await door.click(second, "Next", user=UMA)
    assert "page 3 of 3" in third.text and [b.label for b in third.buttons] == ["◀ Previous"]
    assert "day 1 · balance 1" in rows_shown(third.text)[-1] and len(rows_shown(third.text)) == 8
    back = await door.click(third, "Previous", user=UMA)
    assert "page 2 of 3" in back.text

    table = csv_sent(door, db, UMA, "all", "all")
    rows = ledger(db, uma)
    assert table[0] == list(CSV_HEADER) and len(table) == len(rows) + 1
    running = D(0)
    for line, row in zip(table[1:], rows, strict=True):
        got = dict(zip(CSV_HEADER, line, strict=True))
        running += D(got["awarded_delta"]) + D(got["purchased_delta"])
        assert (int(got["id"]), got["type"], D(got["amount"]), D(got["held_delta"]), got["deployment"]) == \
            (row.id, row.kind, row.amount, row.held_delta, row.deployment_ref or "")
        assert D(got["balance_after"]) == row.balance_after == running
        assert datetime.fromisoformat(got["date"].replace("Z", "+00:00")) == row.created_at


async def test_history_filters_and_refuses_what_it_cannot_show(door: FrontDoor, db: Database) -> None:
    await with_story(door, db)
    days = await door.command("credits history", {"start": "2026-01-05", "end": "2026-01-10"}, user=UMA)
    assert "2026-01-05 to 2026-01-10: 6 transactions, page 1 of 1" in days.text and days.buttons == []
    table = csv_sent(door, db, UMA, "2026-01-05", "2026-01-10")
    assert [line[9] for line in table[1:]] == [f"day {d}" for d in range(5, 11)]
    deployed = await door.command("credits history", {"start": "-", "end": "-", "deployment": DEPLOYMENT},
                                  user=UMA)
    assert f"all time, deployment `{DEPLOYMENT}`: 3 transactions" in deployed.text
    for args, expected in (({"start": "2026-02-30"}, "`2026-02-30` is not a start date"),
                           ({"start": "31/01/2026"}, "Write dates as YYYY-MM-DD"),
                           ({"start": "2026-02-01", "end": "2026-01-01"}, "after it ends"),
                           ({"start": "-", "end": "-", "deployment": "nope1234"}, "There is no deployment `nope1234`")):
        refused = await door.command("credits history", args, user=UMA)
        assert refused.private and expected in refused.text and "transactions, page" not in refused.text
    nosy = await door.command("credits history", {"user": UMA}, user=EVE)
    assert "Only finance and admins can see another user's credit history" in nosy.text
    await door.command("admin grant", {"user": FIN, "role": "finance"})
    audited = await door.command("credits history", {"user": UMA, "start": "2026-02-01"}, user=FIN)
    assert f"Credit history of {name_of(db, door, UMA)} – since 2026-02-01: 7 transactions" in audited.text
    assert len(csv_sent(door, db, UMA, "2026-02-01", "all")) == 1 + 7


async def test_a_debit_corrects_a_balance_but_never_below_zero(door: FrontDoor, db: Database) -> None:
    await door.command("whoami", user=UMA)
    await door.command("admin credits", {"user": UMA, "kind": "award", "amount": "20"})
    uma = user_of(db, door, UMA)
    done = await door.command("admin credits", {"user": UMA, "kind": "debit", "amount": "5",
                                                "reason": "double grant in March"})
    assert "Debited 5 credits from" in done.text and "(double grant in March)" in done.text
    assert "15 available" in done.text
    before = len(ledger(db, uma))
    for amount, reason, expected in (("50", "too much", "has only 15 credits available"),
                                     ("5", None, "A correction needs a reason"),
                                     ("abc", "x", "`abc` is not an amount"), ("0.00001", "x", "too many decimals"),
                                     ("-1", "x", "must be more than 0"), ("0", "x", "must be more than 0"),
                                     ("99999999999", "x", "more than one operation may move")):
        args = {"user": UMA, "kind": "debit", "amount": amount} | ({"reason": reason} if reason else {})
        refused = await door.command("admin credits", args)
        assert refused.private and expected in refused.text, (amount, refused.text)
    eve = await door.command("admin credits", {"user": UMA, "kind": "debit", "amount": "1", "reason": "x"}, user=EVE)
    assert eve.private and "admins" in eve.text and "Debited" not in eve.text
    assert len(ledger(db, uma)) == before
    [debit] = [r for r in ledger(db, uma) if r.kind == "DEBIT"]
    assert (debit.amount, debit.awarded_delta, debit.balance_after) == (D(5), D(-5), D(15))
    history = await door.command("credits history", user=UMA)
    assert "−5 debited (correction) – double grant in March · balance 15" in history.text


async def test_adjust_all_applies_once_per_user_even_when_repeated(door: FrontDoor, db: Database) -> None:
    for person in (ADMIN, UMA, EVE):
        await door.command("whoami", user=person)
    preview = await door.command("admin adjust", {"scope": "all", "kind": "award", "amount": "50",
                                                  "reason": "Launch bonus"})
    assert "50 awarded credits for each of 3 active users – 150 credits in all" in preview.text
    answers = sorted(a.text for a in await door.double_click(preview, "Apply to 3 users"))
    assert "awarded 50 credits to 0 users" in answers[0] and "3 users already had it" in answers[0]
    assert "awarded 50 credits to 3 users: 150 credits in all" in answers[1]
    rerun = await door.command("admin adjust", {"scope": "all", "kind": "award", "amount": "50",
                                                "reason": "Launch bonus"})
    assert "3 users already have this adjustment" in rerun.text and "Nothing to do" in rerun.text
    assert rerun.buttons == []
    for person in (ADMIN, UMA, EVE):
        grants = [(r.kind, r.amount) for r in ledger(db, user_of(db, door, person)) if r.description == "Launch bonus"]
        assert grants == [("AWARD", D(50))]
    refused = await door.command("admin adjust", {"scope": "all", "kind": "award", "amount": "5", "reason": "x"},
                                 user=EVE)
    assert refused.private and "Apply" not in refused.text


async def test_a_large_adjustment_asks_for_the_typed_amount(door: FrontDoor, db: Database) -> None:
    await door.command("whoami", user=UMA)
    preview = await door.command("admin adjust", {"scope": "all", "kind": "purchase", "amount": "10000",
                                                  "reason": "Partner grant"})
    assert "Apply asks you to type the amount" in preview.text
    form = await door.click_form(preview, "Apply")
    wrong = await door.submit(form, {"confirm": "1000"})
    assert "That is not the confirmation: type 10,000" in wrong.text and "Nothing was changed" in wrong.text
    assert [r for r in ledger(db, user_of(db, door, UMA)) if r.description == "Partner grant"] == []
    form = await door.click_form(preview, "Apply")
    done = await door.submit(form, {"confirm": "10,000"})
    assert "added 10,000 purchased credits to 2 users: 20,000 credits in all" in done.text
    [row] = [r for r in ledger(db, user_of(db, door, UMA)) if r.description == "Partner grant"]
    assert (row.kind, row.purchased_delta) == ("PURCHASE", D(10_000))


class Clock:
    """The worker's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.now


async def drain(worker: Worker) -> None:
    while await asyncio.to_thread(worker.run_once):
        pass


def low_notices(door: FrontDoor, person: Person) -> list[str]:
    return [m.text for m in door.direct_messages(person) if "credits are low" in m.text]


async def test_a_low_balance_is_told_once_per_24_hours(door: FrontDoor, db: Database) -> None:
    await door.command("whoami", user=UMA)
    await door.command("admin credits", {"user": UMA, "kind": "award", "amount": "20"})
    await door.command("admin settings", {"key": "low_credit_trigger", "value": "50"})
    clock = Clock()
    with door.worker(clock) as worker:
        await drain(worker)  # the award's direct message
        assert low_notices(door, UMA) == []
        assert await asyncio.to_thread(queue_low_balance_check, worker.runtime)
        assert not await asyncio.to_thread(queue_low_balance_check, worker.runtime)  # one waits already
        await drain(worker)
        [told] = low_notices(door, UMA)
        assert "20 available, below 50" in told and "Ask an admin or finance" in told
        assert "/rad credits history" in told
        assert low_notices(door, ADMIN) == []  # never had credits: nothing fell
        clock.now += timedelta(hours=23)
        assert await asyncio.to_thread(queue_low_balance_check, worker.runtime)
        await drain(worker)
        assert len(low_notices(door, UMA)) == 1
        assert [b.label for b in door.direct_messages(UMA)[-1].buttons] == []  # nothing to buy with: ask
        await door.command("admin settings", {"key": "enable_subscription", "value": "true"})
        clock.now += timedelta(hours=1, minutes=1)
        assert await asyncio.to_thread(queue_low_balance_check, worker.runtime)
        await drain(worker)
        assert len(low_notices(door, UMA)) == 2
        bought = door.direct_messages(UMA)[-1]
        assert "Buy credits with /rad credits buy" in bought.text.replace("`", "")
        assert [b.label for b in bought.buttons] == ["Buy credits"]
