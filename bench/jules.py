"""The Jules relay of refine threads: many sessions over a simulated hour, against the Jules emulator.

Run: ``.venv/bin/python bench/jules.py [--sessions 20] [--minutes 30]``. Each session is started through the
bot's own start path (the real client against the emulator) on a fresh SQLite file; the clock's relay then
runs every 5 simulated seconds and a worker delivers its outbox to a recording chat platform. The agents work
in bursts: a session works a few minutes (greeting, plan, progress, a pull request), then waits for the team
or is done. Jules answers 500 to one request in fifty. Printed side by side in one run: the Jules calls the
relay made against polling every session every 5 s (goal: a small fraction, since waiting sessions are asked
once a minute and finished ones never), the p50/p99 time of one relay turn, and that every activity reached
its thread exactly once (goal: 0 missing, 0 repeated).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bot.runtime import Runtime
from bot.worker import Worker
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.handlers.refine_relay import poll
from commands.ui.model import Reply
from core.accounts.identity import Caller, IdentityKey, create_user
from core.accounts.roles import PARTNER
from core.config import Config
from core.conversations import ConversationRef
from core.repos.connections import JULES_KEY, jules_source
from core.secrets import store
from core.services import Services
from storage.db import Database
from storage.migrate import upgrade
from storage.models import JulesConnection, Module, RefineSession, UserRole, utcnow
from tests.emulators.jules import JulesEmulator

WHERE = ConversationRef("slack", "T1", "C1")
TICK = timedelta(seconds=5)
SHOWN = (":robot_face:", ":clipboard:", ":twisted_rightwards_arrows:", ":white_check_mark: Jules finished")
"""How the thread messages of agent messages, plans and pull requests begin."""


class RecordingChat:
    """A chat platform that keeps what it was sent: each post gets a message id, edits replace it."""

    platform = "slack"

    def __init__(self) -> None:
        self.messages: dict[str, tuple[str, str]] = {}
        """Message id -> (its thread, its text as it reads now)."""
        self.posts = 0

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        """Keep the post; its id is the next number."""
        self.posts += 1
        message = f"{self.posts}.000000"
        self.messages[message] = (where.thread, reply.text)
        return ConversationRef(where.platform, where.workspace, where.channel, where.thread, message)

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        """Replace the message's text."""
        self.messages[where.message] = (self.messages.get(where.message, (where.thread, ""))[0], reply.text)

    def notify(self, user: IdentityKey, reply: Reply) -> None:
        """Direct messages are not part of this benchmark."""


def seed(db: Database, services: Services, dispatcher: Dispatcher, jules: JulesEmulator,
         count: int) -> tuple[list[int], dict[str, str]]:
    """``count`` partners, each with a module, a Jules key and a session started with ``/rad refine``.

    Returns the sessions' row ids and the keys by Jules source.
    """
    keys = {}
    for n in range(count):
        repository = f"partner{n}/modules"
        jules.add_source(repository)
        key = jules.add_key()
        keys[jules_source(repository)] = key
        with db.unit_of_work() as session:
            user = create_user(session, IdentityKey("slack", "T1", f"U{n:04d}"), f"partner{n}")
            session.add(UserRole(user_id=user.id, role=PARTNER))
            session.add(Module(name=f"module-{n}", source="partner", owner_id=user.id, repository=repository,
                               commit="a" * 40))
            sealed = store(session, services.secrets, kind=JULES_KEY, plaintext=key, owner_id=user.id, now=utcnow())
            session.add(JulesConnection(owner_id=user.id, key_secret_id=sealed.id, sources=[jules_source(repository)]))
        answer = dispatcher.run_text(Caller(IdentityKey("slack", "T1", f"U{n:04d}"), f"partner{n}"),
                                     f"refine module-{n}", where=WHERE)
        assert isinstance(answer, Reply) and "Jules is starting" in answer.text, answer
    with db.unit_of_work() as session:
        ids = list(session.scalars(select(RefineSession.id)))
    return ids, keys


