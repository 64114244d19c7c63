"""Stripe webhooks: signed deliveries against ``POST /stripe/webhook``, repeated and out of order.

Run: ``.venv/bin/python bench/webhooks.py [--deliveries 1000] [--postgres postgresql://.../db]``. The bot's
web server (waitress, the real ``StripeWebhook`` and event handlers) runs on a fresh SQLite file and, when
``--postgres`` (or ``RAD_BENCH_DATABASE_URL``) names an empty database it may wipe, on PostgreSQL too.
Checkout Sessions are opened through the bot's own purchase path (the real ``stripe`` library against the
Stripe emulator), paid in the emulator, and their events delivered by four concurrent senders: a quarter of
the deliveries repeat an event, some sessions are paid late (their success arrives before their completion)
and the whole stream is shuffled. A 5xx is retried, as Stripe does. Prints throughput, p50/p99 latency and the
check that the ledger equals the credits of the distinct paid sessions (goal: p99 < 100 ms, 0 discrepancies).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.web import start_background
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from core.accounts.identity import IdentityKey, create_user
from core.config import Config
from core.conversations import ConversationRef
from core.credits.ledger import check_balances
from core.payments import checkout
from core.services import Services
from core.settings import store
from storage.db import Database
from storage.migrate import upgrade
from storage.models import CreditAccount, CreditTransaction, Purchase
from tests.emulators.stripe import StripeEmulator
from tests.emulators.stripe_forms import sign
from tests.support.schema import reset_schema

KEY, SECRET = "sk_test_bench", "whsec_bench"
WHERE = ConversationRef("slack", "T1", "C1")
"""Where the purchases were asked for: paid events look for the offer to update, as in chat."""
USERS = 40
SENDERS = int(os.environ.get("BENCH_SENDERS", "4"))


@dataclass
class Result:
    """One database's run."""

    name: str
    deliveries: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    expected: Decimal = Decimal(0)
    ledger: Decimal = Decimal(0)
    purchase_rows: int = 0
    sessions: int = 0
    mismatched_users: int = 0
    unsound: int = 0

    @property
    def discrepancies(self) -> int:
        """Users whose purchased credits differ from their paid sessions, plus unsound accounts and rows."""
        return self.mismatched_users + self.unsound + abs(self.purchase_rows - self.sessions)


def prepare(db: Database, services: Services, emulator: StripeEmulator, deliveries: int,
            rng: random.Random) -> tuple[list[dict[str, Any]], dict[int, Decimal]]:
    """Users, paid sessions and the shuffled stream of events (a quarter repeats); the credits each user paid."""
    with db.unit_of_work() as s:
        store.put(s, "enable_subscription", True)
        store.put(s, "credits_per_unit", "100")
        users = [create_user(s, IdentityKey("slack", "T1", f"U{n:04d}"), f"user{n}").id for n in range(USERS)]
    distinct = deliveries - deliveries // 4
    late = distinct // 10  # sessions paid late: two events each
    paid_now = distinct - 2 * late
    stream: list[dict[str, Any]] = []
    expected: dict[int, Decimal] = {}
    for n in range(paid_now + late):
        uid = users[n % USERS]
        purchase, offer = checkout.buy(db, services, uid, str(rng.choice((10, 12.5, 25, 40, 99.99))), WHERE)
        expected[uid] = expected.get(uid, Decimal(0)) + offer.credits
        if n < paid_now:
            stream += emulator.pay(str(purchase.session_id))
        else:
            completed = emulator.pay(str(purchase.session_id), delayed=True)
            stream += emulator.settle_delayed(str(purchase.session_id)) + completed  # success first
    repeats = [rng.choice(stream) for _ in range(deliveries - len(stream))]
    stream += repeats
    rng.shuffle(stream)
    return stream, expected


