"""Answers that say what to do next, through every front door: people by name, module cards with their
buttons, deployment cards with the owner and only the buttons the viewer may use, values written as HCL.

One scenario runs against Slack (signed requests into the real Bolt app) and Discord (INTERACTION_CREATE
payloads into the real discord.py client); the platform-only checks of names follow at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.demo import seed
from core.accounts import identity
from core.accounts.identity import Caller
from core.config import Config
from core.repos.connections import JULES_KEY, jules_source
from core.secrets import store
from core.services import Services
from storage.db import Database
from storage.models import Deployment, DeploymentRun, JulesConnection, Module, User, utcnow
from storage.models.states import DeploymentAction, DeploymentRunStatus, DeploymentStatus
from tests.emulators import discord_objects as obj
from tests.emulators.jules import JulesEmulator
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.front_door import ADMIN, FrontDoor, Person, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime, texts

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

CAROL, DAVE, PAT, FAY = Person("carol"), Person("dave"), Person("pat"), Person("fay")
REPOSITORY = "pat/modules"


def user_of(db: Database, door: FrontDoor, person: Person) -> User:
    with db.unit_of_work() as session:
        found = identity.find_user(session, door.identity(person))
        assert found is not None
        session.expunge(found)
        return found


# -- identity -------------------------------------------------------------------------------------------

async def test_a_grant_before_first_contact_names_the_user_after_the_mention(door: FrontDoor, db: Database) -> None:
    granted = await door.command("admin grant", {"user": CAROL, "role": "partner"})
    assert "carol is now a partner: they had not used RAD yet, so they are registered now" in granted.text
    assert "Roles: partner, user" in granted.text and door.mention(CAROL) not in granted.text
    assert user_of(db, door, CAROL).display_name == "carol"

    plain = await door.command("admin grant", {"user": DAVE, "role": "user"})  # registering is the grant
    assert "dave is now a user: they had not used RAD yet, so they are registered now" in plain.text
    assert "already" not in plain.text and user_of(db, door, DAVE).role_names == {"user"}
    twice = await door.command("admin grant", {"user": DAVE, "role": "user"})  # a known user: it is a conflict
    assert "dave already has the user role" in twice.text

    listed = await door.command("admin users")
    assert "carol (user " in listed.text and "dave (user " in listed.text
    assert f"{door.identity(CAROL).external_id} (user " not in listed.text, "a name, never the bare id"


# -- module cards ---------------------------------------------------------------------------------------

def publish_examples(db: Database, services: Services, door: FrontDoor) -> None:
    """The example modules as platform modules, ``budget-alerts`` made Pat's partner module with Jules on."""
    seed(db, services, Caller(door.identity(ADMIN), "admin"))
    with db.unit_of_work() as session:
        pat = identity.find_user(session, door.identity(PAT)) or identity.create_user(session, door.identity(PAT),
                                                                                    "pat")
        for free in session.scalars(select(Module)):  # nothing here is about credits
            free.credit_cost, free.require_credit_purchases = Decimal(0), False
        module = session.scalars(select(Module).where(Module.name == "budget-alerts")).one()
        module.source, module.owner_id, module.repository = "partner", pat.id, REPOSITORY
        key = store(session, services.secrets, kind=JULES_KEY, plaintext="jules-key-1", owner_id=pat.id,
                    now=utcnow())
        session.add(JulesConnection(owner_id=pat.id, key_secret_id=key.id, sources=[jules_source(REPOSITORY)]))


async def test_module_cards_carry_deploy_details_pin_and_refine_for_the_owner(
        door: FrontDoor, db: Database, services: Services, jules: JulesEmulator) -> None:
    publish_examples(db, services, door)
    listed = await door.command("modules", {"tab": "platform"})
    labels = [b.label for b in listed.buttons]
    assert labels[:3] == ["🚀 Deploy", "Details", "📌 Pin"], "each card: Deploy, Details, Pin"
    assert labels.count("🚀 Deploy") == labels.count("Details") == labels.count("📌 Pin") >= 1
    assert "✨ Refine" not in labels, "nobody refines a platform module"
    assert "4 modules" in listed.text and "module(s)" not in listed.text

    form = await door.click_form(listed, "🚀 Deploy")
    assert form.inputs, "Deploy opens the module's deploy form"

    mine = await door.command("modules", {"tab": "partner"}, user=PAT)
    assert [b.label for b in mine.buttons].count("✨ Refine") == 1 and "1 module," in mine.text
    jules.add_key("jules-key-1")
    jules.add_source(REPOSITORY)
    refined = await door.answer(await door.send_click(mine, "✨ Refine", user=PAT))  # more in test_refine.py
    assert "Jules is starting on `budget-alerts`" in refined.text and len(jules.sessions()) == 1

    admin_view = await door.command("modules", {"tab": "partner"})
    assert "✨ Refine" not in [b.label for b in admin_view.buttons], "only the module's owner refines it"
    forged = await door.answer(await door.send_click(mine, "✨ Refine", user=ADMIN))  # Pat's card, someone else
    assert "Only the partner who published `budget-alerts` can refine it" in forged.text

    details = await door.command("module", {"module": "data-bucket"})
    assert "Commit" in details.text and "Pinned to commit" not in details.text
    assert [b.label for b in details.buttons] == ["🚀 Deploy", "📌 Pin"]


# -- deployment cards -----------------------------------------------------------------------------------

