"""End to end, through Slack and Discord: refine a module with Jules in a thread, against the Jules and GitHub
emulators. The owner starts it; messages in the thread reach Jules; Jules' answers, progress (one message
edited in place), plan and pull request come back in order, once; only the owner and collaborators approve,
merge or close; End ends it. The relay runs as the clock runs it, the outbox as a worker delivers it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.worker import Worker
from commands.handlers.refine_relay import poll
from core.accounts import identity
from core.repos.connections import GITHUB_TOKEN, JULES_KEY, jules_source, owner_key
from core.secrets import store
from core.services import Services
from storage.db import Database
from storage.models import AuditEvent, JulesConnection, Module, RefineSession, RefineStatus, RepoConnection, utcnow
from tests.emulators.github import GitHubEmulator
from tests.emulators.github_git import PullRequest
from tests.emulators.jules import JulesEmulator, Script, Session
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.front_door import (
    FrontDoor,
    Person,
    Reply,
    discord_id,
    door,
    door_registry,
    plain,
    slack_id,
)
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

PAT, CLEO, EVE = Person("pat"), Person("cleo"), Person("eve")
REPOSITORY = "pat/modules"
FILES = {"network/main.tf": 'variable "cidr" {\n  type = string\n}\n', "README.md": "# modules\n"}


# -- the partner, the module and both emulators ------------------------------------------------------------

@pytest.fixture
async def team(door: FrontDoor, db: Database, services: Services, github: GitHubEmulator,
               jules: JulesEmulator) -> FrontDoor:
    """Pat, a partner owning ``network`` with a Jules key and a GitHub token; Cleo and Eve are known users.

    A completing Jules session opens a real pull request in the GitHub emulator.
    """
    await door.command("admin grant", {"user": PAT, "role": "partner"})
    for person in (CLEO, EVE):
        await door.command("admin grant", {"user": person, "role": "user"})
    repo = github.add_repo(REPOSITORY, FILES)
    token, key = github.add_token("pat"), jules.add_key()
    jules.add_source(REPOSITORY)

    def open_pull(session: Session, pr: dict[str, Any]) -> dict[str, Any]:
        repo.commit({"network/variables.tf": 'variable "enable_nat_gateway" {\n  default = false\n}\n'},
                    "feat: NAT toggle", branch=pr["headRef"])
        number = len(repo.pulls) + 1
        repo.pulls[number] = PullRequest(number, 9000 + number, pr["title"], pr["description"], pr["headRef"],
                                         "main", "google-labs-jules", repo.now())
        return {**pr, "url": f"https://github.com/{REPOSITORY}/pull/{number}"}

    jules.on_pull_request = open_pull
    with db.unit_of_work() as session:
        pat = identity.find_user(session, door.identity(PAT))
        assert pat is not None
        session.add(Module(name="network", source="partner", owner_id=pat.id, repository=REPOSITORY, commit="a" * 40,
                           description="A network."))
        sealed = store(session, services.secrets, kind=JULES_KEY, plaintext=key, owner_id=pat.id, now=utcnow())
        session.add(JulesConnection(owner_id=pat.id, key_secret_id=sealed.id, sources=[jules_source(REPOSITORY)]))
        gh = store(session, services.secrets, kind=GITHUB_TOKEN, plaintext=token, owner_id=pat.id, now=utcnow())
        session.add(RepoConnection(owner_key=owner_key(pat), owner_id=pat.id, full_name=REPOSITORY,
                                   default_branch="main", token_secret_id=gh.id, token_login="pat",
                                   token_kind="classic"))
    return door


# -- reading and writing the channel and the thread --------------------------------------------------------

def top_posts(door: FrontDoor) -> list[tuple[str, Reply]]:
    """The bot's messages in the channel itself (not in a thread): their id (the thread they open) and reply."""
    if door.platform == "slack":
        emu = door.harness.emulator  # type: ignore[attr-defined]
        return [(m["ts"], door._as_reply(m, "", private=False))  # type: ignore[attr-defined]
                for m in emu.messages(sh.CHANNEL) if m.get("thread_ts") in (None, "", m["ts"])]
    emu = door.harness.emulator  # type: ignore[attr-defined]
    return [(str(c.message["id"]), door._as_reply(c.json, c.message, private=False, replaced=False))  # type: ignore[attr-defined]
            for c in emu.find("POST", rf"/channels/{dh.CHANNEL_ID}/messages") if c.message]


