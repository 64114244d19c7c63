"""The Jules relay of refine threads: 50 concurrent sessions against the Jules emulator, in one run.

Run: ``.venv/bin/python bench/jules.py [--sessions 50] [--minutes 30]``. Each session is started through the
bot's own start path (``/rad refine``, the real client against the emulator) on a fresh SQLite file. Time is
simulated for the schedule: the clock's relay (``poll``, as the ``clock`` role runs it) turns every 5
simulated seconds, and after each turn a worker delivers the outbox to a recording chat platform. Between two
turns the agents work: each session advancing this tick does so at its own random moment of the 5 s, which is
when the emulator makes its new activity visible. Plans are approved with the card's **Approve** button
(``dispatcher.run_action``, which wakes the session), finished sessions are now and then asked for more with a
thread message, and Jules answers 500 to one request in fifty. Printed, measured in the same run:

* activities relayed per second: every activity the relay moved its cursor past, per second of the wall time
  the relay and the worker spent (what one clock process sustains), beside the rate the agents produced them
  in simulated time;
* the relay delay of every agent message, plan and pull request (median, p99): from the simulated moment the
  emulator made the activity visible to the moment the chat platform received its message, computed as the
  simulated time from that moment to the start of the relay turn that relayed it (the relay's schedule), plus
  the measured wall time from the start of that turn to the chat platform's receipt (the turn's Jules calls and
  transactions, then the worker's delivery from the outbox), plus the worker's idle pause (1 s, counted in full:
  a running worker may be sleeping when the row is written). "While active": only activities that appeared
  while the relay was asking the session at its working pace or a click had woken it;
* Jules calls per session per minute when idle: the calls the relay made (counted on the emulator, by session)
  during turns in which the session was waiting for the team (a plan to approve, a question) both in the
  emulator and as the relay last saw it (no thread message waiting to go), over the simulated minutes spent
  so (the turn that finds a session newly waiting relays its plan or question: that is work, not idling);
  and the same for finished sessions (asked only while a message the team sent waits for Jules' answer);
* exactly once: every agent message, plan and pull request in its thread once (0 missing, 0 repeated).

Goal: p99 relay delay under 10 s while active; idle sessions cost at most 1 call per minute.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bot.runtime import Runtime
from bot.worker import Worker
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
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
KIND_TEXT = {"agentMessaged": (":robot_face:",), "planGenerated": (":clipboard:",),
             "sessionCompleted": (":twisted_rightwards_arrows:", ":white_check_mark: Jules finished")}
"""How the thread messages of agent messages, plans and pull requests begin."""
SHOWN_KINDS = tuple(KIND_TEXT)
IDLE = ("AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK", "PAUSED")
DONE = ("COMPLETED", "FAILED")
SESSION_PATH = re.compile(r"/sessions/([^/:]+)")
"""A call's session id, from its path (``/sessions/<id>/activities``, ``/sessions/<id>:sendMessage``)."""


class RecordingChat:
    """A chat platform that keeps what it was sent, and when (wall clock) each post arrived."""

    platform = "slack"

    def __init__(self) -> None:
        self.messages: dict[str, tuple[str, str]] = {}
        """Message id -> (its thread, its text as it reads now)."""
        self.arrivals: list[tuple[str, str, float]] = []
        """(thread, text, ``time.perf_counter()`` at receipt) of every post, in order."""
        self.posts = 0

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        """Keep the post; its id is the next number."""
        self.posts += 1
        message = f"{self.posts}.000000"
        self.messages[message] = (where.thread, reply.text)
        self.arrivals.append((where.thread, reply.text, time.perf_counter()))
        return ConversationRef(where.platform, where.workspace, where.channel, where.thread, message)

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        """Replace the message's text."""
        self.messages[where.message] = (self.messages.get(where.message, (where.thread, ""))[0], reply.text)

    def notify(self, user: IdentityKey, reply: Reply) -> None:
        """Direct messages are not part of this benchmark."""


def partner(n: int) -> Caller:
    """The chat identity of partner ``n``."""
    return Caller(IdentityKey("slack", "T1", f"U{n:04d}"), f"partner{n}")


def seed(db: Database, services: Services, dispatcher: Dispatcher, jules: JulesEmulator, count: int) -> None:
    """``count`` partners, each with a module, a Jules key and a session started with ``/rad refine``."""
    for n in range(count):
        repository = f"partner{n}/modules"
        jules.add_source(repository)
        key = jules.add_key()
        with db.unit_of_work() as session:
            user = create_user(session, partner(n).key, f"partner{n}")
            session.add(UserRole(user_id=user.id, role=PARTNER))
            session.add(Module(name=f"module-{n}", source="partner", owner_id=user.id, repository=repository,
                               commit="a" * 40))
            sealed = store(session, services.secrets, kind=JULES_KEY, plaintext=key, owner_id=user.id, now=utcnow())
            session.add(JulesConnection(owner_id=user.id, key_secret_id=sealed.id, sources=[jules_source(repository)]))
        answer = dispatcher.run_text(partner(n), f"refine module-{n}", where=WHERE)
        assert isinstance(answer, Reply) and "Jules is starting" in answer.text, answer


