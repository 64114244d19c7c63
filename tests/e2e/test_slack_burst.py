"""Acks are stored as jobs: a burst of clicks is acked, each click answered once, nothing readable stored."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from bot.slack import queued
from storage.db import Database
from storage.models import Job, JobStatus
from tests.support.slack_support import Harness, emulator, harness, slack_runtime

__all__ = ["emulator", "harness", "slack_runtime"]

BURST = 120


def test_a_burst_of_clicks_is_acked_and_each_click_answered_once(harness: Harness, db: Database) -> None:
    bodies = [harness.action_body("home:open", user=f"U{n % 7:03d}", name=f"user{n % 7}") for n in range(BURST)]
    with ThreadPoolExecutor(24) as pool:  # many at once, as Slack sends them
        answers = list(pool.map(harness.interact, bodies))
    assert [(a.status, a.body) for a in answers] == [(200, "")] * BURST
    harness.runner.settle(timeout=120)
    with db.unit_of_work() as session:
        done = session.scalars(select(Job.status).where(Job.kind == queued.ACTION)).all()
    assert done == [JobStatus.DONE] * BURST  # every ack was stored, and every stored click was run
    for answer in answers:
        assert len(harness.emulator.calls(answer.hook)) == 1, "each click is answered once, none lost"


def test_a_stored_request_shows_neither_its_response_url_nor_the_verification_token(
        harness: Harness, db: Database) -> None:
    answer = harness.command("help")
    assert answer.status == 200
    harness.reply(answer)
    harness.settle()
    with db.unit_of_work() as session:
        [payload] = session.scalars(select(Job.payload).where(Job.kind == queued.COMMAND)).all()
    stored = json.dumps(payload)
    assert "/webhook/" not in stored and "legacy" not in stored and "help" not in stored
    assert set(payload) == {"request", "acked_at"}


def test_a_request_older_than_its_response_url_is_not_run(harness: Harness) -> None:
    body = harness.command_body("help")
    payload = queued.job_payload(harness.runtime, body)
    payload["acked_at"] -= queued.RESPONSE_URL_LIFETIME + 1
    hook = "/webhook/" + body["response_url"].rsplit("/", 1)[1]
    harness.runner.work.run(queued.COMMAND, payload)
    assert harness.emulator.calls(hook) == []
    payload["acked_at"] += queued.RESPONSE_URL_LIFETIME
    harness.runner.work.run(queued.COMMAND, payload)
    assert "RAD commands" in json.dumps(harness.emulator.wait_for(hook)[0].body)
