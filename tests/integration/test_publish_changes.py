"""What a publish says it did: only changed modules are updated, a module follows the repository it now comes
from, and unticking a module that has live deployments asks first, saying how many."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Button, Reply
from storage.db import Database
from storage.models import Deployment, Module, User, utcnow
from storage.models.states import DeploymentAction, DeploymentStatus
from tests.emulators.github import GitHubEmulator
from tests.integration.test_publish import PAT, apply, connect, module_files, open_publish, reply, tick


def deployed(db: Database, module: str, status: DeploymentStatus, short: str) -> None:
    """A deployment of ``module`` by Pat in ``status`` (as the worker would have left it)."""
    with db.unit_of_work() as s:
        found = s.scalars(select(Module).where(Module.name == module)).one()
        owner = s.get_one(User, found.owner_id)
        s.add(Deployment(short_id=short, module_id=found.id, module_name=found.name, owner_id=owner.id,
                         status=status, action=DeploymentAction.CREATE, commit=found.commit,
                         credit_cost=Decimal(0), created_at=utcnow()))


def button(answer: Reply, action_id: str) -> Button:
    [found] = [a for a in answer.actions if isinstance(a, Button) and a.action_id == action_id]
    return found


def published(db: Database) -> dict[str, str]:
    with db.unit_of_work() as s:
        return {m.name: m.repository for m in s.scalars(select(Module))}


def test_only_changed_modules_are_listed_as_updated(dispatcher: Dispatcher, github: GitHubEmulator,
                                                    db: Database) -> None:
    repo, _ = connect(dispatcher, github, PAT, "pat", "pat/modules", {**module_files("web"), **module_files("db")})
    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("web", "db"))
    apply(dispatcher, PAT, token)
    with db.unit_of_work() as s:
        first = {m.name: m.commit for m in s.scalars(select(Module))}
    repo.commit({"web/variables.tf": module_files("web", cost=20)["web/variables.tf"]}, "Raise web's cost")
    _, token = open_publish(dispatcher, PAT)  # both published modules come ticked
    done = apply(dispatcher, PAT, token)
    assert "*Updated:* `web`" in done.text and "*Already up to date:* `db`" in done.text
    with db.unit_of_work() as s:
        now = {m.name: m.commit for m in s.scalars(select(Module))}
    assert now["db"] == first["db"], "a module whose files did not change keeps the commit it was published at"
    assert now["web"] != first["web"]


def test_a_module_follows_the_repository_it_now_comes_from(dispatcher: Dispatcher, github: GitHubEmulator,
                                                           db: Database) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", module_files("web"))
    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("web",))
    apply(dispatcher, PAT, token)
    assert published(db) == {"web": "pat/modules"}
    connect(dispatcher, github, PAT, "pat", "pat/moved", module_files("web"))  # the same files, elsewhere
    _, token = open_publish(dispatcher, PAT)
    done = apply(dispatcher, PAT, token)
    assert "*Updated:* `web`" in done.text and published(db) == {"web": "pat/moved"}
    details = reply(dispatcher.run_text(PAT, "module web"))
    assert "partner · pat/moved" in str(details.cards[0].fields)


def test_unticking_a_module_with_live_deployments_asks_first(dispatcher: Dispatcher, github: GitHubEmulator,
                                                             db: Database) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules",
            {**module_files("web"), **module_files("db"), **module_files("cache")})
    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("web", "db", "cache"))
    apply(dispatcher, PAT, token)
    deployed(db, "web", DeploymentStatus.SUCCESS, "w001")
    deployed(db, "web", DeploymentStatus.FAILURE, "w002")
    deployed(db, "web", DeploymentStatus.DELETED, "w003")  # destroyed: not live
    deployed(db, "db", DeploymentStatus.SUCCESS, "d001")

    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("db",))  # untick web (2 live) and cache (none)
    asked = apply(dispatcher, PAT, token)
    assert "Publishing removes `web` (2 live deployments) from the catalog." in asked.text
    assert "cache" not in asked.text and "The 2 deployments keep running" in asked.text
    assert asked.replace_original and set(published(db)) == {"web", "db", "cache"}, "nothing removed yet"
    back = reply(dispatcher.run_action(PAT, ActionEvent("publish:page", button(asked, "publish:page").value)))
    assert button(back, "publish:apply").label == "Update (1 selected)", "Back shows the list as it was ticked"

    confirm = button(asked, "publish:remove")
    assert confirm.style == "danger"
    deployed(db, "web", DeploymentStatus.SUCCESS, "w004")  # one more since the question: ask again
    again = reply(dispatcher.run_action(PAT, ActionEvent("publish:remove", confirm.value)))
    assert "changed since you were asked" in again.text and "`web` (3 live deployments)" in again.text
    assert set(published(db)) == {"web", "db", "cache"}
    done = reply(dispatcher.run_action(PAT, ActionEvent("publish:remove", button(again, "publish:remove").value)))
    assert "*Removed:* `cache`, `web`" in done.text and set(published(db)) == {"db"}
    with db.unit_of_work() as s:
        kept = s.scalars(select(Deployment).where(Deployment.short_id == "w001")).one()
        assert kept.module_id is None and kept.status == DeploymentStatus.SUCCESS, "the deployment itself stays"


def test_one_live_deployment_is_counted_in_the_singular(dispatcher: Dispatcher, github: GitHubEmulator,
                                                        db: Database) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", {**module_files("web"), **module_files("db")})
    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("web", "db"))
    apply(dispatcher, PAT, token)
    deployed(db, "web", DeploymentStatus.QUEUED, "w001")
    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("db",))
    asked = apply(dispatcher, PAT, token)
    assert "`web` (1 live deployment)" in asked.text and "That deployment keeps running" in asked.text


def test_publishing_the_demo_again_changes_nothing(dispatcher: Dispatcher, db: Database) -> None:
    from bot.demo import seed
    from tests.integration.test_publish import ADMIN

    seed(db, dispatcher.services, ADMIN)
    before = published(db)
    answer = reply(dispatcher.run_text(ADMIN, "admin publish"))
    done = reply(dispatcher.run_action(ADMIN, ActionEvent("publish:apply", button(answer, "publish:apply").value)))
    assert "*Already up to date:* `budget-alerts`, `data-bucket`" in done.text and "Updated" not in done.text
    assert published(db) == before
