"""The catalog is sorted and paged in SQL exactly as a list sorted in Python would be."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.accounts.identity import IdentityKey, create_user
from core.catalog import browse
from core.catalog.browse import ModuleRow
from storage.db import Database
from storage.models import Module, ModulePin

# (deployments, rating sum, rating count): equal deployments, ratings that round half-even (2.25 -> 2.2,
# 2.35 -> 2.4, 2.45 -> 2.4), unrated ones and equal ratings broken by name
SHAPES = [(5, 9, 4), (5, 11, 5), (5, 47, 20), (5, 49, 20), (5, 0, 0), (3, 0, 0), (3, 5, 1), (7, 3, 3),
          (5, 22, 10), (0, 0, 0), (5, 9, 4), (3, 10, 2)]


def expected(rows: list[ModuleRow]) -> list[str]:
    ordered = sorted(rows, key=lambda r: (not r.pinned, -r.module.deployment_count, -(r.rating or Decimal(-1)),
                                          r.module.name.lower(), r.module.id))
    return [r.module.name for r in ordered]


def test_sql_order_and_pages_match_the_python_order(db: Database) -> None:
    with db.unit_of_work() as s:
        user = create_user(s, IdentityKey("console", "", "browser"), "Bea")
        modules = [Module(name=f"{'Mod' if n % 2 else 'mod'}-{chr(ord('a') + (n * 7) % 12)}{n}", source="platform",
                          commit="c0ffee", deployment_count=d, rating_sum=total, rating_count=votes)
                   for n, (d, total, votes) in enumerate(SHAPES)]
        s.add_all(modules)
        s.flush()
        for m in modules[3:5]:
            s.add(ModulePin(user_id=user.id, module_id=m.id, pinned_at=datetime(2026, 1, 1, tzinfo=UTC)))
        s.flush()
        everything = browse.browse(s, user)
        assert [r.module.name for r in everything] == expected(everything)
        assert [r.pinned for r in everything][:3] == [True, True, False]
        assert browse.count(s, user) == len(SHAPES) and browse.count(s, user, "pinned") == 2
        pages = [browse.browse(s, user, offset=o, limit=5) for o in (0, 5, 10)]
        assert [r.module.name for page in pages for r in page] == expected(everything)
        assert [r.module.name for r in browse.browse(s, user, "pinned")] == expected(everything)[:2]
