"""How a user short of credits can get more: the one place that answers it.

Every shortfall message (the deploy confirmation, a refused hold) offers what :func:`how_to_get_credits`
returns. Today that is asking the people who can add credits (admins and finance), named; once buying is
switched on it is a Buy offer (``/rad credits buy``), and the messages follow without further change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.roles import ADMIN, FINANCE, has_any
from core.settings.platform import subscription_enabled
from storage.models import User, UserRole

OfferKind = Literal["buy", "ask", "self"]
NAMED_MAX = 3
"""How many of the people who can add credits an offer names (the rest are counted)."""


@dataclass(frozen=True)
class CreditOffer:
    """The way to get credits that exists now.

    ``kind`` is ``buy`` (a Buy button and ``/rad credits buy``), ``ask`` (ask one of ``people``) or ``self``
    (the user can add credits themselves). ``text`` is the sentence to show.
    """

    kind: OfferKind
    text: str
    people: tuple[str, ...] = ()
    command: str = ""


def buying_enabled(session: Session) -> bool:
    """Whether users can buy credits themselves: ``enable_credits`` and ``enable_subscription`` are on."""
    return subscription_enabled(session)


def how_to_get_credits(session: Session, user: User) -> CreditOffer:
    """What ``user`` can do to get credits: buy them when buying is on, else ask an admin or finance (named)."""
    if buying_enabled(session):
        return CreditOffer("buy", "Buy credits with `/rad credits buy <amount>`.", command="/rad credits buy")
    if has_any(user, (FINANCE,)):
        return CreditOffer("self", "You can add credits yourself: `/rad admin credits <@user> award <amount>` "
                                   "(or `purchase`, for purchased credits).",
                           command="/rad admin credits")
    people = granters(session)
    if not people:
        return CreditOffer("ask", "Ask an admin to add credits to your account.")
    shown = people[:NAMED_MAX]
    more = len(people) - len(shown)
    if more > 0:
        named = ", ".join(shown) + f" or one of {more} more"
    else:
        named = " or ".join(filter(None, (", ".join(shown[:-1]), shown[-1])))
    return CreditOffer("ask", f"Ask an admin or finance to add credits to your account: {named}.", tuple(people))


def granters(session: Session) -> list[str]:
    """The display names of the active users who can add credits (admins and finance), in name order."""
    query = (select(User.display_name).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role.in_((ADMIN, FINANCE)), User.active.is_(True), User.merged_into_id.is_(None))
             .distinct())
    return sorted(set(session.scalars(query)), key=str.lower)