def send_all(url: str, stream: list[dict[str, Any]], result: Result) -> None:
    """Deliver the stream with ``SENDERS`` concurrent senders, each on one keep-alive connection."""
    host, port = url.removeprefix("http://").split(":")
    lock = threading.Lock()
    queue = list(reversed(stream))

    def sender() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                event = queue.pop()
            body = json.dumps(event).encode()
            for _attempt in range(10):
                headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, SECRET)}
                started = time.perf_counter()
                connection.request("POST", "/stripe/webhook", body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                elapsed = time.perf_counter() - started
                with lock:
                    result.latencies.append(elapsed)
                if answer.status == 200:
                    break
                with lock:
                    result.retries += 1
                time.sleep(0.05)
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started


def check(db: Database, expected: dict[int, Decimal], result: Result) -> None:
    """The ledger against the paid sessions: per user, in total, and the accounts against their rows."""
    with db.unit_of_work() as s:
        ledger = {a.user_id: a.purchased for a in s.scalars(select(CreditAccount))}
        result.purchase_rows = s.scalar(select(func.count()).select_from(CreditTransaction)
                                        .where(CreditTransaction.kind == "PURCHASE")) or 0
        result.sessions = s.scalar(select(func.count()).select_from(Purchase)) or 0
        result.unsound = len(check_balances(s))
    result.expected = sum(expected.values(), Decimal(0))
    result.ledger = sum(ledger.values(), Decimal(0))
    result.mismatched_users = sum(1 for uid in set(expected) | set(ledger)
                                  if ledger.get(uid, Decimal(0)) != expected.get(uid, Decimal(0)))


def run(name: str, url: str, deliveries: int, seed: int) -> Result:
    """One full run on the database at ``url``."""
    db = Database(url)
    reset_schema(db)
    upgrade(db.engine)
    with tempfile.TemporaryDirectory() as data, StripeEmulator(api_key=KEY, webhook_secret=SECRET) as emulator:
        config = Config(data_dir=Path(data), database_url=url, stripe_api_key=KEY, stripe_webhook_secret=SECRET,
                        stripe_api_url=emulator.url)
        services = Services(config, stripe_options={"retries": 2, "backoff": 0.01})
        stream, expected = prepare(db, services, emulator, deliveries, random.Random(seed))
        registry = load_registry()
        server = start_background(Runtime(config, db, registry, Dispatcher(registry, db, config)), None)
        try:
            result = Result(name, len(stream), 0.0)
            send_all(server.url, stream, result)
        finally:
            server.stop()
        check(db, expected, result)
    db.dispose()
    return result


def report(result: Result) -> None:
    """Print one run's figures."""
    ordered = sorted(result.latencies)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000
    print(f"{result.name}: {result.deliveries} deliveries in {result.seconds:.2f} s = "
          f"{result.deliveries / result.seconds:.0f}/s; latency p50 {statistics.median(ordered) * 1000:.1f} ms, "
          f"p99 {p99:.1f} ms (goal < 100: {'ok' if p99 < 100 else 'MISSED'}); retried 5xx: {result.retries}")
    print(f"    ledger {result.ledger:,f} credits = distinct paid sessions {result.expected:,f}: "
          f"{'yes' if result.ledger == result.expected else 'NO'}; PURCHASE rows {result.purchase_rows} for "
          f"{result.sessions} sessions; discrepancies: {result.discrepancies} (goal 0)")


def main() -> None:
    """Run on SQLite, then on PostgreSQL when a database is named."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("RAD_BENCH_DATABASE_URL", ""),
                        help="an empty PostgreSQL database the benchmark may wipe")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging_off()
    with tempfile.TemporaryDirectory() as folder:
        report(run("SQLite", f"sqlite:///{folder}/bench.db", args.deliveries, args.seed))
    if args.postgres:
        report(run("PostgreSQL", args.postgres, args.deliveries, args.seed))
    else:
        print("PostgreSQL: skipped (give --postgres URL or RAD_BENCH_DATABASE_URL, an empty database)")


def logging_off() -> None:
    """Keep the per-event info lines out of the figures."""
    import logging

    logging.basicConfig(level=logging.WARNING)


if __name__ == "__main__":
    main()
