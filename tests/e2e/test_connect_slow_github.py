"""GitHub hanging during ``/rad connect repo``: other users' commands still answer (SQLite, threads).

Before the fix the check with GitHub ran inside the command's transaction, which on SQLite holds the write
lock: every other command waited for GitHub, then failed with "database is locked".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from commands.framework.dispatch import Dispatcher
from commands.ui.model import Form, Outcome, Reply
from core.accounts.identity import Caller, IdentityKey
from tests.emulators.github import GitHubEmulator
from tests.support.connecting import connect_repository

ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
PAT = Caller(IdentityKey("slack", "T1", "UPAT"), "Pat")
OTHERS = [Caller(IdentityKey("slack", "T1", f"UOTHER{n}"), f"Other {n}") for n in range(4)]
HANG = 30.0
BOUND = 20.0
"""The longest any step may take; far below the hang, so a blocked command fails the test."""


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def in_thread(work: Callable[[], Outcome | None], results: list[Outcome | None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(work()), daemon=True)
    thread.start()
    return thread


def test_other_users_commands_answer_while_github_hangs(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    dispatcher.run_text(ADMIN, "admin grant <@UPAT> partner")
    github.add_repo("pat/modules", {"network/main.tf": 'variable "cidr" {}\n'})
    form = dispatcher.run_text(PAT, "connect")
    assert isinstance(form, Form)
    works = dispatcher.submit_form(PAT, form.action_id, {"token": github.add_token("pat")}, form.state)
    assert isinstance(works, Reply) and "works" in works.text

    github.hang(HANG, path="/repos/pat/modules")
    connected: list[Outcome | None] = []
    connecting = in_thread(lambda: connect_repository(dispatcher, PAT, "connect repo pat/modules"), connected)
    try:
        wait_until(lambda: github.held == 1, "GitHub to hold the repository check")
        answers: list[Outcome | None] = []
        others = [in_thread(lambda caller=caller: dispatcher.run_text(caller, "whoami"), answers)  # type: ignore[misc]
                  for caller in OTHERS]
        others.append(in_thread(lambda: dispatcher.run_text(ADMIN, "admin grant <@UGRANTED> partner"), answers))
        for thread in others:
            thread.join(BOUND)
        assert len(answers) == len(OTHERS) + 1, "a command waited for GitHub"
        assert connecting.is_alive() and github.held == 1  # all of that happened while GitHub still hung
        cards = sorted(a.cards[0].title.split(" (")[0] for a in answers if isinstance(a, Reply) and a.cards)
        assert cards == [c.display_name for c in OTHERS]
        [granted] = [a for a in answers if isinstance(a, Reply) and not a.cards]
        assert "is now a partner" in granted.text, granted.text
    finally:
        github.release()
    connecting.join(BOUND)
    [done] = connected
    assert isinstance(done, Reply) and "Connected *pat/modules*" in done.text, done