class Bench:
    """One run's state: the simulated clock, what appeared when, and what the relay cost."""

    def __init__(self, count: int, seed_value: int, folder: str) -> None:
        self.rng = random.Random(seed_value)
        self.now: datetime = utcnow()
        self.jules_now = self.now
        """The emulator's clock: the simulated moment of what it is doing (a turn, or one agent's step)."""
        self.jules = JulesEmulator(seed=seed_value, clock=lambda: self.jules_now).start()
        config = Config(database_url=f"sqlite:///{folder}/bench.db", data_dir=Path(folder),
                        jules_api_url=self.jules.url)
        self.db = Database(config.effective_database_url)
        upgrade(self.db.engine)
        self.services = Services(config, jules_options={"retries": 2, "backoff": 0.01, "max_backoff": 0.05})
        registry = load_registry()
        self.dispatcher = Dispatcher(registry, self.db, config, services=self.services)
        self.chat = RecordingChat()
        self.worker = Worker(Runtime(config, self.db, registry, self.dispatcher), {"slack": self.chat},
                             clock=lambda: utcnow() + timedelta(hours=1))
        seed(self.db, self.services, self.dispatcher, self.jules, count)
        self.visible: dict[str, list[tuple[str, datetime, bool]]] = defaultdict(list)
        """Jules session id -> (activity kind, simulated moment it became visible, while active) in order."""
        self.turns: list[tuple[datetime, float]] = []
        """(simulated start, ``perf_counter`` at start) of every relay turn."""
        self.busy = 0.0
        self.asked = 0
        self.idle_calls = self.done_calls = 0
        self.idle_seconds = self.done_seconds = 0.0

    def rows(self) -> dict[str, RefineSession]:
        """The refine rows by Jules session id."""
        with self.db.unit_of_work() as session:
            rows = {r.jules_session: r for r in session.scalars(select(RefineSession))}
            session.expunge_all()
        return rows

    def turn(self) -> None:
        """One relay turn at ``now`` and the outbox's delivery; counts idle sessions' calls on the emulator."""
        known = {jules_id: "" if row.pending else row.jules_state for jules_id, row in self.rows().items()}
        states = {s.id: s.state for s in self.jules.sessions()}
        before = len(self.jules.calls())
        started = time.perf_counter()
        self.turns.append((self.now, started))
        self.jules_now = self.now
        self.asked += poll(self.db, self.services, self.now)
        while self.worker.run_once():
            pass
        self.busy += time.perf_counter() - started
        calls = Counter(found.group(1) for c in self.jules.calls()[before:]
                        if (found := SESSION_PATH.match(c.path)) is not None)
        for jules_id, state in states.items():
            if state in IDLE and known.get(jules_id) in IDLE:
                self.idle_calls += calls[jules_id]
                self.idle_seconds += TICK.total_seconds()
            elif state in DONE and known.get(jules_id) in DONE:
                self.done_calls += calls[jules_id]
                self.done_seconds += TICK.total_seconds()

    def work(self) -> None:
        """The agents' and the team's work between this turn and the next, each at its own moment."""
        if self.rng.random() < 0.02:
            self.jules.fail(times=1, status=500)
        rows = self.rows()
        for s in self.jules.sessions():
            row = rows.get(s.id)
            at = self.now + TICK * self.rng.random()
            active = row is not None and (row.poll_seconds == int(TICK.total_seconds()) or bool(row.pending))
            if s.state == "AWAITING_PLAN_APPROVAL":
                if row is not None and row.plan_id and self.rng.random() < 0.02:
                    self.jules_now = at
                    self.dispatcher.run_action(partner(int(row.module_name.split("-")[1])),
                                               ActionEvent("refine:approve", f"{row.id}:{row.plan_id}"),
                                               where=ConversationRef("slack", "T1", "C1", row.chat_thread))
                    active = True  # the click woke the session
                else:
                    continue
            elif s.state in DONE and not s.pending_messages:
                if row is not None and row.chat_thread and self.rng.random() < 0.01:
                    self.jules_now = at
                    self.dispatcher.thread_message(partner(int(row.module_name.split("-")[1])),
                                                   ConversationRef("slack", "T1", "C1", row.chat_thread),
                                                   "Also tag every resource with the module name.")
                continue
            elif self.rng.random() >= 0.3:
                continue
            count = len(s.activities)
            self.jules_now = at
            self.jules.advance(s.id)
            for activity in s.activities[count:]:
                kind = next((k for k in SHOWN_KINDS if k in activity), "")
                self.visible[s.id].append((kind, at, active))

    def delays(self) -> tuple[list[float], list[float], int, int, int]:
        """Relay delays (active, all) of shown activities, and expected / missing / repeated counts.

        Each thread's posts are matched, kind by kind and in order, with the activities that should show: every
        agent message and plan, and the completion that brought the session's pull request (a later completion
        with the same pull request shows nothing new).
        """
        rows = self.rows()
        arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)
        for thread, text, received_at in self.chat.arrivals:
            kind = next((k for k, prefixes in KIND_TEXT.items() if text.startswith(prefixes)), "")
            if thread and kind:
                arrivals[(thread, kind)].append(received_at)
        active: list[float] = []
        every: list[float] = []
        expected = missing = repeated = 0
        for jules_id, seen in self.visible.items():
            row = rows.get(jules_id)
            thread = row.chat_thread if row is not None else ""
            for kind in SHOWN_KINDS:
                shown = [(at, on) for k, at, on in seen if k == kind]
                if kind == "sessionCompleted":
                    shown = shown[:1]
                received = arrivals.get((thread, kind), [])
                expected += len(shown)
                missing += max(0, len(shown) - len(received))
                repeated += max(0, len(received) - len(shown))
                for (at, on), wall in zip(shown, received, strict=False):
                    start, start_wall = max((t for t in self.turns if t[1] <= wall), key=lambda t: t[1])
                    delay = (start - at).total_seconds() + (wall - start_wall) + self.worker.poll_seconds
                    every.append(delay)
                    if on:
                        active.append(delay)
        return active, every, expected, missing, repeated

    def relayed(self) -> int:
        """Activities the relay moved its cursor past."""
        rows = self.rows()
        total = 0
        for s in self.jules.sessions():
            row = rows.get(s.id)
            cursor = row.cursor if row is not None else ""
            total += sum(1 for a in s.activities if cursor and a["createTime"] <= cursor)
        return total

    def close(self) -> None:
        """Stop the emulator and the database."""
        self.jules.stop()
        self.db.dispose()


