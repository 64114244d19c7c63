"""Module names: ASCII, at most 64 characters, unique without regard to case or ``_`` versus ``-``."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from commands.framework.dispatch import Dispatcher
from commands.ui.model import Form, Reply
from core.accounts.identity import IdentityKey, create_user
from core.catalog import browse
from core.deployments.service import dependencies
from core.deployments.status import DeploymentStatus
from core.errors import NotFound
from storage.db import Database, make_engine
from storage.migrate import alembic_config
from storage.models import Deployment, Module, User
from tests.emulators.github import GitHubEmulator
from tests.integration.test_publish import (
    ADMIN,
    PAT,
    USER,
    apply,
    connect,
    module_files,
    open_publish,
    reply,
    states,
    tick,
)


def texts(answer: Reply) -> dict[str, str]:
    return {c.title: c.text for c in answer.cards}


def publish_platform(dispatcher: Dispatcher, github: GitHubEmulator, *names: str) -> None:
    files: dict[str, str] = {}
    for name in names:
        files.update(module_files(name, public=True))
    connect(dispatcher, github, ADMIN, "ada", "ada/platform", files)
    _, token = open_publish(dispatcher, ADMIN, "admin publish")
    tick(dispatcher, ADMIN, token, names)
    assert "*Published:*" in apply(dispatcher, ADMIN, token).text


def test_look_alikes_of_a_published_module_are_refused_for_that_module_only(dispatcher: Dispatcher,
                                                                             github: GitHubEmulator) -> None:
    publish_platform(dispatcher, github, "net-plan")
    connect(dispatcher, github, PAT, "pat", "pat/modules",
            {**module_files("Net-Plan"), **module_files("NET_PLAN"), **module_files("web")})
    page, token = open_publish(dispatcher, PAT)
    found = states(page)
    assert found["web"].startswith("🆕 new")
    assert found["Net-Plan"].startswith("⛔ name taken") and found["NET_PLAN"].startswith("⛔ name taken")
    assert "`Net-Plan` is too close to `net-plan`, a platform module" in texts(page)["Net-Plan"]
    assert "differ only in case or in `_` versus `-`" in texts(page)["NET_PLAN"]
    tick(dispatcher, PAT, token, ("web", "Net-Plan"))  # the look-alike cannot be ticked
    assert apply(dispatcher, PAT, token).text == "*Published:* `web`"


def test_look_alike_folders_of_one_repository_keep_one_name(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", {**module_files("Data_Lake"), **module_files("data-lake")})
    page, token = open_publish(dispatcher, PAT)
    assert states(page)["Data_Lake"].startswith("🆕 new")  # the first in name order
    assert "`data-lake` looks like `Data_Lake` in the same repository" in texts(page)["data-lake"]
    tick(dispatcher, PAT, token, ("Data_Lake",))
    assert "*Published:* `Data_Lake`" in apply(dispatcher, PAT, token).text
    page, _ = open_publish(dispatcher, PAT)
    assert states(page)["Data_Lake"].startswith("✅ published") and states(page)["data-lake"].startswith("⛔")


def test_a_renamed_folder_takes_over_its_old_name(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    repo, _ = connect(dispatcher, github, PAT, "pat", "pat/modules", module_files("net_plan"))
    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("net_plan",))
    apply(dispatcher, PAT, token)
    renamed = {path: None for path in module_files("net_plan")} | module_files("net-plan")
    repo.commit(renamed, "Rename the folder")  # type: ignore[arg-type]
    page, token = open_publish(dispatcher, PAT)
    assert states(page)["net-plan"].startswith("🆕 new") and states(page)["net_plan"].startswith("🗑 gone")
    tick(dispatcher, PAT, token, ("net-plan",))
    done = apply(dispatcher, PAT, token).text
    assert "*Published:* `net-plan`" in done and "*Removed:* `net_plan`" in done


@pytest.mark.parametrize(("folder", "reason"), [
    ("my module", 'contains " "'), ("données", 'contains "é"'), ("数据", "start with an ASCII letter"),
    ("a" * 65, "65 characters long; the limit is 64"), ("semi;colon", 'contains ";"'), ("-x", "start with"),
])
def test_folders_whose_name_cannot_be_a_module_name_are_invalid(dispatcher: Dispatcher, github: GitHubEmulator,
                                                                 folder: str, reason: str) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", {**module_files(folder), **module_files("ok")})
    page, _ = open_publish(dispatcher, PAT)
    assert states(page)[folder].startswith("⚠️ invalid") and reason in texts(page)[folder]
    assert states(page)["ok"].startswith("🆕 new")


def test_lookups_ignore_case_and_underscores(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    publish_platform(dispatcher, github, "Net-Plan")
    for written in ("net-plan", "NET_PLAN", " Net_plan "):
        shown = reply(dispatcher.run_text(USER, f"module {written}"))
        assert shown.cards and shown.cards[0].title == "Net-Plan", shown.text
    assert "`Net-Plan` is pinned" in reply(dispatcher.run_text(USER, "pin net_plan")).text
    assert "already pinned" in reply(dispatcher.run_text(USER, "pin NET-PLAN")).text
    assert [c.title for c in reply(dispatcher.run_text(USER, "modules all net_p")).cards] == ["📌 Net-Plan"]
    started = dispatcher.run_text(USER, "deploy NET_PLAN")
    assert isinstance(started, Form) or "no module" not in reply(started).text.lower()


@pytest.mark.parametrize("name", ["\x00", "x" * 3000, "数据 模块", "'; drop table modules; --", "%", "_", "a\tb",
                                  "\u212aelvin"])
def test_lookups_of_names_no_module_has_are_not_errors(dispatcher: Dispatcher, github: GitHubEmulator,
                                                       name: str) -> None:
    publish_platform(dispatcher, github, "net-plan")
    for words in (f'module "{name}"', f'pin "{name}"', f'deploy "{name}"'):
        answer = reply(dispatcher.run_text(USER, words))
        assert "There is no module" in answer.text and "error id" not in answer.text, (words, answer.text)
    listed = reply(dispatcher.run_text(USER, f'modules all "{name}"'))  # a search: `_` finds `net-plan`
    assert "page 1 of 1" in listed.text and "error id" not in listed.text


@pytest.mark.parametrize("name", ["\x00", "x" * 10_000, "net-plan\x00", "\ud800"])
def test_core_lookups_refuse_unusable_names_as_not_found(db: Database, name: str) -> None:
    with db.unit_of_work() as session:
        session.add(Module(name="net-plan", source="platform", commit="c"))
        session.add(User(display_name="Uma"))
    with db.unit_of_work() as session:
        user = session.scalars(select(User)).one()
        with pytest.raises(NotFound, match="There is no module"):
            browse.find_visible(session, user, name)
        found = [row.module.name for row in browse.browse(session, user, "all", name)]
        assert found == ([] if name.startswith("x") else ["net-plan"])  # a search ignores control characters


def test_the_database_refuses_two_look_alike_names(db: Database) -> None:
    with db.unit_of_work() as session:
        session.add(Module(name="Net-Plan", source="platform", commit="c"))
    with pytest.raises(IntegrityError), db.unit_of_work() as session:
        session.add(Module(name="net_plan", source="partner", commit="c"))
    with db.unit_of_work() as session:
        assert [(m.name, m.name_key) for m in session.scalars(select(Module))] == [("Net-Plan", "net-plan")]


# -- the migration ---------------------------------------------------------------------------------------

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
        conn.execute(sa.text("DROP SCHEMA IF EXISTS names_migration CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA names_migration"))
    engine = create_engine(url.set(drivername="postgresql+psycopg"),
                           connect_args={"options": "-csearch_path=names_migration"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA names_migration CASCADE"))
        admin.dispose()


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_the_migration_fills_keys_of_modules_already_published(old_schema: Engine) -> None:
    migrate(old_schema, "0005")
    modules = sa.table("modules", *(sa.column(c) for c in (
        "name", "source", "repository", "commit", "description", "documentation", "credit_cost",
        "require_credit_purchases", "public_access", "missing", "deployment_count", "rating_sum", "rating_count",
        "published_at", "updated_at")), *(sa.column(c, sa.JSON()) for c in ("dependencies", "spec", "files")))
    row = {"source": "platform", "repository": "r", "commit": "c", "description": "", "documentation": "",
           "credit_cost": 0, "require_credit_purchases": False, "public_access": True, "dependencies": [],
           "spec": {}, "files": {}, "missing": False, "deployment_count": 0, "rating_sum": 0, "rating_count": 0,
           "published_at": sa.func.now(), "updated_at": sa.func.now()}
    with old_schema.begin() as conn:
        for name in ("Net_Plan", "web", "net-plan", "My Module"):  # names an older version allowed
            conn.execute(modules.insert().values(name=name, **row))
    migrate(old_schema, "0006")
    with old_schema.connect() as conn:
        keys = dict(conn.execute(sa.text("SELECT name, name_key FROM modules")).all())  # type: ignore[arg-type]
        assert keys == {"Net_Plan": "net-plan", "web": "web", "net-plan": "net-plan~3", "My Module": "my module"}
        with pytest.raises(IntegrityError):
            conn.execute(sa.text("UPDATE modules SET name_key = 'web' WHERE name = 'My Module'"))
    migrate(old_schema, "0005", down=True)
    with old_schema.connect() as conn:
        assert "name_key" not in {c["name"] for c in sa.inspect(conn).get_columns("modules")}


def test_a_legacy_look_alike_is_still_found_by_its_exact_name(db: Database, dispatcher: Dispatcher) -> None:
    with db.unit_of_work() as session:
        session.add(Module(name="Net_Plan", source="platform", commit="c", public_access=True))
        legacy = Module(name="net-plan", source="platform", commit="c", public_access=True)
        legacy.name_key = "net-plan~2"  # as the migration leaves the younger of two published look-alikes
        session.add(legacy)
    assert reply(dispatcher.run_text(USER, "module net-plan")).cards[0].title == "net-plan"
    assert reply(dispatcher.run_text(USER, "module NET_PLAN")).cards[0].title == "Net_Plan"


def test_a_dependency_is_satisfied_whatever_its_spelling(db: Database) -> None:
    with db.unit_of_work() as session:
        user = create_user(session, IdentityKey("slack", "T1", "UDEP"), "Dee")
        needs = Module(name="web-app", source="platform", commit="c1", dependencies=["Network_Plan", "dns-zone"])
        session.add(needs)
        session.add(Deployment(short_id="dep1", module_name="network-plan", owner_id=user.id,
                               status=DeploymentStatus.SUCCESS, credit_cost=Decimal(0)))
        session.flush()
        assert [(d.name, d.satisfied) for d in dependencies(session, user, needs)] == [
            ("Network_Plan", True), ("dns-zone", False)]