def thread_posts(door: FrontDoor, thread: str) -> list[Reply]:
    """The bot's messages in ``thread``, oldest first, each as it reads now (edits included)."""
    if door.platform == "slack":
        emu = door.harness.emulator  # type: ignore[attr-defined]
        return [door._as_reply(m, "", private=False)  # type: ignore[attr-defined]
                for m in emu.messages(sh.CHANNEL) if m.get("thread_ts") == thread and m["ts"] != thread]
    emu = door.harness.emulator  # type: ignore[attr-defined]
    latest: dict[str, Any] = {}
    for call in emu.find(None, rf"/channels/{thread}/messages(/\d+)?"):
        if call.method in ("POST", "PATCH") and call.message:
            latest[str(call.message["id"])] = (call.json, call.message)
    return [door._as_reply(body, message, private=False, replaced=False)  # type: ignore[attr-defined]
            for body, message in latest.values()]


def slack_status(door: FrontDoor, thread: str) -> str:
    """The working status the Slack thread shows now (``assistant.threads.setStatus``)."""
    emu = door.harness.emulator  # type: ignore[attr-defined]
    return str(emu.thread_status(sh.CHANNEL, thread))


def texts(door: FrontDoor, thread: str) -> list[str]:
    return [plain(r.text) for r in thread_posts(door, thread)]


def say(door: FrontDoor, thread: str, text: str, user: Person) -> None:
    """``user`` posts ``text`` in ``thread``."""
    if door.platform == "slack":
        h = door.harness  # type: ignore[attr-defined]
        assert h.event(h.event_body(text, user=slack_id(user), thread=thread)).status == 200
        h.settle()
    else:
        door.harness.message(thread, text, user_id=discord_id(user))  # type: ignore[attr-defined]


class Clock:
    """The clock's relay and a worker's outbox, run by hand: ``turn()`` is one poll, then every post."""

    def __init__(self, door: FrontDoor, db: Database, services: Services, worker: Worker) -> None:
        self.door, self.db, self.services, self.worker = door, db, services, worker

    async def deliver(self) -> None:
        while await asyncio.to_thread(self.worker.run_once):
            pass

    async def turn(self, times: int = 1) -> None:
        for _ in range(times):
            with self.db.unit_of_work() as session:  # due now, whatever the backoff said
                for row in session.scalars(select(RefineSession)):
                    if row.next_poll_at is not None:
                        row.next_poll_at = utcnow()
            await asyncio.to_thread(poll, self.db, self.services, utcnow())
            await self.deliver()


@pytest.fixture
def clock(team: FrontDoor, db: Database, services: Services) -> Iterator[Clock]:
    with team.worker(utcnow) as worker:
        yield Clock(team, db, services, worker)


async def wait_for(found: Any, timeout: float = 5.0) -> None:
    """Wait until ``found()`` is true (a thread message reaches the bot through the platform asynchronously)."""
    for _ in range(int(timeout / 0.05)):
        if found():
            return
        await asyncio.sleep(0.05)
    assert found(), "timed out"


