"""Who sees which module, browsing the catalog, and per-user pins.

Platform modules: everyone. Partner modules: their owner and admins, plus everyone when the module sets
``public_access``. An invisible module is reported exactly like a missing one. Names are looked up by their
catalog key (``Module.key_for``: any case, ``_`` or ``-``); a name no module could have is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import ADMIN
from core.catalog.publish import PARTNER, PLATFORM
from core.errors import Conflict, NotFound
from core.suggestions import closest, did_you_mean
from storage.models import Module, ModulePin, User

Tab = Literal["all", "platform", "partner", "pinned"]
TABS: tuple[Tab, ...] = ("platform", "partner", "pinned", "all")
Q = TypeVar("Q", bound=Select[Any])
LONGEST_NAME = 100  # the name column's width: a longer word names no module


def visible_to(user: User) -> ColumnElement[bool]:
    """The SQL condition for modules ``user`` may see."""
    if ADMIN in user.role_names:
        return Module.id.is_not(None)
    return or_(Module.source == PLATFORM,
               and_(Module.source == PARTNER, or_(Module.owner_id == user.id, Module.public_access.is_(True))))


@dataclass(frozen=True)
class ModuleRow:
    """A module as a list shows it."""

    module: Module
    pinned: bool

    @property
    def rating(self) -> Decimal | None:
        """The module's average rating to one decimal, or None before its first rating."""
        m = self.module
        return (Decimal(m.rating_sum) / m.rating_count).quantize(Decimal("0.1")) if m.rating_count else None


def _listed(stmt: Q, user: User, tab: Tab, query: str) -> Q:
    """``stmt`` (joined to the user's pins) narrowed to the visible modules of ``tab`` matching ``query``."""
    stmt = stmt.outerjoin(ModulePin, and_(ModulePin.module_id == Module.id, ModulePin.user_id == user.id)).where(
        visible_to(user))
    if tab in (PLATFORM, PARTNER):
        stmt = stmt.where(Module.source == tab)
    if tab == "pinned":
        stmt = stmt.where(ModulePin.id.is_not(None))
    words = printable(query)
    if words:
        stmt = stmt.where(Module.name_key.contains(Module.key_for(words), autoescape=True))
    return stmt


def _rating_tenths() -> ColumnElement[int]:
    """:attr:`ModuleRow.rating` in tenths, in SQL: the average rounded half-even (integers only); -10 unrated."""
    n, d = Module.rating_sum * 10, Module.rating_count
    q = n // d  # integer division (SQLAlchemy 2 renders ``/`` as true division)
    r = n - q * d
    up = case((or_(r * 2 > d, and_(r * 2 == d, q % 2 == 1)), 1), else_=0)
    return case((d > 0, q + up), else_=-10)


def browse(session: Session, user: User, tab: Tab = "all", query: str = "", *, offset: int = 0,
           limit: int | None = None) -> list[ModuleRow]:
    """Visible modules of a tab matching ``query``: pinned first, then by deployments, rating and name.

    Sorted and paged in SQL: ``limit`` rows from ``offset`` (all with None).
    """
    pinned = ModulePin.id.is_not(None)
    stmt = _listed(cast("Select[Any]", select(Module, pinned)), user, tab, query).order_by(
        case((pinned, 0), else_=1), Module.deployment_count.desc(), _rating_tenths().desc(),
        func.lower(Module.name), Module.id)
    if offset:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [ModuleRow(m, bool(is_pinned)) for m, is_pinned in session.execute(stmt)]


def count(session: Session, user: User, tab: Tab = "all", query: str = "") -> int:
    """How many modules :func:`browse` lists."""
    return int(session.scalar(_listed(select(func.count(Module.id)), user, tab, query)) or 0)


def find_visible(session: Session, user: User, name: str) -> Module:
    """The module called ``name`` if ``user`` may see it; NotFound otherwise (existence is not revealed)."""
    wanted = name.strip()
    module = None
    if wanted and len(wanted) <= LONGEST_NAME and printable(wanted) == wanted:
        module = session.scalars(
            select(Module).where(or_(Module.name_key == Module.key_for(wanted), Module.name == wanted),
                                 visible_to(user))
            .order_by((Module.name == wanted).desc(), Module.id).limit(1)).first()
    if module is None:
        names = list(session.scalars(select(Module.name).where(visible_to(user))))
        shown = printable(wanted)[:LONGEST_NAME]
        hint = did_you_mean([f"`{c}`" for c in closest(shown, names)]) or "Run `/rad modules` to see the catalog."
        raise NotFound(f"There is no module `{shown}`.", hint=hint)
    return module


def printable(text: str) -> str:
    """``text`` stripped, without control characters (which no name holds and some databases refuse)."""
    return "".join(char for char in text if char.isprintable()).strip()


def is_pinned(session: Session, user: User, module: Module) -> bool:
    """Whether ``user`` pinned ``module``."""
    return session.scalars(select(ModulePin.id).where(ModulePin.user_id == user.id,
                                                      ModulePin.module_id == module.id)).first() is not None


def pin(session: Session, user: User, module: Module, now: datetime) -> None:
    """Pin ``module`` for ``user``; a second pin is refused, never doubled."""
    try:
        with session.begin_nested():
            session.add(ModulePin(user_id=user.id, module_id=module.id, pinned_at=now))
    except IntegrityError:
        raise Conflict(f"`{module.name}` is already pinned.") from None
    audit.record(session, user, "module.pin", target=module.name)


def unpin(session: Session, user: User, module: Module) -> None:
    """Unpin ``module`` for ``user`` (Conflict when it is not pinned); audited."""
    pinned = session.scalars(select(ModulePin).where(ModulePin.user_id == user.id,
                                                     ModulePin.module_id == module.id)
                             .with_for_update()).first()  # a concurrent unpin waits, then finds none
    if pinned is None:
        raise Conflict(f"`{module.name}` is not pinned.")
    session.delete(pinned)  # through the session, so the user's Home tab notices (core.home)
    session.flush()
    audit.record(session, user, "module.unpin", target=module.name)
