"""End to end, through every front door: revenue digests set, posted now, posted once per period, late, broken.

Each scenario runs against Slack (the real Bolt app and its messenger) and Discord (the real discord.py client
and its messenger). The clock's tick runs on a test clock; the real worker posts through the outbox on another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.digest_clock import run_digests
from bot.worker import Worker
from commands.handlers.notify import POST_KIND
from storage.db import Database
from storage.models import (
    DigestPost,
    DigestPostStatus,
    DigestTarget,
    DigestTargetStatus,
    Job,
    JobStatus,
    User,
    utcnow,
)
from tests.support.discord_harness import CHANNEL_ID
from tests.support.front_door import FrontDoor, door, door_registry
from tests.support.revenue_story import FIN, PAT, UMA, door_story, spent, user_of
from tests.support.slack_support import CHANNEL, emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

PNG = b"\x89PNG\r\n\x1a\n"
NOV_2 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """The Discord client with its default options (the door fixture may ask for them)."""
    return {}


class Clock:
    """The worker's clock: a minute ahead (jobs queued meanwhile are due), moved on by the test (retries)."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


async def drain(door: FrontDoor, clock: Callable[[], datetime]) -> None:
    """Run the real worker until no job is due (in a thread: the Discord messenger needs the loop free)."""
    with door.worker(clock) as worker:
        assert isinstance(worker, Worker)
        while await asyncio.to_thread(worker.run_once):
            pass


def runtime_of(door: FrontDoor) -> Any:
    return door.harness.runtime  # type: ignore[attr-defined]


def since_november(db: Database) -> None:
    """The channel's weekly digest as if it had been set on Monday 2 November 2026."""
    with db.unit_of_work() as s:
        s.scalars(select(DigestTarget)).one().starts_at = NOV_2


def digest_posts(db: Database) -> list[Job]:
    with db.unit_of_work() as s:
        found = [j for j in s.scalars(select(Job).where(Job.kind == POST_KIND).order_by(Job.id))
                 if str(j.payload.get("key", "")).startswith("digest")]
        s.expunge_all()
        return found


async def test_here_now_and_off(door: FrontDoor, db: Database) -> None:
    await door_story(door, db)
    refused = await door.command("admin digest", {"what": "here", "cadence": "weekly"}, user=PAT)
    assert "Only admins or finance can" in refused.text
    here = await door.command("admin digest", {"what": "here", "cadence": "weekly"}, user=FIN)
    assert "This channel gets the weekly revenue digest" in here.text.replace("*", "")
    with db.unit_of_work() as s:
        target = s.scalars(select(DigestTarget)).one()
        assert (target.platform, target.channel, target.status) == \
            (door.platform, CHANNEL if door.platform == "slack" else CHANNEL_ID, DigestTargetStatus.ACTIVE)
    pat, uma = user_of(db, door, PAT).id, user_of(db, door, UMA).id
    with db.unit_of_work() as s:  # a paying deployment this week, so that "now" has something to show
        spent(s, s.get_one(User, uma), "net-plan", s.get_one(User, pat), "800", "500", "20",
              utcnow() - timedelta(minutes=1), "rev:depnow001")
    now = await door.command("admin digest", {"what": "now"}, user=FIN)
    assert "Posting the weekly digest so far" in now.text
    await drain(door, Clock())
    [post] = digest_posts(db)
    assert post.status == JobStatus.DONE, post.error
    assert post.payload["sent"]["channel"] == target.channel
    assert "Revenue digest" in post.payload["text"] and "so far" in post.payload["text"]
    # this week: the story's 30 November 23:00 (0.01 USD) and the deployment a minute ago (5.00 USD)
    assert "True revenue: *5.01 USD* from 2 paying deployments" in post.payload["text"]
    files = door.files()
    [png] = [content for name, content in files.items() if name.endswith(".png")]
    [csv_file] = [content for name, content in files.items() if name.endswith(".csv")]
    assert png.startswith(PNG) and len(png) > 5_000 and csv_file.decode().count("\n") == 3
    off = await door.command("admin digest", {"what": "off"}, user=FIN)
    assert "no more revenue digests" in off.text
    again = await door.command("admin digest", {"what": "now"}, user=FIN)
    assert "This channel gets no revenue digests" in again.text


