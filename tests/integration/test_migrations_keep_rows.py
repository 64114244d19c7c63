"""Migrating a SQLite database that holds data keeps every row: rebuilding a table (Alembic's batch mode) must
not delete or clear the rows that reference it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage.db import make_engine
from storage.migrate import upgrade


def row(table: sa.Table, **given: Any) -> dict[str, Any]:
    """``given``, plus a plain value for every other column that must have one."""
    values = dict(given)
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        try:
            kind: type = column.type.python_type
        except NotImplementedError:
            kind = str
        values[column.name] = {int: 0, bool: False, str: "x", datetime: datetime(2026, 1, 1, tzinfo=UTC),
                               dict: {}, list: []}.get(kind, "0")
    return values


def test_an_upgrade_from_0005_keeps_runs_drafts_pins_and_module_links(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0005")
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.begin() as conn:
        conn.execute(t["users"].insert(), row(t["users"], id=1, display_name="Uma"))
        conn.execute(t["modules"].insert(), row(t["modules"], id=1, name="net", source="platform", commit="c1",
                                                files={"main.tf": "abc"}, spec={}, dependencies=[]))
        conn.execute(t["module_pins"].insert(), row(t["module_pins"], id=1, user_id=1, module_id=1))
        conn.execute(t["deployments"].insert(), row(t["deployments"], id=1, short_id="ab12", module_id=1,
                                                    module_name="net", owner_id=1, status="SUCCESS",
                                                    action="CREATE", inputs={}, outputs={}))
        conn.execute(t["deployment_runs"].insert(), row(t["deployment_runs"], id=1, deployment_id=1,
                                                        action="CREATE", status="SUCCESS"))
        conn.execute(t["deploy_drafts"].insert(), row(t["deploy_drafts"], id=1, token="tok", user_id=1,
                                                      module_id=1, deployment_id=1, commit="c1", values={},
                                                      status="done"))
    upgrade(engine)
    with engine.connect() as conn:
        counts = {name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                  for name in ("module_pins", "deployments", "deployment_runs", "deploy_drafts")}
        links = conn.execute(sa.text("SELECT module_id, source_files FROM deployments")).one()
        draft_module = conn.execute(sa.text("SELECT module_id FROM deploy_drafts")).scalar_one()
        keys = conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one()
    assert counts == {"module_pins": 1, "deployments": 1, "deployment_runs": 1, "deploy_drafts": 1}
    assert links[0] == 1 and '"main.tf"' in str(links[1]) and draft_module == 1
    assert keys == 1  # switched back on after migrating
    engine.dispose()