async def click(door: FrontDoor, reply: Reply, label: str, user: Person, *, as_it_was: bool = False) -> Reply:
    """A click on a button of a slow action: the outcome that follows its wait (public in place, or private).

    ``as_it_was``: on the message as first posted, from a client still showing it after the bot edited it (on
    Slack a card's copy keeps its buttons anyway; on Discord it is the emulator's copy from before the edit).
    """
    if as_it_was and door.platform == "discord":
        sent = await door.send_click_as_it_was(reply, label, user=user)  # type: ignore[attr-defined]
    else:
        sent = await door.send_click(reply, label, user=user)
    await door.first(sent)
    for _ in range(100):  # the outcome follows the call to Jules or GitHub, in a thread of the bot's
        try:
            return await door.answer(sent)
        except AssertionError as unanswered:
            if "never answered" not in str(unanswered):
                raise
            await asyncio.sleep(0.05)
    return await door.answer(sent)


def only_session(jules: JulesEmulator) -> Session:
    [session] = jules.sessions()
    return session


# -- the scenario ------------------------------------------------------------------------------------------

async def test_a_team_refines_a_module_with_jules_in_a_thread(
        team: FrontDoor, clock: Clock, db: Database, jules: JulesEmulator, github: GitHubEmulator) -> None:
    door = team
    started = await door.command("refine", {"module": "network"}, user=PAT)
    pat = name_of(db, door, PAT)  # as the platform names them (after their first click)
    assert "Jules is starting on `network`" in started.text
    session = only_session(jules)
    created = next(c for c in jules.calls() if c.method == "POST" and c.path == "/sessions")
    assert created.body["requirePlanApproval"] is True and created.body["automationMode"] == "AUTO_CREATE_PR"
    assert "`network/`" in created.body["prompt"]

    again = await door.command("refine", {"module": "network"}, user=PAT)  # one live session per module
    assert "already has a live Jules session" in again.text
    assert {b.label for b in again.buttons} >= {"▶️ Resume", "End"} and len(jules.sessions()) == 1

    await clock.deliver()
    [(thread, opening)] = top_posts(door)
    await clock.turn()
    resumed = await door.click(again, "▶️ Resume", user=PAT)
    assert "continues in its thread" in resumed.text
    await clock.deliver()
    assert "resumed this session" in texts(door, thread)[-1]
    assert "Refining `network` with Jules" in opening.text and f"started by {pat}" in opening.text
    assert "This thread talks to Jules about `network`" in texts(door, thread)[0]

    jules.advance(session.id)  # Jules greets
    await clock.turn()
    assert any("Jules: I'm reading the repository" in t for t in texts(door, thread))

    say(door, thread, "Please add a NAT gateway toggle", EVE)  # anyone in the channel talks to Jules
    await wait_for(lambda: db_pending(db))
    await clock.turn()
    [sent] = [c for c in jules.calls() if c.path.endswith(":sendMessage")]
    assert sent.body["prompt"].startswith("[Module `network` (folder `network/`), from ")
    assert sent.body["prompt"].endswith("Please add a NAT gateway toggle")

    jules.run(session.id)  # the reply, then the plan, which waits for approval
    await clock.turn()
    await clock.turn()  # an activity fetched twice is posted once
    plans = [r for r in thread_posts(door, thread) if "Jules' plan for `network`" in r.text]
    assert len(plans) == 1 and "1. Add variable enable_nat_gateway" in plans[0].text
    plan = plans[0]
    assert [b.label for b in plan.buttons] == ["Approve", "Ask for changes"]

    refused = await click(door, plan, "Approve", EVE)  # not the owner, not a collaborator
    assert "Only the owner of `network` and the collaborators they named may approve its plan" in refused.text
    assert jules.session(session.id).state == "AWAITING_PLAN_APPROVAL"

    added = await door.command("refine collaborators", {"module": "network", "change": "add", "user": CLEO},
                               user=PAT)
    assert "may now approve plans" in added.text
    approved = await click(door, plan, "Approve", CLEO)
    cleo = name_of(db, door, CLEO)
    assert f"Approved by {cleo} at " in approved.text and approved.buttons == []
    twice = await click(door, plan, "Approve", PAT, as_it_was=True)  # a card still showing Approve: no approval
    assert f"Approved by {cleo}" in twice.text and twice.buttons == []
    with db.unit_of_work() as s:
        decided = [e.outcome for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "refine.plan.approved")
                                                 .order_by(AuditEvent.id))]
    assert decided == ["ok", "duplicate"], "one approval; the second click is told it was decided"
    assert len([c for c in jules.calls() if c.path.endswith(":approvePlan")]) == 1

    jules.advance(session.id)  # progress: one status message, edited in place
    await clock.turn()
    jules.advance(session.id)
    await clock.turn()
    status = [t for t in texts(door, thread) if "Jules is working" in t]
    if door.platform == "slack":  # the thread's own working status (assistant.threads.setStatus), no message
        assert status == [] and slack_status(door, thread) == "is working: Ran bash command"
    else:
        assert len(status) == 1 and "terraform validate" in status[0]

    jules.run(session.id)  # completed, with a pull request
    await clock.turn()
    [pull] = [r for r in thread_posts(door, thread) if "Pull request:" in r.text]
    assert f"https://github.com/{REPOSITORY}/pull/1" in pull.text and "modules/vpc/variables.tf` +6 −0" in pull.text
    if door.platform == "slack":
        assert slack_status(door, thread) == "", "Jules stopped working: the status is cleared"
    assert [b.label for b in pull.buttons][:2] == ["Merge", "Close"]
    merged = await click(door, pull, "Merge", CLEO)
    assert f"Merged by {cleo} at " in merged.text and "Squashed into" in merged.text
    assert [b.label for b in merged.buttons] == ["Update module"]
    not_theirs = await click(door, merged, "Update module", CLEO)  # publishing stays the owner's
    assert "Only the owner of `network` publishes it" in not_theirs.text
    update = await click(door, merged, "Update module", PAT)  # the repository rescanned, the module ticked
    assert "network" in update.text and any(b.label.startswith("Update (1 selected)") for b in update.buttons)
    updated = await door.click(update, "Update (1 selected)", user=PAT)
    assert "network" in updated.text and "Updated" in updated.text
    gh_pull = github.repo(REPOSITORY).pulls[1]
    assert gh_pull.merged_at is not None and f"(Jules session {session.id})" in github.repo(REPOSITORY).store.commits[
        gh_pull.merge_commit_sha or ""].message, "squashed, the commit naming the session"
    if door.platform == "slack":
        closed = await click(door, pull, "Close", PAT)  # decided already: the card says by whom
        assert f"Merged by {cleo}" in closed.text

    ended = await door.command("refine end", {"module": "network"}, user=PAT)
    assert "has ended" in ended.text and jules.session(session.id).archived
    await clock.deliver()
    assert f"Session ended by {pat}" in texts(door, thread)[-1]
    say(door, thread, "one more thing", EVE)
    await asyncio.sleep(0.3)
    assert len([c for c in jules.calls() if c.path.endswith(":sendMessage")]) == 1, "an ended session hears nothing"

    with db.unit_of_work() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        dump = json.dumps([e.detail for e in s.scalars(select(AuditEvent))])
    assert {"refine.start", "refine.plan.approved", "refine.pull.merged", "refine.end"} <= set(actions)
    assert "access.denied" in actions
    key = next(iter(jules._keys))
    assert key not in dump and key not in json.dumps([b.value for r in thread_posts(door, thread) for b in r.buttons])


