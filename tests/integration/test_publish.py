"""Scanning, publishing and browsing through the dispatcher, against the GitHub emulator."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select

from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Form, Reply, SearchBox, Select
from core.accounts.identity import Caller, IdentityKey
from storage.db import Database
from storage.models import AuditEvent, Module, ParsedBlob
from tests.emulators.github import GitHubEmulator, LargeFile, Repository
from tests.support.connecting import connect_repository

ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
PAT = Caller(IdentityKey("slack", "T1", "UPAT"), "Pat")
SAM = Caller(IdentityKey("slack", "T1", "USAM"), "Sam")
USER = Caller(IdentityKey("slack", "T1", "UUSER"), "Uma")


def module_files(name: str, cost: int = 10, public: bool = False, extra: str = "") -> dict[str, str]:
    return {
        f"{name}/variables.tf": (
            f'variable "module_description" {{\n  default = "The {name} module"\n}}\n'
            f'variable "credit_cost" {{\n  default = {cost}\n}}\n'
            f'variable "public_access" {{\n  default = {"true" if public else "false"}\n}}\n'
            'variable "region" {\n  type = string\n  default = "eu-west-1"\n'
            '  description = "Where {{UIMeta group=1 order=1}}"\n}\n'
            'variable "size" {\n  type = number\n}\n' + extra
        ),
        f"{name}/outputs.tf": 'output "region" {\n  value = var.region\n}\n',
    }


def reply(outcome: object) -> Reply:
    assert isinstance(outcome, Reply), outcome
    return outcome


def connect(dispatcher: Dispatcher, github: GitHubEmulator, caller: Caller, login: str, repo: str,
            files: Mapping[str, str | LargeFile]) -> tuple[Repository, str]:
    role = "admin" if caller is ADMIN else "partner"
    if caller is not ADMIN:
        dispatcher.run_text(ADMIN, f"admin grant <@{caller.key.external_id}> {role}")
    repository, token = github.add_repo(repo, files), github.add_token(login)
    command = "admin connect" if caller is ADMIN else "connect"
    form = dispatcher.run_text(caller, command)
    assert isinstance(form, Form)
    assert "works" in reply(dispatcher.submit_form(caller, form.action_id, {"token": token}, form.state)).text
    assert "Connected" in reply(connect_repository(dispatcher, caller, f"{command} repo {repo}")).text
    return repository, token


def open_publish(dispatcher: Dispatcher, caller: Caller, words: str = "publish") -> tuple[Reply, str]:
    answer = reply(dispatcher.run_text(caller, words))
    apply = [a for a in answer.actions if getattr(a, "action_id", "") == "publish:apply"]
    assert apply, answer.text
    return answer, apply[0].value  # type: ignore[union-attr]


def tick(dispatcher: Dispatcher, caller: Caller, token: str, names: tuple[str, ...], page: int = 1) -> Reply:
    return reply(dispatcher.run_action(caller, ActionEvent("publish:select", f"{token}:{page}", names)))


def apply(dispatcher: Dispatcher, caller: Caller, token: str) -> Reply:
    return reply(dispatcher.run_action(caller, ActionEvent("publish:apply", token)))


def states(answer: Reply) -> dict[str, str]:
    return {c.title: c.fields[0].value for c in answer.cards}


def test_scan_publish_update_remove(dispatcher: Dispatcher, github: GitHubEmulator, db: Database) -> None:
    files = {**module_files("network"), **module_files("web"), "broken/main.tf": 'variable "x" {\n  type = \n',
             "docs/README.md": "not a module"}
    repo, _ = connect(dispatcher, github, PAT, "pat", "pat/modules", files)
    first, token = open_publish(dispatcher, PAT)
    assert set(states(first)) == {"network", "web", "broken"}  # docs holds no .tf file
    assert states(first)["network"].startswith("🆕 new")
    broken = next(c for c in first.cards if c.title == "broken")
    assert "main.tf" in broken.text and "line" in broken.text
    picker = next(a for a in first.actions if isinstance(a, Select))
    assert [o.value for o in picker.options] == ["network", "web"] and picker.selected == ()
    tick(dispatcher, PAT, token, ("network", "web"))
    done = apply(dispatcher, PAT, token)
    assert "*Published:* `network`, `web`" in done.text and done.replace_original
    assert apply(dispatcher, PAT, token).text == done.text  # a double click is one sync
    with db.unit_of_work() as s:
        assert len(s.scalars(select(AuditEvent).where(AuditEvent.action == "catalog.sync")).all()) == 1
        network = s.scalars(select(Module).where(Module.name == "network")).one()
        assert network.credit_cost == 10 and network.description == "The network module"

    before = github.count()
    again, token = open_publish(dispatcher, PAT)
    assert github.count() - before <= 2  # unchanged: the branch ref answers 304
    assert states(again)["network"].startswith("✅ published")

    repo.commit({"web/variables.tf": module_files("web", cost=20)["web/variables.tf"]}, "Raise the cost")
    before = github.count()
    changed, token = open_publish(dispatcher, PAT)
    assert github.count() - before <= 2 + 1  # ref, tree, and the one changed file
    assert states(changed)["web"].startswith("✏️ changed")
    repo.commit({"network/variables.tf": None, "network/outputs.tf": None}, "Drop network")
    gone, token = open_publish(dispatcher, PAT)
    assert states(gone)["network"].startswith("🗑 gone") and states(gone)["web"].startswith("✏️ changed")
    listed = reply(dispatcher.run_text(PAT, "modules partner"))
    assert "No longer in its repository" in next(c.text for c in listed.cards if c.title == "network")
    tick(dispatcher, PAT, token, ("web",))  # network is gone: removed
    result = apply(dispatcher, PAT, token)
    assert "*Updated:* `web`" in result.text and "*Removed:* `network`" in result.text
    with db.unit_of_work() as s:
        assert [m.name for m in s.scalars(select(Module))] == ["web"]
        assert s.scalars(select(Module)).one().credit_cost == 20


def test_names_are_unique_across_the_catalog(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    connect(dispatcher, github, ADMIN, "ada", "ada/platform", module_files("network", public=True))
    _, token = open_publish(dispatcher, ADMIN, "admin publish")
    tick(dispatcher, ADMIN, token, ("network",))
    assert "Published" in apply(dispatcher, ADMIN, token).text
    connect(dispatcher, github, PAT, "pat", "pat/modules", {**module_files("network"), **module_files("web")})
    answer, token = open_publish(dispatcher, PAT)
    assert "taken by a platform module" in next(c.text for c in answer.cards if c.title == "network")
    tick(dispatcher, PAT, token, ("web",))
    assert "*Published:* `web`" in apply(dispatcher, PAT, token).text


def test_two_partners_publishing_one_name_at_once(dispatcher: Dispatcher, github: GitHubEmulator,
                                                  db: Database) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", module_files("shared-name"))
    connect(dispatcher, github, SAM, "sam", "sam/modules", module_files("shared-name"))
    tokens = {}
    for caller in (PAT, SAM):
        _, tokens[caller.key.external_id] = open_publish(dispatcher, caller)
        tick(dispatcher, caller, tokens[caller.key.external_id], ("shared-name",))
    results: dict[str, str] = {}

    def press(caller: Caller) -> None:
        results[caller.key.external_id] = apply(dispatcher, caller, tokens[caller.key.external_id]).text

    threads = [threading.Thread(target=press, args=(c,)) for c in (PAT, SAM)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    won = [who for who, text in results.items() if "*Published:* `shared-name`" in text]
    lost = [who for who, text in results.items() if "taken by another partner's module" in text]
    assert len(won) == 1 and len(lost) == 1, results
    with db.unit_of_work() as s:
        assert len(s.scalars(select(Module)).all()) == 1


def test_bad_files_are_reported_and_the_scan_goes_on(dispatcher: Dispatcher, github: GitHubEmulator,
                                                     db: Database) -> None:
    huge = 'variable "x" {}\n' + "# padding\n" * 200_000
    files = {**module_files("fine"), "huge/main.tf": huge, "binary/main.tf": "\x00\x01\x02 not text",
             "my module/main.tf": 'variable "a" {}\n'}
    connect(dispatcher, github, PAT, "pat", "pat/modules", files)
    answer, _ = open_publish(dispatcher, PAT)
    texts = {c.title: c.text for c in answer.cards}
    assert states(answer)["fine"].startswith("🆕")
    assert "too large" in texts["huge"] and "text" in texts["binary"]
    assert "my module" in texts
    blobs = [c for c in github.calls() if "/git/blobs/" in c.path]
    assert len(blobs) == 4  # fine (2 files), binary, my module: the huge file was never fetched
    with db.unit_of_work() as s:
        assert len(s.scalars(select(ParsedBlob)).all()) >= 4


def test_search_and_pages(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    files: dict[str, str] = {}
    for n in range(20):
        files.update(module_files(f"mod-{n:02}"))
    connect(dispatcher, github, PAT, "pat", "pat/modules", files)
    answer, token = open_publish(dispatcher, PAT)
    assert len(answer.cards) == 8 and "page 1 of 3" in answer.text
    assert any(isinstance(a, SearchBox) for a in answer.actions)
    page3 = reply(dispatcher.run_action(PAT, ActionEvent("publish:page", f"{token}:3")))
    assert [c.title for c in page3.cards] == [f"mod-{n:02}" for n in range(16, 20)]
    found = reply(dispatcher.run_action(PAT, ActionEvent("publish:search", token, ("mod-1",))))
    assert [c.title for c in found.cards][:2] == ["mod-10", "mod-11"] and "matching `mod-1`" in found.text
    tick(dispatcher, PAT, token, ("mod-10",))
    tick(dispatcher, PAT, token, ("mod-19",), page=2)
    assert "`mod-10`, `mod-19`" in apply(dispatcher, PAT, token).text


def test_someone_elses_draft_is_refused(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", module_files("network"))
    _, token = open_publish(dispatcher, PAT)
    dispatcher.run_text(ADMIN, "admin grant <@USAM> partner")
    assert "belongs to someone else" in apply(dispatcher, SAM, token).text


def test_a_revoked_token_or_missing_repository_is_explained(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    dispatcher.run_text(ADMIN, "admin grant <@USAM> partner")
    assert "No repository is connected" in reply(dispatcher.run_text(SAM, "publish")).text
    _, token = connect(dispatcher, github, PAT, "pat", "pat/modules", module_files("network"))
    github.revoke(token)
    assert "GitHub refused this token" in reply(dispatcher.run_text(PAT, "publish")).text


def test_browse_visibility_pins_and_details(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    connect(dispatcher, github, ADMIN, "ada", "ada/platform", module_files("base-net"))
    _, token = open_publish(dispatcher, ADMIN, "admin publish")
    tick(dispatcher, ADMIN, token, ("base-net",))
    apply(dispatcher, ADMIN, token)
    connect(dispatcher, github, PAT, "pat", "pat/modules",
            {**module_files("pat-private"), **module_files("pat-public", public=True)})
    _, token = open_publish(dispatcher, PAT)
    tick(dispatcher, PAT, token, ("pat-private", "pat-public"))
    apply(dispatcher, PAT, token)

    def titles(caller: Caller, words: str) -> list[str]:
        return [c.title.removeprefix("📌 ") for c in reply(dispatcher.run_text(caller, words)).cards]

    assert titles(USER, "modules") == ["base-net", "pat-public"]
    assert titles(PAT, "modules partner") == ["pat-private", "pat-public"]
    assert titles(ADMIN, "modules") == ["base-net", "pat-private", "pat-public"]
    assert titles(USER, "modules pat") == ["pat-public"]  # not a tab: a search
    assert "There is no module `pat-private`" in reply(dispatcher.run_text(USER, "module pat-private")).text
    assert "pinned" in reply(dispatcher.run_text(USER, "pin pat-public")).text
    assert "already pinned" in reply(dispatcher.run_text(USER, "pin pat-public")).text
    assert titles(USER, "modules") == ["pat-public", "base-net"]  # pinned first
    assert titles(USER, "modules pinned") == ["pat-public"]
    detail = reply(dispatcher.run_text(USER, "module base-net"))
    inputs = next(c.text for c in detail.cards if c.title == "Inputs")
    assert '`region` (string) default `"eu-west-1"`' in inputs and "`size` (number) *required*" in inputs
    assert "module_description" not in inputs
    tabbed = reply(dispatcher.run_action(USER, ActionEvent("modules:tab", "platform:1:")))
    assert tabbed.replace_original and [c.title for c in tabbed.cards] == ["base-net"]
    assert "unpinned" in reply(dispatcher.run_text(USER, "unpin pat-public")).text
    assert [o.value for o in dispatcher.suggest(USER, "modules:names", "pat")] == ["pat-public"]


def test_a_local_folder_as_the_platform_repository(dispatcher: Dispatcher, tmp_path: Path) -> None:
    for name, body in module_files("local-net").items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    pat_local = reply(dispatcher.run_text(PAT, f"connect local {tmp_path}"))
    assert "`local` is not a valid target" in pat_local.text  # partners never read the bot's own files
    assert "is the folder" in reply(dispatcher.run_text(ADMIN, f"admin connect local {tmp_path}")).text
    assert "no folder" in reply(dispatcher.run_text(ADMIN, f"admin connect local {tmp_path}/nope")).text
    _, token = open_publish(dispatcher, ADMIN, "admin publish")
    tick(dispatcher, ADMIN, token, ("local-net",))
    assert "*Published:* `local-net`" in apply(dispatcher, ADMIN, token).text
    again, _ = open_publish(dispatcher, ADMIN, "admin publish")
    assert states(again)["local-net"].startswith("✅ published")


def test_two_thousand_directories(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    files = {f"m{n:04}/main.tf": f'variable "v{n}" {{\n  default = {n}\n}}\n' for n in range(2000)}
    connect(dispatcher, github, PAT, "pat", "pat/big", files)
    answer, token = open_publish(dispatcher, PAT)
    assert "*2,000 module folders*" in answer.text and "page 1 of 250" in answer.text
    last = reply(dispatcher.run_action(PAT, ActionEvent("publish:page", f"{token}:250")))
    assert [c.title for c in last.cards][-1] == "m1999"
    before = github.count()
    open_publish(dispatcher, PAT)
    assert github.count() - before == 1  # unchanged: one conditional request
