"""The outbox: chat posts written with the work's transaction, posted by the worker after the commit,
retried when the chat platform fails, recorded once posted and never posted twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.runtime import Runtime
from bot.slack.app import make_client
from bot.slack.messenger import SlackMessenger
from bot.worker import Worker
from commands.framework.dispatch import Dispatcher
from commands.handlers.notify import KIND, POST_KIND, post_later
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.conversations import ConversationRef
from core.jobs import queue as jobs
from storage.db import Database
from storage.models import Job, JobStatus, User, utcnow
from tests.emulators.slack import SlackEmulator
from tests.support.slack_support import slack_config

WHERE = ConversationRef("slack", "T1", "C1")


class Clock:
    """The worker's clock, moved by the test (retries wait minutes)."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=5)  # rows queued by the test are due

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(dispatcher: Dispatcher, config: Config, db: Database, slack: SlackEmulator, clock: Clock) -> Worker:
    messenger = SlackMessenger(make_client(slack_config(config, slack)))
    return Worker(Runtime(config, db, dispatcher.registry, dispatcher), {"slack": messenger}, clock=clock)


def queue_post(db: Database, key: str, text: str) -> int:
    with db.unit_of_work() as session:
        return post_later(session, key, text, where=WHERE).id


def the_post(db: Database, job_id: int) -> Job:
    with db.unit_of_work() as session:
        return session.get_one(Job, job_id)


def test_a_post_whose_chat_call_fails_is_retried_and_posted_once(
    db: Database, worker: Worker, slack: SlackEmulator, clock: Clock
) -> None:
    job_id = queue_post(db, "deploy:7:done", "Deployment 7 is ready.")
    slack.fail("chat.postMessage", times=1)
    assert worker.run_once()
    failed = the_post(db, job_id)
    assert failed.status == JobStatus.QUEUED and failed.attempts == 1 and "internal_error" in failed.error
    assert slack.messages("C1") == []
    assert not worker.run_once()  # the retry waits (backoff)
    clock.now += timedelta(minutes=2)
    assert worker.run_once()
    [message] = slack.messages("C1")
    assert "Deployment 7 is ready." in message["text"]
    posted = the_post(db, job_id)
    assert posted.status == JobStatus.DONE and posted.payload["sent"]["message"] == message["ts"]
    clock.now += timedelta(hours=1)
    assert not worker.run_once()
    assert len(slack.messages("C1")) == 1


def test_a_post_whose_message_is_recorded_is_never_posted_again(
    db: Database, worker: Worker, slack: SlackEmulator, clock: Clock
) -> None:
    job_id = queue_post(db, "credits:award:1", "You got 25 credits.")
    assert worker.run_once()
    assert len(slack.messages("C1")) == 1
    with db.unit_of_work() as session:  # as if the row came back to the queue (an operator's retry, a bug)
        session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.QUEUED, run_after=clock.now))
    assert worker.run_once()
    assert len(slack.messages("C1")) == 1
    assert the_post(db, job_id).status == JobStatus.DONE


def test_one_key_is_one_post(db: Database, worker: Worker, slack: SlackEmulator) -> None:
    first = queue_post(db, "digest:2026-12-01", "Revenue digest")
    assert queue_post(db, "digest:2026-12-01", "Revenue digest") == first
    assert worker.run_once()
    assert not worker.run_once()
    assert len(slack.messages("C1")) == 1


def test_a_post_of_work_rolled_back_is_never_sent(db: Database, worker: Worker, slack: SlackEmulator) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        post_later(session, "deploy:8:done", "Deployment 8 is ready.", where=WHERE)
        raise RuntimeError("the work failed after queueing its message")
    with db.unit_of_work() as session:
        assert session.scalars(select(Job).where(Job.kind == POST_KIND)).all() == []
    assert not worker.run_once()
    assert slack.calls("/chat.postMessage") == []


def test_a_post_for_a_platform_this_process_cannot_reach_fails_after_its_retries(
    db: Database, worker: Worker, clock: Clock
) -> None:
    with db.unit_of_work() as session:
        job_id = post_later(session, "x", "hi", where=ConversationRef("discord", "G1", "1")).id
    for _ in range(jobs.MAX_ATTEMPTS):
        assert worker.run_once()
        clock.now += timedelta(hours=1)
    failed = the_post(db, job_id)
    assert failed.status == JobStatus.FAILED and "no messenger for 'discord'" in failed.error


def test_a_notice_queued_before_the_outbox_becomes_one_post_per_identity(
    db: Database, dispatcher: Dispatcher, worker: Worker, slack: SlackEmulator
) -> None:
    dispatcher.run_text(Caller(IdentityKey("slack", "T1", "UBOB"), "Bob"), "whoami")
    with db.unit_of_work() as session:
        bob = session.scalars(select(User).where(User.display_name == "Bob")).one()
        jobs.enqueue(session, KIND, {"user_id": bob.id, "text": "You got 25 credits."})
    assert worker.run_once()  # the old row: fanned out, nothing posted inside its transaction
    assert slack.calls("/chat.postMessage") == []
    assert worker.run_once()
    [sent] = slack.calls("/chat.postMessage")
    assert sent.body["channel"] == "UBOB" and "You got 25 credits." in str(sent.body)
    assert not worker.run_once()
