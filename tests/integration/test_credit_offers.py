"""Whom a user short of credits is told to ask: the one place the offer is made (core.credits.offers)."""

from __future__ import annotations

from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN, FINANCE, grant_role
from core.credits.offers import how_to_get_credits
from storage.db import Database


def make(db: Database, name: str, *roles: str, active: bool = True) -> int:
    with db.unit_of_work() as s:
        user = create_user(s, IdentityKey("console", "", name.lower().replace(" ", "-")), name)
        for role in roles:
            grant_role(s, user, role)
        user.active = active
        return user.id


def offer_for(db: Database, user_id: int) -> tuple[str, str]:
    from storage.models import User

    with db.unit_of_work() as s:
        offer = how_to_get_credits(s, s.get_one(User, user_id))
        return offer.kind, offer.text


def test_nobody_to_ask_yet(db: Database) -> None:
    uma = make(db, "Uma")
    assert offer_for(db, uma) == ("ask", "Ask an admin to add credits to your account.")


def test_admins_and_finance_are_named_in_order(db: Database) -> None:
    uma = make(db, "Uma")
    make(db, "zoe", ADMIN)
    make(db, "Bea", FINANCE)
    make(db, "Gone", ADMIN, active=False)  # deactivated: asking them would not help
    assert offer_for(db, uma) == ("ask", "Ask an admin or finance to add credits to your account: Bea or zoe.")
    for name in ("Cy", "Di", "Ed"):
        make(db, name, ADMIN)
    kind, text = offer_for(db, uma)
    assert text.endswith(": Bea, Cy, Di or one of 2 more.") and kind == "ask"


def test_who_can_add_credits_is_told_how(db: Database) -> None:
    fin = make(db, "Fin", FINANCE)
    kind, text = offer_for(db, fin)
    assert kind == "self" and "`/rad admin credits <@user> award <amount>`" in text and "purchase" in text
