"""State columns hold only their enum's values: refused on write, read back as members, checked by the database,
and a database holding an unknown state stops migration 0008 with the rows named."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, create_engine, make_url, select
from sqlalchemy.exc import IntegrityError, StatementError

from core.deployments.status import DeploymentAction, DeploymentRunStatus, DeploymentStatus
from core.jobs.queue import JobStatus
from storage.db import Database, make_engine
from storage.migrate import alembic_config, current_revision
from storage.models import Deployment, DeploymentRun, Job, User

SCHEMA = "states_migration"
AT = datetime(2026, 12, 1, tzinfo=UTC)


def a_deployment(db: Database, status: DeploymentStatus = DeploymentStatus.SUCCESS) -> int:
    with db.unit_of_work() as session:
        owner = User(display_name="Uma")
        session.add(owner)
        session.flush()
        deployment = Deployment(short_id="abcd", module_name="net", owner_id=owner.id, status=status)
        session.add(deployment)
        session.flush()
        session.add(DeploymentRun(deployment_id=deployment.id, action=DeploymentAction.CREATE))
        return deployment.id


def test_a_state_column_refuses_an_unknown_value_before_writing(db: Database) -> None:
    refused = pytest.raises(StatementError, match="'paused' is not among the defined enum values")
    with refused, db.unit_of_work() as session:
        session.add(Job(kind="digest", status="paused"))
    with db.unit_of_work() as session:
        assert session.scalars(select(Job)).all() == []


def test_a_state_is_read_back_as_its_member(db: Database) -> None:
    deployment_id = a_deployment(db, DeploymentStatus.INTERNAL_ERROR)
    with db.unit_of_work() as session:
        session.add(Job(kind="digest"))
    with db.unit_of_work() as session:
        deployment = session.get_one(Deployment, deployment_id)
        run = session.scalars(select(DeploymentRun)).one()
        job = session.scalars(select(Job)).one()
        assert type(deployment.status) is DeploymentStatus and deployment.status is DeploymentStatus.INTERNAL_ERROR
        assert type(deployment.action) is DeploymentAction and deployment.action is DeploymentAction.CREATE
        assert run.status is DeploymentRunStatus.QUEUED and job.status is JobStatus.QUEUED
        assert f"{deployment.status}" == "INTERNAL_ERROR"  # shown and compared as its plain value


@pytest.mark.parametrize(("statement", "constraint"), [
    ("UPDATE deployments SET status = 'DONE'", "ck_deployments_status"),
    ("UPDATE deployments SET action = 'REPLACE'", "ck_deployments_action"),
    ("UPDATE deployment_runs SET status = 'DELETED'", "ck_deployment_runs_status"),  # a deployment's, not a run's
    ("UPDATE jobs SET status = 'paused'", "ck_jobs_status"),
])
def test_the_database_refuses_an_unknown_state_written_around_the_models(db: Database, statement: str,
                                                                        constraint: str) -> None:
    a_deployment(db)
    with db.unit_of_work() as session:
        session.add(Job(kind="digest"))
    with pytest.raises(IntegrityError) as refused, db.engine.begin() as connection:
        connection.execute(sa.text(statement))
    if db.is_postgres:  # SQLite names no constraint in its message
        assert constraint in str(refused.value)


# -- migration 0008 over an older database ---------------------------------------------------------------


@pytest.fixture
def old_schema(database_url: str, tmp_path: object) -> Iterator[Engine]:
    """An empty database (a schema of its own on PostgreSQL) to migrate step by step."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        engine = make_engine(f"sqlite:///{tmp_path}/old.db")
        yield engine
        engine.dispose()
        return
    admin = make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    engine = create_engine(url.set(drivername="postgresql+psycopg"),
                           connect_args={"options": f"-csearch_path={SCHEMA}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {SCHEMA} CASCADE"))
        admin.dispose()


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def table(name: str, *columns: str, json: tuple[str, ...] = ()) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns), *(sa.column(c, sa.JSON()) for c in json))


USERS = table("users", "id", "display_name", "active", "created_at")
DEPLOYMENTS = table("deployments", "id", "short_id", "module_name", "owner_id", "status", "action", "commit",
                    "credit_cost", "hold_key", "charged", "chat_platform", "chat_workspace", "chat_channel",
                    "chat_thread", "chat_message", "source_platform", "created_at", "updated_at",
                    json=("inputs", "outputs", "source_files"))
RUNS = table("deployment_runs", "deployment_id", "action", "status", "claimed_by", "plan_summary", "error", "log",
             "created_at")