def name_of(db: Database, door: FrontDoor, person: Person) -> str:
    with db.unit_of_work() as session:
        user = identity.find_user(session, door.identity(person))
        assert user is not None
        return user.display_name


def db_pending(db: Database) -> bool:
    with db.unit_of_work() as session:
        return any(row.pending for row in session.scalars(select(RefineSession)))


async def test_the_refine_button_starts_the_session_and_says_what_is_missing(
        team: FrontDoor, db: Database, jules: JulesEmulator) -> None:
    door = team
    mine = await door.command("modules", {"tab": "partner"}, user=PAT)
    started = await click(door, mine, "✨ Refine", PAT)
    assert "Jules is starting on `network`" in started.text and len(jules.sessions()) == 1
    forged = await click(door, mine, "✨ Refine", EVE)
    assert "There is no module `network`" in forged.text or "Only the partner" in forged.text
    with db.unit_of_work() as session:
        session.scalars(select(RefineSession)).one().live_module_id = None
        session.scalars(select(JulesConnection)).one().sources = []
    unseen = await click(door, mine, "✨ Refine", PAT)
    assert "Jules cannot see pat/modules yet" in unseen.text and "Jules GitHub app" in unseen.text
    assert len(jules.sessions()) == 1


# -- what goes wrong -----------------------------------------------------------------------------------------

