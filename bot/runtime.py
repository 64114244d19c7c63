"""What every process is built from: configuration, database, registry and dispatcher."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import Registry
from core.config import Config
from core.errors import NotMigrated
from storage.db import Database
from storage.migrate import is_current, upgrade

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The shared parts of a process; front doors take one of these."""

    config: Config
    db: Database
    registry: Registry
    dispatcher: Dispatcher


def build_runtime(config: Config, *, registry: Registry | None = None, check_schema: bool = True) -> Runtime:
    """Open the database and build the dispatcher.

    The embedded SQLite default is migrated on the spot (it is this process's own file); any other
    database must be at the latest migration, or NotMigrated names ``python -m bot migrate``.
    """
    db = Database(config.effective_database_url)
    if check_schema:
        current, at, head = is_current(db.engine)
        if not current:
            if config.embedded_database:
                log.info("migrating the embedded database", extra={"from": at, "to": head})
                upgrade(db.engine)
            else:
                db.dispose()
                raise NotMigrated(at, head)
    if config.sandbox == "off":
        log.warning("RAD_SANDBOX=off: Terraform runs without a sandbox, as this process's user; a module can read "
                    "the bot's secrets. Use it only where every module author is trusted.")
    registry = registry or load_registry()
    return Runtime(config=config, db=db, registry=registry, dispatcher=Dispatcher(registry, db, config))