def p99(values: list[float]) -> float:
    """The 99th percentile."""
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else (values[0] if values else 0.0)


def run(count: int, minutes: int, seed_value: int) -> None:
    """One run: start, relay over the simulated time, then measure."""
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(count, seed_value, folder)
        ticks = int(timedelta(minutes=minutes) / TICK)
        for _ in range(ticks):
            bench.turn()
            bench.work()
            bench.now += TICK
        bench.turn()
        active, every, expected, missing, repeated = bench.delays()
        relayed, produced = bench.relayed(), sum(len(s.activities) for s in bench.jules.sessions())
        opened = sum(1 for r in bench.rows().values() if r.chat_thread)
        bench.close()
    print(f"{count} concurrent sessions over {minutes} simulated minutes ({ticks + 1} relay turns, one every 5 s), "
          f"{opened} threads opened")
    print(f"  activities relayed: {relayed:,} of {produced:,}; {relayed / bench.busy:,.0f}/s of the relay's and "
          f"worker's wall time ({bench.busy:.1f} s for {bench.asked:,} session turns, "
          f"{bench.asked / bench.busy:,.0f}/s), "
          f"produced at {produced / (minutes * 60):.2f}/s simulated")
    print(f"  relay delay, activity visible -> chat message received, while active ({len(active)}): median "
          f"{statistics.median(active):.2f} s, p99 {p99(active):.2f} s, max {max(active):.2f} s (goal: p99 < 10 s)")
    print(f"  relay delay, every agent message, plan and pull request ({len(every)}): median "
          f"{statistics.median(every):.2f} s, p99 {p99(every):.2f} s")
    idle_minutes, done_minutes = bench.idle_seconds / 60, bench.done_seconds / 60
    print(f"  Jules calls per session per minute when idle (waiting for the team, {idle_minutes:,.0f} session-"
          f"minutes): {bench.idle_calls / max(idle_minutes, 1e-9):.2f} (goal: at most 1); finished, "
          f"asked only while a message waits for Jules' answer "
          f"({done_minutes:,.0f} session-minutes): {bench.done_calls / max(done_minutes, 1e-9):.2f}")
    print(f"  exactly once: {expected} agent messages, plans and pull requests to show: "
          f"missing {missing}, repeated {repeated} (goal: 0 and 0)")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run(args.sessions, args.minutes, args.seed)


if __name__ == "__main__":
    main()