async def open_session(door: FrontDoor, clock: Clock, jules: JulesEmulator) -> tuple[str, Session]:
    """Pat starts a session on ``network``; its thread is open. Returns the thread and the Jules session."""
    await door.command("refine", {"module": "network"}, user=PAT)
    await clock.deliver()
    [(thread, _)] = top_posts(door)
    await clock.turn()
    return thread, only_session(jules)


async def approved(door: FrontDoor, clock: Clock, jules: JulesEmulator) -> tuple[str, Session]:
    """An open session whose plan was relayed and Pat approved."""
    thread, session = await open_session(door, clock, jules)
    jules.run(session.id)
    await clock.turn()
    [plan] = [r for r in thread_posts(door, thread) if "Jules' plan" in r.text]
    await click(door, plan, "Approve", PAT)
    return thread, session


async def working(door: FrontDoor, clock: Clock, jules: JulesEmulator) -> tuple[str, Session]:
    """An open session whose plan Pat approved, relayed while Jules runs its first command."""
    thread, session = await approved(door, clock, jules)
    jules.advance(session.id)
    await clock.turn()
    return thread, session


@pytest.mark.parametrize("door", ["slack"], indirect=True)
async def test_slack_shows_jules_working_as_the_threads_status_and_clears_it_when_it_stops(
        team: FrontDoor, clock: Clock, jules: JulesEmulator) -> None:
    door = team
    emu = door.harness.emulator  # type: ignore[attr-defined]
    thread, session = await working(door, clock, jules)
    [first] = emu.calls("assistant.threads.setStatus")
    assert first.body["channel_id"] == sh.CHANNEL and first.body["thread_ts"] == thread
    assert first.body["status"] == "is working: Ran bash command" and first.token.startswith("xoxb-")
    assert slack_status(door, thread) == "is working: Ran bash command"
    assert not [t for t in texts(door, thread) if "Jules is working" in t], "no status message beside it"

    jules.advance(session.id)  # the next command: the status is set again
    await clock.turn()
    assert len(emu.calls("assistant.threads.setStatus")) == 2
    jules.run(session.id)  # done, with a pull request: the status is cleared
    await clock.turn()
    assert [c.body["status"] for c in emu.calls("assistant.threads.setStatus")][-1] == ""
    assert slack_status(door, thread) == "" and any("Pull request:" in t for t in texts(door, thread))


@pytest.mark.parametrize("door", ["slack"], indirect=True)
async def test_where_slack_refuses_the_threads_status_the_status_message_shows_it(
        team: FrontDoor, clock: Clock, jules: JulesEmulator) -> None:
    door = team
    emu = door.harness.emulator  # type: ignore[attr-defined]
    emu.status_refusal = "missing_scope"  # not an assistant app: Slack refuses setStatus
    thread, session = await working(door, clock, jules)
    jules.advance(session.id)
    await clock.turn()
    status = [t for t in texts(door, thread) if "Jules is working" in t]
    assert len(status) == 1 and "terraform validate" in status[0], "one status message, edited in place"
    assert len(emu.calls("assistant.threads.setStatus")) == 1, "refused once, then not asked again"
    assert slack_status(door, thread) == ""
    jules.run(session.id)
    await clock.turn()
    assert len(emu.calls("assistant.threads.setStatus")) == 1 and all(texts(door, thread)), "no empty message"
    assert any("Pull request:" in t for t in texts(door, thread))


