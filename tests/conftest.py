"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL with RAD_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands import load_registry
from commands.framework.dispatch import Dispatcher
from core.config import Config
from core.services import Services
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base
from tests.emulators.github import GitHubEmulator
from tests.emulators.github import running as github_running
from tests.emulators.jules import JulesEmulator
from tests.emulators.jules import running as jules_running
from tests.support.schema import reset_schema

ADMIN = "slack:T1:UADMIN"
CHAT_ENV_PREFIXES = ("SLACK_", "DISCORD_", "RAD_", "DATABASE_URL", "GITHUB_", "JULES_", "STRIPE_")


LEVELS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its level (its folder), so ``pytest -m unit`` runs one level alone."""
    for item in items:
        level = next((part for part in Path(str(item.path)).parts if part in LEVELS), None)
        if level is not None:
            item.add_marker(getattr(pytest.mark, level))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("RAD_TEST_DATABASE_URL", "")
    return url or f"sqlite:///{tmp_path_factory.mktemp('db') / 'rad.db'}"


@pytest.fixture(scope="session")
def migrated_db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    reset_schema(db)
    upgrade(db.engine)
    yield db
    db.dispose()


def empty_tables(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    """The migrated database, emptied after each test."""
    yield migrated_db
    empty_tables(migrated_db)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's chat credentials or configuration."""
    for name in list(os.environ):
        if name.startswith(CHAT_ENV_PREFIXES) and name != "RAD_TEST_DATABASE_URL":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def config(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Config:
    """The test configuration; GitHub and Jules point at their emulators when a test uses them.

    Terraform runs in the real bubblewrap sandbox, without network (no test reaches the network).
    """
    github_url = request.getfixturevalue("github").url if "github" in request.fixturenames else ""
    jules_url = request.getfixturevalue("jules").url if "jules" in request.fixturenames else ""
    return Config(data_dir=tmp_path / "data", database_url=database_url, admins=(ADMIN,),
                  github_api_url=github_url or "http://127.0.0.1:9/github-not-started",
                  jules_api_url=jules_url or "http://127.0.0.1:9/jules-not-started", sandbox_network=False)


@pytest.fixture
def github() -> Iterator[GitHubEmulator]:
    """A GitHub REST emulator on 127.0.0.1."""
    with github_running() as emulator:
        yield emulator


@pytest.fixture
def jules() -> Iterator[JulesEmulator]:
    """A Jules API emulator on 127.0.0.1."""
    with jules_running() as emulator:
        yield emulator


@pytest.fixture
def services(config: Config) -> Services:
    """Services with fast retries and no request pacing (an emulator has no rate to respect), so tests stay quick."""
    return Services(config, github_options={"retries": 2, "backoff": 0.01, "max_wait": 1, "throttle": None,
                                            "read_per_minute": 1_000_000},
                    jules_options={"retries": 2, "backoff": 0.01, "max_backoff": 0.05})


@pytest.fixture
def dispatcher(db: Database, config: Config, services: Services) -> Dispatcher:
    return Dispatcher(load_registry(), db, config, services=services)
