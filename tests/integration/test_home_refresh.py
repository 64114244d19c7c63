"""Home refreshes on a real database: what queues one, for whom, once per burst, and what does not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.views.home import LIST_SIZE, home_view
from core import home
from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import FINANCE, grant_role
from core.credits import service as credits
from core.jobs import queue as jobs
from storage.db import Database
from storage.models import Deployment, DeploymentAction, DeploymentStatus, Job, JobStatus, User, utcnow

ANN, BEN = IdentityKey("slack", "T1", "UANN"), IdentityKey("slack", "T1", "UBEN")


@pytest.fixture
def people(db: Database) -> Iterator[tuple[int, int]]:
    """Ann opened her Home tab, Ben never did; both hold a deployment."""
    with db.unit_of_work() as s:
        ann, ben = create_user(s, ANN, "ann"), create_user(s, BEN, "ben")
        for user, short in ((ann, "aaaa"), (ben, "bbbb")):
            s.add(Deployment(short_id=short, module_name="net", owner_id=user.id, status=DeploymentStatus.QUEUED,
                             action=DeploymentAction.CREATE))
        home.remember_opened(s, ANN, utcnow())
        ids = ann.id, ben.id
    done(db)
    yield ids


def refreshes(db: Database) -> list[Job]:
    with db.unit_of_work() as s:
        return list(s.scalars(select(Job).where(Job.kind == home.KIND, Job.status == JobStatus.QUEUED)))


def done(db: Database) -> None:
    """Finish every queued refresh (as a worker would have)."""
    with db.unit_of_work() as s:
        for job in s.scalars(select(Job).where(Job.kind == home.KIND, Job.status == JobStatus.QUEUED)):
            job.status = JobStatus.DONE


def deployment(s: Session, short: str) -> Deployment:
    return s.scalars(select(Deployment).where(Deployment.short_id == short)).one()


def test_a_status_change_queues_one_refresh_for_the_owner_who_opened_home(db: Database,
                                                                           people: tuple[int, int]) -> None:
    ann, _ = people
    before = utcnow()
    with db.unit_of_work() as s:
        deployment(s, "aaaa").status = DeploymentStatus.WORKING
        deployment(s, "bbbb").status = DeploymentStatus.WORKING  # Ben never opened his Home tab
    with db.unit_of_work() as s:
        deployment(s, "aaaa").status = DeploymentStatus.SUCCESS  # the same burst: the waiting refresh shows it
    [job] = refreshes(db)
    assert job.payload == {"user_id": ann}
    assert job.run_after >= before + home.DEBOUNCE  # debounced


def test_a_column_the_home_does_not_show_queues_nothing(db: Database, people: tuple[int, int]) -> None:
    with db.unit_of_work() as s:
        deployment(s, "aaaa").chat_message = "1700000000.000200"
    assert refreshes(db) == []


def test_a_ledger_row_and_a_purge_queue_a_refresh(db: Database, people: tuple[int, int]) -> None:
    ann, ben = people
    with db.unit_of_work() as s:
        finance = s.get_one(User, ben)
        grant_role(s, finance, FINANCE)
        credits.award(s, finance, s.get_one(User, ann), Decimal("5"), reason="test")
    assert [j.payload for j in refreshes(db)] == [{"user_id": ann}]
    done(db)
    with db.unit_of_work() as s:
        s.delete(deployment(s, "aaaa"))
    assert len(refreshes(db)) == 1


def test_a_rolled_back_change_queues_nothing(db: Database, people: tuple[int, int]) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        deployment(s, "aaaa").status = DeploymentStatus.WORKING
        s.flush()
        raise RuntimeError("the work failed")
    assert refreshes(db) == []


def test_a_refresh_already_running_does_not_absorb_a_new_change(db: Database, people: tuple[int, int]) -> None:
    ann, _ = people
    with db.unit_of_work() as s:
        deployment(s, "aaaa").status = DeploymentStatus.WORKING
    with db.unit_of_work() as s:
        claimed = jobs.claim(s, "w1", utcnow() + timedelta(seconds=10))
        assert claimed is not None and claimed.kind == home.KIND  # a worker is building the Home now
    with db.unit_of_work() as s:
        deployment(s, "aaaa").status = DeploymentStatus.SUCCESS
    assert [j.payload for j in refreshes(db)] == [{"user_id": ann}]  # a new one, after the running one


def test_who_opened_home(db: Database, people: tuple[int, int]) -> None:
    ann, ben = people
    with db.unit_of_work() as s:
        assert home.home_identities(s, s.get_one(User, ann)) == [ANN]
        assert home.home_identities(s, s.get_one(User, ben)) == []
        home.remember_opened(s, IdentityKey("slack", "T1", "UNOBODY"), utcnow())  # unknown: nothing to remember
        home.remember_opened(s, ANN, utcnow())  # again: still one tab
        assert home.home_identities(s, s.get_one(User, ann)) == [ANN]


def test_the_home_lists_the_newest_live_deployments_and_counts_the_rest(db: Database, people: tuple[int, int]) -> None:
    ann, _ = people
    with db.unit_of_work() as s:
        for n in range(LIST_SIZE + 2):
            s.add(Deployment(short_id=f"n{n:03}", module_name="net", owner_id=ann, status=DeploymentStatus.SUCCESS,
                             action=DeploymentAction.CREATE))
        s.add(Deployment(short_id="gone", module_name="net", owner_id=ann, status=DeploymentStatus.DELETED,
                         action=DeploymentAction.DESTROY))
    with db.unit_of_work() as s:
        shown = home_view(s, s.get_one(User, ann), "/ops")
    live = LIST_SIZE + 3  # aaaa and the new ones; not the destroyed one
    [heading] = [c for c in shown.cards if c.title.startswith("Deployments")]
    assert heading.title == f"Deployments ({live})"
    assert heading.text == f"The newest {LIST_SIZE} are below, and {live - LIST_SIZE} more: see `/ops deployments`."
    listed = [c.title for c in shown.cards if c.title.startswith("net · ")]
    assert listed == [f"net · n{n:03}" for n in reversed(range(LIST_SIZE + 2))][:LIST_SIZE]
    assert "gone" not in repr(shown) and "bbbb" not in repr(shown)  # destroyed, and Ben's


def test_a_deployment_moving_to_another_owner_refreshes_both_homes(db: Database, people: tuple[int, int]) -> None:
    ann, ben = people
    with db.unit_of_work() as s:
        home.remember_opened(s, BEN, utcnow())
    done(db)
    with db.unit_of_work() as s:
        deployment(s, "aaaa").owner_id = ben  # as when two accounts are linked
    assert sorted(j.payload["user_id"] for j in refreshes(db)) == sorted([ann, ben])