def pats_deployment(db: Database, door: FrontDoor) -> str:
    """A deployment Pat made of ``data-bucket``, created, with inputs of every kind."""
    with db.unit_of_work() as session:
        pat = identity.find_user(session, door.identity(PAT))
        module = session.scalars(select(Module).where(Module.name == "data-bucket")).one()
        assert pat is not None
        deployment = Deployment(short_id="pq7x", module_id=module.id, module_name=module.name, owner_id=pat.id,
                                status=DeploymentStatus.SUCCESS, action=DeploymentAction.CREATE,
                                commit=module.commit, credit_cost=Decimal(1),
                                inputs={"bucket_name": "rad-data", "versioning": False,
                                        "lifecycle": {"age_days": 90}, "city": "Zürich"},
                                outputs={"url": "https://example.test/ünï"}, created_at=utcnow())
        session.add(deployment)
        session.flush()
        session.add(DeploymentRun(deployment_id=deployment.id, action=DeploymentAction.CREATE,
                                  status=DeploymentRunStatus.SUCCESS, created_at=utcnow()))
    return "pq7x"


async def test_a_deployment_card_shows_its_owner_values_as_hcl_and_only_usable_buttons(
        door: FrontDoor, db: Database, services: Services) -> None:
    publish_examples(db, services, door)
    await door.command("admin grant", {"user": FAY, "role": "finance"})
    short = pats_deployment(db, door)

    looked = await door.command("deployment", {"id": short}, user=FAY)
    assert "Owner: pat" in looked.text or "Owner\npat" in looked.text
    assert '`bucket_name` = "rad-data"' in looked.text and "`versioning` = false" in looked.text
    assert "`lifecycle` = { age_days = 90 }" in looked.text and '`city` = "Zürich"' in looked.text
    assert "\\u00fc" not in looked.text and "'rad-data'" not in looked.text and "False" not in looked.text
    assert not {"Destroy", "Purge", "Update", "Retry", "Cancel"} & {b.label for b in looked.buttons}, \
        "finance may look at another's deployment, not change it: no button to be refused by"

    managed = await door.command("deployment", {"id": short})
    assert {"Update", "Destroy", "Purge"} <= {b.label for b in managed.buttons}, "an admin manages it"

    everyone = await door.command("deployments", {"scope": "all"}, user=FAY)
    assert f"`{short}` data-bucket – success – pat – " in everyone.text

    own = await door.command("deployment", {"id": short}, user=PAT)
    assert "(you)" in own.text and {"Update", "Destroy", "Purge"} <= {b.label for b in own.buttons}


# -- names refresh on every contact (each platform's own way of sending the name) ---------------------------

def test_slack_names_refresh_on_every_contact(harness: sh.Harness, db: Database) -> None:
    harness.reply(harness.command("whoami", user="UGRACE", name="grace"))
    renamed = harness.reply(harness.command("whoami", user="UGRACE", name="Grace Hopper"))
    assert texts(renamed).startswith("Grace Hopper (user ")
    with db.unit_of_work() as session:
        user = identity.find_user(session, identity.IdentityKey("slack", sh.TEAM, "UGRACE"))
        assert user is not None and user.display_name == "Grace Hopper"
        assert [i.display_name for i in user.identities] == ["Grace Hopper"]


def test_slack_a_mention_without_a_name_is_named_by_users_info(harness: sh.Harness, db: Database) -> None:
    answer = harness.reply(harness.command("admin grant <@UHEDY> partner"))
    assert "*uhedy* is now a partner: they had not used RAD yet" in texts(answer)  # the emulator's users.info name
    assert [c.body["user"] for c in harness.emulator.calls("users.info")] == ["UHEDY"]
    with db.unit_of_work() as session:
        user = identity.find_user(session, identity.IdentityKey("slack", sh.TEAM, "UHEDY"))
        assert user is not None and user.display_name == "uhedy"


def test_slack_a_name_chosen_in_the_profile_is_kept(harness: sh.Harness, db: Database) -> None:
    harness.reply(harness.command("whoami", user="UADA", name="ada"))
    with db.unit_of_work() as session:
        user = identity.find_user(session, identity.IdentityKey("slack", sh.TEAM, "UADA"))
        assert user is not None
        user.display_name = "Countess Lovelace"  # as /rad profile saves it
    harness.reply(harness.command("whoami", user="UADA", name="ada.l"))
    with db.unit_of_work() as session:
        user = identity.find_user(session, identity.IdentityKey("slack", sh.TEAM, "UADA"))
        assert user is not None and user.display_name == "Countess Lovelace"
        assert [i.display_name for i in user.identities] == ["ada.l"]


@pytest.fixture
async def bot(db: Database, config: Config) -> AsyncIterator[dh.Harness]:
    async with dh.running_bot(db, config) as running:
        yield running
        running.validate_all()


async def test_discord_names_refresh_on_every_contact(bot: dh.Harness, db: Database) -> None:
    member = "900000000000000777"
    bot.slash("admin grant", {"user": member, "role": "partner"}, types={"user": dh.USER_OPTION},
              resolved=[obj.user(member, "Katherine")])
    assert "**Katherine** is now a partner: they had not used RAD yet" in (await bot.last_callback())["data"]["content"]
    data = obj.command_data(bot.runtime.config.command, ["whoami"], {})
    bot.feed(obj.interaction(2, data, application_id=bot.emulator.application_id,
                             user_data=obj.user(member, "Katherine Johnson"), channel_id=dh.CHANNEL_ID,
                             guild_id=dh.GUILD_ID))
    [embed] = (await bot.last_callback(2))["data"]["embeds"]
    assert embed["title"].startswith("Katherine Johnson (user ")