DRAFTS = table("deploy_drafts", "token", "user_id", "deployment_id", "commit", "step", "status", "created_at",
               json=("values",))
JOBS = table("jobs", "id", "kind", "status", "attempts", "run_after", "claimed_by", "error", "created_at",
             json=("payload",))


def insert_rows_of_0007(engine: Engine, deployment_statuses: list[str], job_status: str) -> None:
    """A user, one deployment per status (ids 1, 2, ...) each with a CREATE run and an update draft, one job."""
    chat = dict.fromkeys(("chat_platform", "chat_workspace", "chat_channel", "chat_thread", "chat_message"), "")
    with engine.begin() as conn:
        conn.execute(USERS.insert().values(id=1, display_name="Uma", active=True, created_at=AT))
        for number, status in enumerate(deployment_statuses, start=1):
            conn.execute(DEPLOYMENTS.insert().values(
                id=number, short_id=f"d{number}", module_name="net", owner_id=1, status=status, action="CREATE",
                commit="", inputs={}, outputs={}, source_files={}, credit_cost=0, hold_key="", charged=False,
                source_platform=False, created_at=AT, updated_at=AT, **chat))
            conn.execute(RUNS.insert().values(deployment_id=number, action="CREATE", status="SUCCESS", claimed_by="",
                                              plan_summary="", error="", log="", created_at=AT))
            conn.execute(DRAFTS.insert().values(token=f"t{number}", user_id=1, deployment_id=number, commit="c",
                                                step=0, values={}, status="filling", created_at=AT))
        conn.execute(JOBS.insert().values(id=1, kind="digest", payload={}, status=job_status, attempts=0, run_after=AT,
                                          claimed_by="", error="", created_at=AT))


def check_names(engine: Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {str(check["name"]) for check in sa.inspect(conn).get_check_constraints(table)}


def test_an_unknown_state_stops_the_migration_naming_table_row_and_value(old_schema: Engine) -> None:
    migrate(old_schema, "0007")
    insert_rows_of_0007(old_schema, ["SUCCESS", "DONE", "QUEUED"], job_status="paused")
    with pytest.raises(ValueError) as refused:
        migrate(old_schema, "head")
    message = str(refused.value)
    assert "2 row(s) hold an unknown state" in message, message
    assert "deployments row id 2: status 'DONE' is not one of QUEUED, WORKING, SUCCESS" in message
    assert "jobs row id 1: status 'paused' is not one of queued, running, done, failed" in message
    assert "row id 1: status 'SUCCESS'" not in message and "row id 3" not in message
    assert "IntegrityError" not in message and "Fix or delete these rows" in message
    assert current_revision(old_schema) == "0007" and check_names(old_schema, "deployments") == set()

    with old_schema.begin() as conn:  # the operator fixes the rows, then migrates again
        conn.execute(sa.text("UPDATE deployments SET status = 'SUCCESS' WHERE id = 2"))
        conn.execute(sa.text("UPDATE jobs SET status = 'done' WHERE id = 1"))
    migrate(old_schema, "head")
    assert check_names(old_schema, "deployments") == {"ck_deployments_status", "ck_deployments_action"}
    with pytest.raises(IntegrityError), old_schema.begin() as conn:
        conn.execute(sa.text("UPDATE jobs SET status = 'paused' WHERE id = 1"))
    with old_schema.connect() as conn:  # the rebuild of deployments on SQLite kept the rows referencing it
        assert conn.execute(sa.text("SELECT count(*) FROM deployment_runs")).scalar_one() == 3
        assert conn.execute(sa.text("SELECT deployment_id FROM deploy_drafts ORDER BY 1")).scalars().all() == [1, 2, 3]


def test_the_migration_goes_back_without_the_constraints_and_keeps_the_rows(old_schema: Engine) -> None:
    migrate(old_schema, "0008")
    assert check_names(old_schema, "jobs") == {"ck_jobs_status"}
    insert_rows_of_0007(old_schema, ["SUCCESS", "FAILURE"], job_status="done")
    migrate(old_schema, "0007", down=True)
    assert check_names(old_schema, "jobs") == set() and check_names(old_schema, "deployment_runs") == set()
    with old_schema.begin() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM deployment_runs")).scalar_one() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM deploy_drafts")).scalar_one() == 2
        conn.execute(sa.text("UPDATE jobs SET status = 'paused'"))  # 0007 took any string
        assert conn.execute(sa.text("SELECT status FROM jobs")).scalar_one() == "paused"