def work(jules: JulesEmulator, services: Services, keys: dict[str, str], rng: random.Random) -> None:
    """The agents' work this tick: some advance a step; a waiting plan is approved (in Jules) now and then."""
    for s in jules.sessions():
        if s.state in ("COMPLETED", "FAILED"):
            continue
        if s.state == "AWAITING_PLAN_APPROVAL":
            if rng.random() < 0.05:
                with services.jules(keys[s.source]) as client:
                    client.approve_plan(s.id)
        elif rng.random() < 0.3:
            jules.advance(s.id)


def work_calls(jules: JulesEmulator, services: Services, keys: dict[str, str], rng: random.Random) -> int:
    """The agents' work, and how many Jules calls it made itself (approvals): they are not the relay's."""
    before = len(jules.calls())
    work(jules, services, keys, rng)
    return len(jules.calls()) - before


def run(count: int, minutes: int, seed_value: int) -> None:
    """One run: start, relay over the simulated time, then check every activity's post."""
    rng = random.Random(seed_value)
    with tempfile.TemporaryDirectory() as folder:
        config = Config(database_url=f"sqlite:///{folder}/bench.db", data_dir=Path(folder))
        db = Database(config.effective_database_url)
        upgrade(db.engine)
        jules = JulesEmulator(seed=seed_value).start()
        config = Config(database_url=config.database_url, data_dir=Path(folder), jules_api_url=jules.url)
        services = Services(config, jules_options={"retries": 2, "backoff": 0.01, "max_backoff": 0.05})
        registry = load_registry()
        runtime = Runtime(config, db, registry, Dispatcher(registry, db, config, services=services))
        chat = RecordingChat()
        worker = Worker(runtime, {"slack": chat}, clock=lambda: utcnow() + timedelta(hours=1))
        ids, keys = seed(db, services, runtime.dispatcher, jules, count)
        before = len(jules.calls())
        now: datetime = utcnow()
        turns: list[float] = []
        ticks = int(timedelta(minutes=minutes) / TICK)
        for _ in range(ticks):
            if rng.random() < 0.02:
                jules.fail(times=1, status=500)
            started = time.perf_counter()
            poll(db, services, now)
            turns.append(time.perf_counter() - started)
            before += work_calls(jules, services, keys, rng)
            while worker.run_once():
                pass
            now += TICK
        calls = len(jules.calls()) - before
        naive = ticks * count * 2  # every session, every tick: its activities and the session itself
        with db.unit_of_work() as session:
            rows = {r.id: r for r in session.scalars(select(RefineSession).where(RefineSession.id.in_(ids)))}
            expected = sum(1 for s in jules.sessions() for a in s.activities
                           if any(k in a for k in ("agentMessaged", "planGenerated", "sessionCompleted")))
            opened = sum(1 for r in rows.values() if r.chat_thread)
        relayed = [(thread, text) for thread, text in chat.messages.values() if text.startswith(SHOWN)]
        shown = len(set(relayed))
        repeated = sum(n - 1 for n in Counter(relayed).values())
        jules.stop()
        db.dispose()
    print(f"{count} sessions over {minutes} simulated minutes ({ticks} relay turns), {opened} threads opened")
    print(f"  Jules calls: relay {calls:,} vs polling every session every 5 s {naive:,} = "
          f"{calls / naive:.1%} (goal: well under 50%)")
    print(f"  one relay turn: p50 {statistics.median(turns) * 1000:.1f} ms, "
          f"p99 {statistics.quantiles(turns, n=100)[98] * 1000:.1f} ms")
    print(f"  activities shown {shown} of {expected} (messages, plans, pull requests): "
          f"missing {max(0, expected - shown)}, repeated {repeated} (goal: 0 and 0)")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run(args.sessions, args.minutes, args.seed)


if __name__ == "__main__":
    main()