async def test_each_period_once_even_after_a_restart_and_late_when_the_clock_was_down(door: FrontDoor,
                                                                                       db: Database) -> None:
    await door_story(door, db)
    await door.command("admin digest", {"what": "here", "cadence": "weekly"}, user=FIN)
    since_november(db)
    runtime, clock = runtime_of(door), Clock()
    assert run_digests(runtime, datetime(2026, 11, 8, 23, 0, tzinfo=UTC)) == 0  # the week is not over
    assert run_digests(runtime, datetime(2026, 11, 9, 0, 5, tzinfo=UTC)) == 1
    assert run_digests(runtime, datetime(2026, 11, 9, 0, 10, tzinfo=UTC)) == 0  # a second tick, or clock
    await drain(door, clock)
    await door.restart()
    assert run_digests(runtime, datetime(2026, 11, 9, 0, 15, tzinfo=UTC)) == 0  # after a restart
    # down from 9 November until 23 November 00:30: the week of the 9th comes late, the 16th's on time
    assert run_digests(runtime, datetime(2026, 11, 23, 0, 30, tzinfo=UTC)) == 2
    await drain(door, clock)
    posts = digest_posts(db)
    texts = [p.payload["text"] for p in posts]
    assert [p.status for p in posts] == [JobStatus.DONE] * 3 and all(p.payload.get("sent") for p in posts)
    assert "2026-11-02 to 2026-11-08 (UTC)" in texts[0] and "late" not in texts[0]
    assert "True revenue: *13.50 USD* from 3 paying deployments" in texts[0]  # 2, 3 and 7 November
    assert "2026-11-09 to 2026-11-15 (UTC) – _late: the bot was down" in texts[1]
    assert "2026-11-16 to 2026-11-22 (UTC)" in texts[2] and "late" not in texts[2]
    assert "No paying deployments in this period" in texts[2]
    with db.unit_of_work() as s:
        claims = [(p.period_start.day, p.late, p.status) for p in s.scalars(select(DigestPost)
                                                                          .order_by(DigestPost.period_start))]
    assert claims == [(2, False, DigestPostStatus.POSTED), (9, True, DigestPostStatus.POSTED),
                      (16, False, DigestPostStatus.POSTED)]
    pngs = [name for name in door.files() if name.endswith(".png")]
    assert pngs == ["revenue-2026-11-02-2026-11-08.png", "revenue-2026-11-09-2026-11-15.png"]


async def test_a_channel_the_bot_cannot_post_in_breaks_the_target_and_tells_who_set_it(door: FrontDoor,
                                                                                        db: Database) -> None:
    await door_story(door, db)
    await door.command("admin digest", {"what": "here", "cadence": "weekly"}, user=FIN)
    since_november(db)
    if door.platform == "slack":
        door.harness.emulator.fail("chat.postMessage", "not_in_channel", times=3)  # type: ignore[attr-defined]
    else:
        door.harness.emulator.forbidden.add(CHANNEL_ID)  # type: ignore[attr-defined]
    runtime, clock = runtime_of(door), Clock()
    assert run_digests(runtime, datetime(2026, 11, 9, 0, 5, tzinfo=UTC)) == 1
    for wait in (0, 2, 5):  # the outbox retries after 1 and 4 minutes, then gives up
        clock.now += timedelta(minutes=wait)
        await drain(door, clock)
    [post] = digest_posts(db)
    assert post.status == JobStatus.FAILED
    with db.unit_of_work() as s:
        target = s.scalars(select(DigestTarget)).one()
        claim = s.scalars(select(DigestPost)).one()
        assert target.status == DigestTargetStatus.BROKEN and "could not post there" in target.broken_reason
        assert claim.status == DigestPostStatus.ABANDONED
    told = door.direct_messages(FIN)
    assert len(told) == 1 and "The revenue digest could not be posted in" in told[0].text
    assert "admin digest here weekly" in told[0].text
    assert run_digests(runtime, datetime(2026, 11, 30, 0, 5, tzinfo=UTC)) == 0  # broken: nothing more
    now = await door.command("admin digest", {"what": "now"}, user=FIN)
    assert "This channel's digest is broken" in now.text
