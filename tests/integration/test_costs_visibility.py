"""Visibility of costs and invoices, enforced in core: a user sees only their own; finance and admins see all."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN, FINANCE, PARTNER, grant_role
from core.costs import report
from core.costs.imports import import_export
from core.costs.sources.csv import csv_export
from core.dates import Period
from core.errors import NotAllowed
from core.invoices.statement import invoice_scope, statement
from storage.db import Database
from storage.models import Deployment
from tests.support.billing_export import Line, write_export

pytestmark = pytest.mark.integration
JAN = Period(date(2026, 1, 1), date(2026, 1, 31))


def test_only_the_owner_finance_and_admins_see_a_users_costs_and_invoices(db: Database, tmp_path: Path) -> None:
    with db.unit_of_work() as s:
        uma, eve, pat, fin, ada = (create_user(s, IdentityKey("console", "", n), n)
                                   for n in ("uma", "eve", "pat", "fin", "ada"))
        grant_role(s, pat, PARTNER)
        grant_role(s, fin, FINANCE)
        grant_role(s, ada, ADMIN)
        s.add_all([Deployment(short_id="dep0000u", module_name="m", owner_id=uma.id, outputs={"project_id": "pu"}),
                   Deployment(short_id="dep0000e", module_name="m", owner_id=eve.id, outputs={"project_id": "pe"})])
        s.flush()
        when = datetime(2026, 1, 3, tzinfo=UTC)
        import_export(s, "csv:t", csv_export(write_export(tmp_path / "x.csv", [Line("pu", "1", when),
                                                                                Line("pe", "2", when)])))
        for nosy in (eve, pat):
            with pytest.raises(NotAllowed, match="another user's project costs"):
                report.cost_scope(nosy, uma, JAN)
            with pytest.raises(NotAllowed, match="another user's invoices"):
                invoice_scope(nosy, uma)
        own = report.build(s, report.cost_scope(eve, None, JAN))
        assert [d.short_id for d in own.deployments] == ["dep0000e"] and own.unattributed == {}
        assert b"dep0000u" not in report.to_csv(s, report.cost_scope(eve, None, JAN))
        for boss in (fin, ada):
            everyone = report.build(s, report.cost_scope(boss, None, JAN))
            assert {d.short_id for d in everyone.deployments} == {"dep0000u", "dep0000e"}
            assert invoice_scope(boss, uma) is uma
            assert [line.project_id for line in statement(s, invoice_scope(boss, uma), "2026-01").lines] == ["pu"]