async def to_pull_request(door: FrontDoor, clock: Clock, jules: JulesEmulator) -> tuple[str, Reply]:
    """An open session whose plan Pat approved and whose pull request card is posted."""
    thread, session = await approved(door, clock, jules)
    jules.run(session.id)
    await clock.turn()
    [pull] = [r for r in thread_posts(door, thread) if "Pull request:" in r.text]
    return thread, pull


async def test_jules_down_for_minutes_then_back_and_a_refused_key_are_said_in_the_thread(
        team: FrontDoor, clock: Clock, jules: JulesEmulator) -> None:
    door = team
    thread, session = await open_session(door, clock, jules)
    jules.advance(session.id)
    jules.fail(times=9, status=500)  # three turns of the relay, each with its retries
    await clock.turn(3)
    down = [t for t in texts(door, thread) if "Jules is not answering right now" in t]
    assert len(down) == 1 and "keeps trying" in down[0]
    await clock.turn()  # Jules is back: the thread catches up, once
    assert len([t for t in texts(door, thread) if "I'm reading the repository" in t]) == 1
    jules.rate_limit(times=3, retry_delay=None)  # a 429 without retry info: one turn lost, nothing said
    await clock.turn()
    assert len([t for t in texts(door, thread) if "not answering" in t or "limiting" in t]) == 1

    key = next(iter(jules._keys))
    jules.revoke_key(key)
    await clock.turn()
    refused = [t for t in texts(door, thread) if "Jules refused the API key" in t]
    assert len(refused) == 1 and "/rad connect jules" in refused[0] and key not in " ".join(texts(door, thread))


async def test_a_question_and_a_failure_say_what_to_do_and_the_relay_stops(
        team: FrontDoor, clock: Clock, db: Database, jules: JulesEmulator) -> None:
    door = team
    jules.script = Script(question="One NAT gateway per AZ, or one shared?", fail_reason="Unable to clone repository")
    thread, session = await open_session(door, clock, jules)
    jules.run(session.id)
    await clock.turn()
    [plan] = [r for r in thread_posts(door, thread) if "Jules' plan" in r.text]
    await click(door, plan, "Approve", PAT)
    jules.run(session.id)
    await clock.turn()
    shown = texts(door, thread)
    assert any("Jules: One NAT gateway per AZ" in t for t in shown)
    assert any("Jules is waiting for your answer: reply in this thread" in t for t in shown)

    say(door, thread, "One per AZ", PAT)
    await wait_for(lambda: db_pending(db))
    await clock.turn()
    assert len([t for t in texts(door, thread) if "waiting for your answer" in t]) == 1, "our own message is no news"
    jules.advance(session.id)  # the answer, then back to work
    jules.run(session.id)
    await clock.turn()
    [failed] = [t for t in texts(door, thread) if "Jules could not finish" in t]
    assert "Unable to clone repository" in failed and "Post a message in this thread" in failed
    with db.unit_of_work() as s:
        assert s.scalars(select(RefineSession)).one().next_poll_at is None, "a failed session is not asked again"


async def test_merge_with_conflicts_and_a_pull_request_closed_on_github(
        team: FrontDoor, clock: Clock, github: GitHubEmulator, jules: JulesEmulator) -> None:
    door = team
    _, pull = await to_pull_request(door, clock, jules)
    repo = github.repo(REPOSITORY)
    repo.commit({"network/variables.tf": 'variable "other" {}\n'}, "a change on main meanwhile")
    conflict = await click(door, pull, "Merge", PAT)
    assert "GitHub cannot merge it: it has conflicts" in conflict.text
    assert [b.label for b in conflict.buttons][:2] == ["Merge", "Close"], "still waiting for a decision"

    gh_pull = repo.pulls[1]
    gh_pull.state, gh_pull.closed_at = "closed", repo.now()
    closed = await click(door, conflict, "Close", PAT)
    assert "It was closed on GitHub already" in closed.text
    assert "Closed by someone outside the chat" in closed.text and closed.buttons == []


