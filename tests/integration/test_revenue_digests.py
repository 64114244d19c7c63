"""Revenue digests in core, on a real database: periods claimed exactly once, late, two clocks, broken targets."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from bot.runtime import Runtime
from commands.framework.dispatch import Dispatcher
from commands.handlers.digests import DIGEST_KIND, digest_message
from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import FINANCE, grant_role
from core.config import Config
from core.conversations import ConversationRef
from core.errors import InvalidInput, NotAllowed, NotFound
from core.revenue import digests
from core.settings import platform as settings
from storage.db import Database
from storage.models import DigestCadence, DigestPost, DigestTarget, DigestTargetStatus, Job, User
from tests.support.revenue_story import write_spends

CHANNEL = ConversationRef("slack", "T1", "C1")
SET_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday


def finance(db: Database) -> int:
    with db.unit_of_work() as s:
        fin = create_user(s, IdentityKey("slack", "T1", "UFIN"), "Fin")
        grant_role(s, fin, FINANCE)
        return fin.id


def target(db: Database, cadence: DigestCadence, at: datetime = SET_AT) -> int:
    fin = finance(db)
    with db.unit_of_work() as s:
        return digests.set_target(s, s.get_one(User, fin), CHANNEL, cadence, at).id


def claim(db: Database, now: datetime) -> list[digests.Claim]:
    with db.unit_of_work() as s:
        return digests.claim_due(s, now)


def test_periods_are_whole_utc_days_weeks_from_monday_and_months() -> None:
    at = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert digests.period_of(DigestCadence.DAILY, at) == (datetime(2026, 12, 31, tzinfo=UTC),
                                                          datetime(2027, 1, 1, tzinfo=UTC))
    assert digests.period_of(DigestCadence.WEEKLY, at) == (datetime(2026, 12, 28, tzinfo=UTC),
                                                           datetime(2027, 1, 4, tzinfo=UTC))
    assert digests.period_of(DigestCadence.MONTHLY, at) == (datetime(2026, 12, 1, tzinfo=UTC),
                                                            datetime(2027, 1, 1, tzinfo=UTC))
    assert digests.previous_period(DigestCadence.MONTHLY, datetime(2026, 3, 1, tzinfo=UTC))[0] == \
        datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="not a digest schedule"):
        digests.cadence_of("hourly")


def test_each_period_is_claimed_once_and_late_ones_say_so(db: Database) -> None:
    target(db, DigestCadence.DAILY)
    assert claim(db, SET_AT + timedelta(hours=13)) == []  # the day has not ended
    [first] = claim(db, datetime(2026, 11, 5, 0, 5, tzinfo=UTC))
    assert (first.start, first.end, first.late) == (datetime(2026, 11, 4, tzinfo=UTC),
                                                    datetime(2026, 11, 5, tzinfo=UTC), False)
    assert claim(db, datetime(2026, 11, 5, 0, 10, tzinfo=UTC)) == []  # the next tick, or a restarted clock
    # the clock is down until 8 November, 00:30: three days missed, the first two late
    missed = claim(db, datetime(2026, 11, 8, 0, 30, tzinfo=UTC))
    assert [(c.start.day, c.late) for c in missed] == [(5, True), (6, True), (7, False)]
    with db.unit_of_work() as s:
        starts = [p.period_start.day for p in s.scalars(select(DigestPost).order_by(DigestPost.period_start))]
    assert starts == [4, 5, 6, 7]


def test_two_clocks_at_once_claim_each_period_once(db: Database) -> None:
    target(db, DigestCadence.DAILY)
    now = datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    found: list[list[digests.Claim]] = []
    errors: list[BaseException] = []

    def clock() -> None:
        try:
            found.append(claim(db, now))
        except BaseException as error:  # a lost race may surface as a lock error on SQLite
            errors.append(error)

    threads = [threading.Thread(target=clock) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:  # the loser retries on its next tick, as the clock does
        found.append(claim(db, now))
    assert sorted(c.start.day for batch in found for c in batch) == list(range(4, 20))
    with db.unit_of_work() as s:
        assert len(s.scalars(select(DigestPost)).all()) == 16


def test_set_again_off_and_who_may(db: Database) -> None:
    fin = finance(db)
    with db.unit_of_work() as s:
        user = create_user(s, IdentityKey("slack", "T1", "UBOB"), "Bob")
        with pytest.raises(NotAllowed):
            digests.set_target(s, user, CHANNEL, DigestCadence.DAILY, SET_AT)
        with pytest.raises(InvalidInput, match="Slack or Discord channel"):
            digests.set_target(s, s.get_one(User, fin), ConversationRef("console", "", "alice"),
                               DigestCadence.DAILY, SET_AT)
        with pytest.raises(NotFound):
            digests.turn_off(s, s.get_one(User, fin), CHANNEL)
        first = digests.set_target(s, s.get_one(User, fin), CHANNEL, DigestCadence.DAILY, SET_AT)
        again = digests.set_target(s, s.get_one(User, fin), CHANNEL, DigestCadence.MONTHLY, SET_AT)
        assert first.id == again.id and again.starts_at == datetime(2026, 11, 1, tzinfo=UTC)
        digests.turn_off(s, s.get_one(User, fin), CHANNEL)
    assert claim(db, datetime(2027, 1, 1, tzinfo=UTC)) == []  # off: nothing claimed


def test_a_broken_target_claims_nothing_more(db: Database) -> None:
    tid = target(db, DigestCadence.DAILY)
    [first] = claim(db, datetime(2026, 11, 5, 0, 5, tzinfo=UTC))
    with db.unit_of_work() as s:
        assert digests.break_target(s, tid, first.post_id, "not_in_channel") is not None
        assert digests.break_target(s, tid, first.post_id, "again") is None  # told once
        assert s.get_one(DigestTarget, tid).status == DigestTargetStatus.BROKEN
    assert claim(db, datetime(2026, 11, 9, tzinfo=UTC)) == []


def test_the_clock_queues_one_job_per_claim_and_the_digest_compares_periods(db: Database,
                                                                           dispatcher: Dispatcher,
                                                                           config: Config) -> None:
    from bot.digest_clock import run_digests

    runtime = Runtime(config, db, dispatcher.registry, dispatcher)
    target(db, DigestCadence.MONTHLY, datetime(2026, 11, 1, tzinfo=UTC))
    with db.unit_of_work() as s:
        admin = create_user(s, IdentityKey("slack", "T1", "UROOT"), "Root")
        grant_role(s, admin, "admin")
        settings.change(s, admin, "credits_per_unit", "100")
        pat = create_user(s, IdentityKey("slack", "T1", "UPAT"), "Pat")
        quinn = create_user(s, IdentityKey("slack", "T1", "UQUINN"), "Quinn")
        uma = create_user(s, IdentityKey("slack", "T1", "UUMA"), "Uma")
        write_spends(s, pat, quinn, uma)
    assert run_digests(runtime, datetime(2026, 12, 1, 0, 5, tzinfo=UTC)) == 1
    assert run_digests(runtime, datetime(2026, 12, 1, 0, 10, tzinfo=UTC)) == 0
    with db.unit_of_work() as s:
        assert [j.kind for j in s.scalars(select(Job))] == [DIGEST_KIND]
        text, files = digest_message(s, DigestCadence.MONTHLY, datetime(2026, 11, 1, tzinfo=UTC),
                                     datetime(2026, 12, 1, tzinfo=UTC), late=True, so_far=False)
    assert "Revenue digest* – monthly, 2026-11-01 to 2026-11-30 (UTC) – _late" in text
    assert "True revenue: *13.91 USD* from 5 paying deployments (new (nothing the period before)" in text
    assert "Partner shares: *3.46 USD*" in text and "*Top partners*" in text and "• Pat: 2.20 USD" in text
    assert [f.mime for f in files] == ["image/png", "text/csv"]


def test_the_tick_lives_in_the_clocks_persistent_store_across_restarts(db: Database, dispatcher: Dispatcher,
                                                                       config: Config) -> None:
    from bot import digest_clock
    from bot.scheduler import build_scheduler

    runtime = Runtime(config, db, dispatcher.registry, dispatcher)
    for _ in range(2):  # a second clock process (or a restart) finds and replaces the same stored job
        scheduler = build_scheduler(runtime)
        scheduler.start(paused=True)
        try:
            job = scheduler.get_job(digest_clock.JOB_ID, jobstore="persistent")
            assert job is not None and job.func_ref == digest_clock.REFERENCE
            assert job.trigger.interval == digest_clock.DIGEST_EVERY
        finally:
            scheduler.shutdown(wait=False)
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all()
    assert digest_clock.JOB_ID in stored
    target(db, DigestCadence.DAILY, datetime(2026, 11, 4, tzinfo=UTC))
    assert digest_clock.tick(datetime(2026, 11, 5, 0, 5, tzinfo=UTC)) == 1  # what the stored job runs
