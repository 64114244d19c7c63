"""Lists and a deploy confirm at scale: 15,000 then 150,000 deployments on PostgreSQL, in one run.

Run: ``.venv/bin/python bench/scale.py --postgres postgresql://postgres@127.0.0.1:5432/bench_scale
[--deployments 150000] [--ledger 400000] [--users 20000]``. The database is wiped and migrated; the users, their
credit accounts, 50 platform modules, the deployments and the ledger rows are generated in the database itself
(``generate_series``). The caller (an admin, ``UADA``) owns one deployment in 100 and one ledger row in 100.
The rows are generated in two steps: a tenth of the deployments and ledger rows first, the rest after, and
every command is measured at both sizes through the real dispatcher (``Dispatcher.run_text`` /
``run_action``): ``/rad deployments all``, ``/rad deployments``, ``/rad credits history`` (its first page and
the CSV of the caller's rows), its Next page, and a deploy confirm (``deploy:confirm`` of a module that
depends on another, so the dependency check runs). Prints the median time of 5 calls (goal: each < 200 ms)
and the peak Python memory of one call (``tracemalloc``; goal: flat in the table size), then the ratios of
the large size to the small one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Reply
from core.accounts.identity import Caller, IdentityKey, create_user
from core.accounts.roles import ADMIN, grant_role
from core.config import Config
from core.conversations import ConversationRef
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Module
from tests.support.schema import reset_schema

ADA = Caller(IdentityKey("slack", "T1", "UADA"), "Ada")
WHERE = ConversationRef("slack", "T1", "CBENCH")
MODULES = 50
STATUSES = ("SUCCESS", "SUCCESS", "FAILURE", "DELETED", "SUCCESS", "CANCELLED", "SUCCESS", "TIMEOUT")
SHARE = 100
"""The caller owns one generated row in this many."""


@dataclass
class Seeded:
    ada: int
    first_user: int
    users: int


def seed_people(db: Database, users: int) -> Seeded:
    with db.unit_of_work() as s:
        ada = create_user(s, ADA.key, "Ada")
        grant_role(s, ada, ADMIN)
        s.add_all(Module(name=f"mod-{i:02d}", source="platform", commit="c0ffee", credit_cost=1)
                  for i in range(MODULES))
        s.add(Module(name="app", source="platform", commit="c0ffee", credit_cost=1, dependencies=["mod-00"]))
        s.flush()
        ada_id = ada.id
    with db.engine.begin() as c:
        first = c.execute(text("""
            INSERT INTO users (display_name, active, created_at)
            SELECT 'User ' || g, true, now() FROM generate_series(1, :n) AS g RETURNING id"""), {"n": users}).all()
        c.execute(text("""
            INSERT INTO credit_accounts (user_id, awarded, purchased, held, held_purchased, updated_at)
            SELECT id, 100, 0, 0, 0, now() FROM users WHERE id <> :ada"""), {"ada": ada_id})
        c.execute(text("UPDATE credit_accounts SET awarded = 1000000 WHERE user_id = :ada"), {"ada": ada_id})
    return Seeded(ada_id, min(r[0] for r in first), users)


def add_rows(db: Database, seeded: Seeded, deployments: tuple[int, int], ledger: tuple[int, int]) -> None:
    """Deployments and ledger rows numbered ``[from, to)`` of each; the caller owns one in :data:`SHARE`."""
    started = time.perf_counter()
    owner = "CASE WHEN g % :share = 0 THEN :ada ELSE :first + (g % :users) END"
    params = {"share": SHARE, "ada": seeded.ada, "first": seeded.first_user, "users": seeded.users}
    with db.engine.begin() as c:
        c.execute(text(f"""
            INSERT INTO deployments (short_id, module_name, owner_id, status, action, commit, inputs, outputs,
                credit_cost, hold_key, charged, chat_platform, chat_workspace, chat_channel, chat_thread,
                chat_message, created_at, updated_at, source_files, source_platform)
            SELECT 'b' || to_hex(g), 'mod-' || lpad((g % {MODULES})::text, 2, '0'), {owner},
                   (ARRAY{list(STATUSES)})[1 + g % {len(STATUSES)}], 'CREATE', 'c0ffee', '{{}}', '{{}}', 1,
                   'deploy:bench:' || g, true, 'slack', 'T1', 'C1', '', '',
                   timestamptz '2026-01-01' + g * interval '1 minute', now(), '{{}}', true
            FROM generate_series(:lo, :hi - 1) AS g"""), {**params, "lo": deployments[0], "hi": deployments[1]})
        c.execute(text(f"""
            INSERT INTO credit_transactions (key, user_id, kind, amount, awarded_delta, purchased_delta, held_delta,
                purchased_only, balance_after, deployment_ref, module, description, created_at)
            SELECT 'bench:' || g, {owner}, 'AWARD', 1, 1, 0, 0, false, 100,
                   'b' || to_hex(g % :deployments), 'mod-01', 'Bench row',
                   timestamptz '2026-01-01' + g * interval '30 seconds'
            FROM generate_series(:lo, :hi - 1) AS g"""),
            {**params, "lo": ledger[0], "hi": ledger[1], "deployments": max(deployments[1], 1)})
        c.execute(text("ANALYZE"))
    print(f"  generated deployments {deployments[0]:,}..{deployments[1]:,} and ledger rows {ledger[0]:,}.."
          f"{ledger[1]:,} in {time.perf_counter() - started:.1f} s")


def measured(fn: Callable[[], Any], times: int = 5) -> tuple[float, float, Any]:
    """Median seconds of ``times`` calls, then the peak traced memory (MiB) of one more call."""
    took, result = [], None
    for _ in range(times):
        started = time.perf_counter()
        result = fn()
        took.append(time.perf_counter() - started)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(took), peak, result


def reply(outcome: object) -> Reply:
    assert isinstance(outcome, Reply), outcome
    return outcome


def typed(dispatcher: Dispatcher, words: str) -> Reply:
    return reply(dispatcher.run_text(ADA, words, where=WHERE))


def clicked(dispatcher: Dispatcher, button: Button) -> Reply:
    return reply(dispatcher.run_action(ADA, ActionEvent(button.action_id, button.value), where=WHERE))


def next_button(answer: Reply) -> Button:
    return next(a for a in answer.actions if isinstance(a, Button) and a.label.startswith("Next"))


def confirm_once(dispatcher: Dispatcher) -> Reply:
    """Open the deploy confirmation of ``app`` (not timed here), then click Confirm: that call is what counts."""
    offer = reply(dispatcher.run_text(ADA, "deploy app", where=WHERE))
    button = next(a for a in offer.actions if isinstance(a, Button) and a.action_id == "deploy:confirm")
    started = time.perf_counter()
    done = reply(dispatcher.run_action(ADA, ActionEvent("deploy:confirm", button.value), where=WHERE))
    confirm_once.took = time.perf_counter() - started  # type: ignore[attr-defined]
    assert "is queued" in done.text, done.text
    return done


def measure(dispatcher: Dispatcher) -> dict[str, tuple[float, float]]:
    figures: dict[str, tuple[float, float]] = {}
    for words in ("deployments all", "deployments", "credits history"):
        took, peak, answer = measured(partial(typed, dispatcher, words))
        figures[f"/rad {words}"] = (took, peak)
        first_line = answer.text.splitlines()[0][:90]
        print(f"  /rad {words:<16} {took * 1000:7.1f} ms  peak {peak:6.1f} MiB   {first_line}")
        if words == "credits history":
            button = next_button(answer)
            took, peak, page = measured(partial(clicked, dispatcher, button))
            figures["history Next ▶"] = (took, peak)
            print(f"  {'history Next ▶':<21} {took * 1000:7.1f} ms  peak {peak:6.1f} MiB   "
                  f"{page.text.splitlines()[0][:90]}")
    clicks = []
    for _ in range(5):
        confirm_once(dispatcher)
        clicks.append(confirm_once.took)  # type: ignore[attr-defined]
    tracemalloc.start()
    confirm_once(dispatcher)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    took = statistics.median(clicks)
    figures["deploy confirm"] = (took, peak)
    print(f"  {'deploy confirm':<21} {took * 1000:7.1f} ms  peak {peak:6.1f} MiB   (the Confirm click; median of 5)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=150_000)
    parser.add_argument("--ledger", type=int, default=400_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--postgres", default=os.environ.get("RAD_BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.postgres.startswith("postgresql"):
        parser.error("give a PostgreSQL database with --postgres (it is wiped)")
    db = Database(args.postgres)
    reset_schema(db)
    upgrade(db.engine)
    seeded = seed_people(db, args.users)
    small_d, small_l = args.deployments // 10, args.ledger // 10
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(data_dir=Path(tmp) / "data", database_url=args.postgres, admins=(str(ADA.key),))
        dispatcher = Dispatcher(load_registry(), db, config)
        for size, (d, ledger) in enumerate(((small_d, small_l), (args.deployments, args.ledger))):
            lo_d, lo_l = (0, 0) if size == 0 else (small_d, small_l)
            print(f"{d:,} deployments, {ledger:,} ledger rows, {args.users:,} users:")
            add_rows(db, seeded, (lo_d, d), (lo_l, ledger))
            results.append(measure(dispatcher))
    print(f"large / small ({args.deployments // small_d}x the rows):")
    for name, (took, peak) in results[1].items():
        small_took, small_peak = results[0][name]
        print(f"  {name:<26} time x{took / small_took:5.2f}   peak memory x{peak / small_peak:5.2f}")
    db.dispose()


if __name__ == "__main__":
    main()