@pytest.mark.parametrize("door", ["slack"], indirect=True)
async def test_a_thread_deleted_in_chat_ends_the_session(
        team: FrontDoor, clock: Clock, db: Database, jules: JulesEmulator) -> None:
    door = team
    thread, session = await open_session(door, clock, jules)
    jules.run(session.id)
    await clock.turn()
    [plan] = [r for r in thread_posts(door, thread) if "Jules' plan" in r.text]
    await click(door, plan, "Approve", PAT)
    jules.advance(session.id)
    await clock.turn()  # the status message
    emu = door.harness.emulator  # type: ignore[attr-defined]
    for message in emu.messages(sh.CHANNEL):  # the thread is deleted in Slack
        emu.delete_message(sh.CHANNEL, message["ts"])
    jules.advance(session.id)
    await clock.turn()  # its edit fails: retried by the outbox, then given up
    for hours in (1, 2, 3):  # the outbox's later attempts, as time goes by
        with door.worker(lambda: utcnow() + timedelta(hours=hours)) as worker:  # noqa: B023
            while await asyncio.to_thread(worker.run_once):
                pass
    await clock.turn()
    with db.unit_of_work() as s:
        row = s.scalars(select(RefineSession)).one()
        assert row.status == RefineStatus.FAILED and "its thread is gone" in row.end_note
        assert row.live_module_id is None
    assert jules.session(session.id).archived


async def test_asking_for_changes_revises_the_plan_and_an_ended_session_says_so(
        team: FrontDoor, clock: Clock, db: Database, jules: JulesEmulator) -> None:
    door = team
    thread, session = await open_session(door, clock, jules)
    jules.run(session.id)
    await clock.turn()
    [plan] = [r for r in thread_posts(door, thread) if "Jules' plan" in r.text]
    form = await door.click_form(plan, "Ask for changes", user=PAT)
    asked = await door.submit(form, {"changes": "One NAT gateway per AZ"}, user=PAT)
    assert "a revised plan will follow" in asked.text
    await clock.turn()
    [sent] = [c for c in jules.calls() if c.path.endswith(":sendMessage")]
    assert sent.body["prompt"].endswith("Please revise the plan: One NAT gateway per AZ")
    pat = name_of(db, door, PAT)
    assert any(f"Changes asked by {pat} at " in t for t in texts(door, thread)), "the card says who asked"
    jules.advance(session.id)  # Jules answers with a revised plan
    await clock.turn()
    plans = [r for r in thread_posts(door, thread) if "Jules' plan" in r.text]
    assert len(plans) == 2 and "(revised)" in plans[1].text
    stale = await click(door, plan, "Approve", PAT) if door.platform == "slack" else None
    assert stale is None or "replaced this plan with a newer one" in stale.text
    approved = await click(door, plans[1], "Approve", PAT)
    assert f"Approved by {pat}" in approved.text and jules.session(session.id).state == "IN_PROGRESS"

    await door.command("refine end", {"module": "network"}, user=PAT)
    say(door, thread, "are you still there?", PAT)
    if door.platform == "slack":
        await wait_for(lambda: door.harness.emulator.ephemerals(slack_id(PAT)))  # type: ignore[attr-defined]
        shown = plain(sh.texts(door.harness.emulator.ephemerals(slack_id(PAT))[-1]))  # type: ignore[attr-defined]
    else:
        await wait_for(lambda: any("has ended" in t for t in texts(door, thread)))
        shown = next(t for t in texts(door, thread) if "has ended" in t)
    assert "This Jules session on `network` has ended: the message was not sent" in shown
    assert "/rad refine network" in shown
