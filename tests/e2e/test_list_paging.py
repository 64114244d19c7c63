"""Lists read one page in SQL, through Slack and Discord: never every row of a table to show fifteen.

The statements the bot sends are recorded with SQLAlchemy's cursor events while a front door runs the
command: every read of a list's rows carries a LIMIT, and the counts come from ``count(...)`` queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from core.accounts import identity
from core.accounts.identity import IdentityKey, create_user
from storage.db import Database
from storage.models import CreditTransaction, Deployment, DeploymentStatus, Module, User
from tests.support.front_door import ADMIN, FrontDoor, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

MINE, THEIRS, LEDGER = 40, 5, 35


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the database while the block runs (any thread)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def seed(db: Database, door: FrontDoor) -> tuple[int, int]:
    """The admin's deployments and ledger rows, and a few of someone else's deployments."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.unit_of_work() as s:
        me = identity.find_user(s, door.identity(ADMIN))
        assert me is not None
        other = create_user(s, IdentityKey("console", "", "other"), "Olga")
        s.flush()
        for n in range(MINE + THEIRS):
            s.add(Deployment(short_id=f"p{n:03d}", module_name=f"mod-{n % 3}", owner_id=me.id if n < MINE else other.id,
                             status=DeploymentStatus.SUCCESS, commit="c0ffee", hold_key=f"deploy:paging:{n}",
                             created_at=start + timedelta(minutes=n)))
        for n in range(LEDGER):
            s.add(CreditTransaction(key=f"paging:{n}", user_id=me.id, kind="AWARD", amount=1, awarded_delta=1,
                                    balance_after=n, description=f"row {n}", created_at=start + timedelta(hours=n)))
        return me.id, other.id


def rows_read(sent: list[str], table: str) -> list[str]:
    """The statements that read rows (not a count or an existence check) from ``table``."""
    return [s for s in sent if s.startswith("SELECT") and f"FROM {table}" in s
            and not s.startswith(("SELECT count(", "SELECT EXISTS", "SELECT exists"))]


async def test_everyones_deployments_are_one_page_read_with_limit(door: FrontDoor, db: Database) -> None:
    await door.command("whoami")
    seed(db, door)
    with statements(db) as sent:
        reply = await door.command("deployments", {"scope": "all"})
    total = MINE + THEIRS
    assert f"Deployments ({total})" in reply.text and f"…and {total - 15} older ones." in reply.text
    assert "p044" in reply.text and "Olga" in reply.text and "p029" not in reply.text  # the newest 15, owners named
    listed = rows_read(sent, "deployments")
    assert listed and all(" LIMIT " in s for s in listed), listed
    assert len([s for s in sent if "FROM users" in s and "users.id IN" in s]) <= 1  # owners in one query


async def test_own_deployments_and_the_home_read_one_page(door: FrontDoor, db: Database) -> None:
    await door.command("whoami")
    seed(db, door)
    with statements(db) as sent:
        mine = await door.command("deployments")
        home = await door.command("home")
    assert f"Deployments ({MINE})" in mine.text and f"…and {MINE - 15} older ones." in mine.text
    assert "Olga" not in mine.text and "p039" in mine.text
    assert f"Deployments ({MINE})" in home.text and f"and {MINE - 6} more" in home.text
    listed = rows_read(sent, "deployments")
    assert len(listed) == 2 and all(" LIMIT " in s for s in listed), listed


async def test_credit_history_pages_read_one_page(door: FrontDoor, db: Database) -> None:
    await door.command("whoami")
    seed(db, door)
    first = await door.command("credits history")
    with statements(db) as sent:
        second = await door.click(first, "Next")
    assert "page 2 of 4" in second.text and "row 24" in second.text and "row 25" not in second.text
    listed = rows_read(sent, "credit_transactions")
    assert listed and all(" LIMIT " in s for s in listed), listed


async def test_a_read_only_list_runs_in_a_read_only_unit_of_work(door: FrontDoor, db: Database) -> None:
    await door.command("whoami")
    seed(db, door)
    with statements(db) as sent:
        await door.command("deployments")
    if db.is_postgres:
        assert "SET TRANSACTION READ ONLY" in sent
    else:
        assert "PRAGMA query_only=ON" in sent
    with db.unit_of_work() as s:  # and the next writer writes
        s.add(User(display_name="After"))


@pytest.mark.parametrize("text", ["whoami", "help", "credits", "costs"])
async def test_commands_that_only_read_take_no_write_lock(door: FrontDoor, db: Database, text: str) -> None:
    """The command's own unit reads only; what is written is how the front door queued and deduplicated it."""
    await door.command("whoami")  # registered: what follows only reads
    seed(db, door)
    with statements(db) as sent:
        await door.command(text)
    if text != "help":  # help reads nothing once the caller is known (its registry is in memory)
        assert ("SET TRANSACTION READ ONLY" if db.is_postgres else "PRAGMA query_only=ON") in sent
    writes = [s for s in sent if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    queue = ("INSERT INTO deliveries ", "INSERT INTO jobs ", "UPDATE jobs ")  # the request's delivery key and job
    assert writes and all(s.startswith(queue) for s in writes), writes


async def test_the_caller_is_resolved_in_one_query_and_the_delivery_key_claimed_in_one(
        door: FrontDoor, db: Database) -> None:
    await door.command("whoami")
    with statements(db) as sent:
        await door.command("credits")
    caller_reads = [s for s in sent if "chat_identities" in s or "user_roles" in s or s.startswith("SELECT users.")]
    assert len(caller_reads) == 1 and "JOIN users" in caller_reads[0] and "user_roles" in caller_reads[0]
    claims = [s for s in sent if "deliveries" in s]
    assert len(claims) == 1 and "ON CONFLICT" in claims[0] and not [s for s in sent if "SAVEPOINT" in s]


async def test_the_catalog_reads_one_page_of_modules(door: FrontDoor, db: Database) -> None:
    with db.unit_of_work() as s:
        s.add_all(Module(name=f"cat-{n:02d}", source="platform", commit="c0ffee", deployment_count=n)
                  for n in range(11))
    first = await door.command("modules")
    assert "11 modules, page 1 of 2" in first.text and "cat-10" in first.titles and "cat-02" not in first.titles
    with statements(db) as sent:
        second = await door.click(first, "Next")
    assert "page 2 of 2" in second.text and second.titles == ["cat-02", "cat-01", "cat-00"]
    listed = rows_read(sent, "modules")
    assert listed and all(" LIMIT " in s for s in listed), listed
