"""Account rules in core, whatever front door asks: the last admin stays, profile names are checked."""

from __future__ import annotations

import pytest

from core.accounts import profile as profiles
from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN, admin_count, grant_role, revoke_role
from core.errors import Conflict, InvalidInput
from storage.db import Database
from storage.models import AuditEvent


def test_the_last_admin_cannot_lose_the_role_but_one_of_two_can(db: Database) -> None:
    with db.unit_of_work() as session:
        ada = create_user(session, IdentityKey("slack", "T1", "UADA"), "Ada")
        grant_role(session, ada, ADMIN)
        with pytest.raises(Conflict, match="last admin"):
            revoke_role(session, ada, ADMIN)
        bob = create_user(session, IdentityKey("slack", "T1", "UBOB"), "Bob")
        grant_role(session, bob, ADMIN)
        assert admin_count(session) == 2
        revoke_role(session, ada, ADMIN)
        assert admin_count(session) == 1 and ADMIN not in ada.role_names


def test_a_profile_update_checks_the_name_and_is_audited(db: Database) -> None:
    with db.unit_of_work() as session:
        dee = create_user(session, IdentityKey("discord", "", "42"), "Dee")
        assert profiles.current(session, dee) == profiles.Profile("Dee", True, True)
        for bad in ("   ", "x" * (profiles.NAME_MAX + 1)):
            with pytest.raises(InvalidInput):
                profiles.update(session, dee, profiles.Profile(bad, False, False))
        saved = profiles.update(session, dee, profiles.Profile("  Dee Dee ", False, True), platform="discord")
        assert saved == profiles.Profile("Dee Dee", False, True) and dee.display_name == "Dee Dee"
        assert session.query(AuditEvent).filter(AuditEvent.action == "profile.update").count() == 1
