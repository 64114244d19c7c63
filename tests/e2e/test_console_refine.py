"""Refining a module with Jules in the console: ``refine <module>`` starts the session, its thread's messages are
printed as the outbox delivers them, ``> message`` answers in the thread (the session prompt) and ``>`` alone
offers the last card's buttons (Approve), against the Jules emulator, with the real worker and relay."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select

from bot.console import Console, ConsoleMessenger, console_caller
from bot.runtime import Runtime
from bot.scheduler import start_refine_relay
from bot.worker import Worker
from commands.framework.dispatch import Dispatcher
from commands.handlers.refine_relay import poll
from core.accounts import identity
from core.repos.connections import JULES_KEY, jules_source
from core.secrets import store
from storage.db import Database
from storage.models import JulesConnection, Module, RefineSession, UserRole, utcnow
from tests.emulators.jules import JulesEmulator

REPOSITORY = "pat/modules"


def test_a_session_prompt_talks_to_jules_and_approves_its_plan(dispatcher: Dispatcher, db: Database,
                                                              jules: JulesEmulator, tmp_path: Path) -> None:
    caller = console_caller("pat")
    jules.add_source(REPOSITORY)
    key = jules.add_key()
    with db.unit_of_work() as s:
        pat = identity.create_user(s, caller.key, "pat")
        s.add(UserRole(user_id=pat.id, role="partner"))
        s.add(Module(name="network", source="partner", owner_id=pat.id, repository=REPOSITORY, commit="a" * 40))
        sealed = store(s, dispatcher.services.secrets, kind=JULES_KEY, plaintext=key, owner_id=pat.id, now=utcnow())
        s.add(JulesConnection(owner_id=pat.id, key_secret_id=sealed.id, sources=[jules_source(REPOSITORY)]))

    out = io.StringIO()
    answers: Iterator[str] = iter(())

    def read(prompt: str) -> str:
        return next(answers)

    console = Console(dispatcher, caller, tmp_path / "files", read=read, read_secret=read, out=out, ansi=False)
    worker = Worker(Runtime(dispatcher.config, db, dispatcher.registry, dispatcher),
                    {"console": ConsoleMessenger(console)})

    def turn() -> None:
        with db.unit_of_work() as s:
            for row in s.scalars(select(RefineSession)):
                if row.next_poll_at is not None:
                    row.next_poll_at = utcnow()
        poll(db, dispatcher.services, utcnow())
        while worker.run_once():
            pass

    console.run("> hello?")
    assert "No thread is open here yet" in out.getvalue()
    console.run("refine network")
    assert "Jules is starting on `network`" in out.getvalue()
    turn()
    turn()
    assert "Refining `network` with Jules" in out.getvalue() and "🧵 In the thread" in out.getvalue()
    [session] = jules.sessions()

    console.run("> Please add a NAT gateway toggle")
    turn()
    [sent] = [c for c in jules.calls() if c.path.endswith(":sendMessage")]
    assert sent.body["prompt"].endswith("from pat] Please add a NAT gateway toggle")

    jules.run(session.id)  # greeting, the answer, then the plan
    turn()
    assert "Jules' plan for `network`" in out.getvalue() and "`>` alone offers these buttons" in out.getvalue()
    answers = iter(["1"])  # [1] Approve
    console.run(">")
    assert "Approved by pat at " in out.getvalue()
    assert jules.session(session.id).state == "IN_PROGRESS"
    assert key not in out.getvalue()

    stop = threading.Event()  # the console process runs no clock: its own relay thread sends what is typed
    relay = start_refine_relay(worker.runtime, stop, every=0.05)
    try:
        console.run("> and keep it compatible with AWS provider 5")
        for _ in range(200):
            if len([c for c in jules.calls() if c.path.endswith(":sendMessage")]) == 2:
                break
            time.sleep(0.05)
        assert [c for c in jules.calls() if c.path.endswith(":sendMessage")][-1].body["prompt"].endswith(
            "AWS provider 5")
    finally:
        stop.set()
        relay.join(5)
    assert not relay.is_alive()
