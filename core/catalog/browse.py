"""Who sees which module, browsing the catalog, and per-user pins.

Platform modules: everyone. Partner modules: their owner and admins, plus everyone when the module sets
``public_access``. An invisible module is reported exactly like a missing one. Names are looked up by their
catalog key (``Module.key_for``: any case, ``_`` or ``-``); a name no module could have is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import ColumnElement, and_, or_, select
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


def browse(session: Session, user: User, tab: Tab = "all", query: str = "") -> list[ModuleRow]:
    """Visible modules of a tab matching ``query``: pinned first, then by deployments, rating and name."""
    pinned_ids = set(session.scalars(select(ModulePin.module_id).where(ModulePin.user_id == user.id)))
    stmt = select(Module).where(visible_to(user))
    if tab in (PLATFORM, PARTNER):
        stmt = stmt.where(Module.source == tab)
    if tab == "pinned":
        stmt = stmt.where(Module.id.in_(pinned_ids or {-1}))
    words = printable(query)
    if words:
        stmt = stmt.where(Module.name_key.contains(Module.key_for(words), autoescape=True))
    rows = [ModuleRow(m, m.id in pinned_ids) for m in session.scalars(stmt)]
    rows.sort(key=lambda r: (not r.pinned, -r.module.deployment_count, -(r.rating or Decimal(-1)),
                             r.module.name.lower()))
    return rows


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
