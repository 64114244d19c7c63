"""Connecting a GitHub repository and a Jules key through the dispatcher, against the emulators."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Form, Reply, Select
from core.accounts.identity import Caller, IdentityKey
from storage.db import Database
from storage.models import AuditEvent, JulesConnection, RepoConnection, StoredSecret
from tests.emulators.github import GitHubEmulator
from tests.emulators.jules import JulesEmulator
from tests.support.connecting import connect_repository

ADMIN = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
PAT = Caller(IdentityKey("slack", "T1", "UPAT"), "Pat")
MODULES = {"network/main.tf": 'variable "cidr" {}\n', "README.md": "# modules\n"}


def make_partner(dispatcher: Dispatcher) -> None:
    dispatcher.run_text(ADMIN, "admin grant <@UPAT> partner")


def reply(outcome: object) -> Reply:
    assert isinstance(outcome, Reply), outcome
    return outcome


def submit_token(dispatcher: Dispatcher, token: str, caller: Caller = PAT, scope: str = "partner") -> Reply:
    form = dispatcher.run_text(caller, "connect" if scope == "partner" else "admin connect")
    assert isinstance(form, Form) and form.inputs[0].kind == "secret" and form.state == scope
    assert dispatcher.is_slow_form(form.action_id)
    return reply(dispatcher.submit_form(caller, form.action_id, {"token": token}, form.state))


def test_connect_a_repository_on_page_two_then_status_and_disconnect(
    dispatcher: Dispatcher, github: GitHubEmulator, db: Database
) -> None:
    make_partner(dispatcher)
    for n in range(150):
        github.add_repo(f"pat/repo-{n:03}", MODULES if n == 120 else {"x.txt": "x"})
    token = github.add_token("pat")
    answer = submit_token(dispatcher, token)
    assert "The token of *pat* works (classic, scopes repo, read:org)" in answer.text
    assert "It reaches 150 repositories" in answer.text
    picker = answer.actions[0]
    assert isinstance(picker, Select) and len(picker.options) == 150 and picker.options_source == "connect:repos"
    assert [o.value for o in dispatcher.suggest(PAT, "connect:repos", "repo-12", "partner")][:3] == [
        "pat/repo-120", "pat/repo-121", "pat/repo-122"]
    chosen = reply(dispatcher.run_action(PAT, ActionEvent("connect:repo", "partner", ("pat/repo-120",))))
    assert "Connected *pat/repo-120* (branch `main`)" in chosen.text and chosen.replace_original
    status = reply(dispatcher.run_text(PAT, "connect status"))
    fields = {f.label: f.value for f in status.cards[0].fields}
    assert fields["Repository"] == "pat/repo-120" and fields["Token"] == "pat (classic)"
    assert status.cards[1].fields[0].value == "not connected"
    confirm = reply(dispatcher.run_text(PAT, "disconnect"))
    button = confirm.actions[0]
    assert button.confirm is not None and button.style == "danger"  # type: ignore[union-attr]
    gone = reply(dispatcher.run_action(PAT, ActionEvent("connect:forget", "github")))
    assert "forgotten" in gone.text
    with db.unit_of_work() as s:
        assert s.scalars(select(StoredSecret)).all() == []
        assert s.scalars(select(RepoConnection)).one().token_secret_id is None


@pytest.mark.parametrize(("setup", "expected"), [
    ("bad", "GitHub refused this token"),
    ("no-repo-scope", "lacks the `repo` scope (it has `read:org`)"),
    ("server-error", "GitHub is not answering"),
    ("rate-limit", "rate limit"),
])
def test_bad_tokens_store_nothing(
    dispatcher: Dispatcher, github: GitHubEmulator, db: Database, setup: str, expected: str
) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    token = {"bad": "ghp_not-a-real-token", "no-repo-scope": github.add_token("pat", scopes=("read:org",))}.get(
        setup) or github.add_token("pat")
    if setup == "server-error":
        github.fail(times=10, status=502)
    if setup == "rate-limit":
        github.exhaust_rate_limit("pat", reset_in=3600)
    answer = submit_token(dispatcher, token)
    assert expected in answer.text and "Nothing was stored." in answer.text
    assert [(b.label, b.action_id) for b in answer.actions] == [("Try again", "connect:start")]  # type: ignore[union-attr]
    with db.unit_of_work() as s:
        assert s.scalars(select(StoredSecret)).all() == [] and s.scalars(select(RepoConnection)).all() == []


@pytest.mark.parametrize("fault", ["server-error", "secondary-rate-limit"])
def test_transient_errors_are_retried(dispatcher: Dispatcher, github: GitHubEmulator, fault: str) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    token = github.add_token("pat")
    if fault == "server-error":
        github.fail(times=1, status=503)
    else:
        github.secondary_rate_limit(times=1, retry_after=1)
    assert "works" in submit_token(dispatcher, token).text
    assert github.count() >= 3  # the failed call, its retry, then the repository list


def test_a_token_revoked_before_choosing_is_reported(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    token = github.add_token("pat")
    submit_token(dispatcher, token)
    github.revoke(token)
    answer = reply(dispatcher.run_action(PAT, ActionEvent("connect:repo", "partner", ("pat/modules",))))
    assert "GitHub refused this token" in answer.text


def test_an_empty_repository_list_says_what_to_do(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    make_partner(dispatcher)
    answer = submit_token(dispatcher, github.add_token("pat"))
    assert "reaches no repository" in answer.text and not answer.actions


def test_an_unknown_repository_is_refused_with_suggestions(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    submit_token(dispatcher, github.add_token("pat"))
    answer = reply(connect_repository(dispatcher, PAT, "connect repo pat/modulez"))
    assert "cannot reach `pat/modulez`" in answer.text and "`pat/modules`" in answer.text


def test_changing_the_repository_says_so(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/old", MODULES)
    github.add_repo("pat/new", MODULES)
    submit_token(dispatcher, github.add_token("pat"))
    connect_repository(dispatcher, PAT, "connect repo pat/old")
    answer = reply(connect_repository(dispatcher, PAT, "connect repo pat/new"))
    assert "changed from *pat/old*" in answer.text


def test_a_fine_grained_token_needs_contents_access(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    github.add_repo("pat/other", MODULES)
    token = github.add_fine_grained_token("pat", {"pat/modules": "read", "pat/other": "none"})
    assert "(fine-grained)" in submit_token(dispatcher, token).text
    assert "Connected *pat/modules*" in reply(connect_repository(dispatcher, PAT, "connect repo pat/modules")).text


def test_non_partners_are_refused_and_audited(dispatcher: Dispatcher, db: Database) -> None:
    answer = reply(dispatcher.run_text(PAT, "connect"))
    assert "Only partners can run `/rad connect`" in answer.text
    with db.unit_of_work() as s:
        denied = s.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).one()
        assert denied.target == "command:connect"


def test_only_admins_connect_the_platform_repository(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    make_partner(dispatcher)
    assert "Only admins" in reply(dispatcher.run_text(PAT, "admin connect")).text
    forged = dispatcher.run_action(PAT, ActionEvent("connect:start", "platform"))
    assert "Only admins can connect the platform repository" in reply(forged).text
    github.add_repo("radadmin/platform-modules", MODULES)
    answer = submit_token(dispatcher, github.add_token("radadmin"), caller=ADMIN, scope="platform")
    assert "works" in answer.text
    done = reply(connect_repository(dispatcher, ADMIN, "admin connect repo radadmin/platform-modules"))
    assert "Connected *radadmin/platform-modules*" in done.text and "Jules" not in done.text


def test_jules_key_and_source_registration(
    dispatcher: Dispatcher, github: GitHubEmulator, jules: JulesEmulator, db: Database
) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    submit_token(dispatcher, github.add_token("pat"))
    connect_repository(dispatcher, PAT, "connect repo pat/modules")
    form = dispatcher.run_text(PAT, "connect jules")
    assert isinstance(form, Form) and form.inputs[0].kind == "secret"
    bad = reply(dispatcher.submit_form(PAT, "connect:jules", {"key": "wrong-key"}))
    assert "Jules refused the API key" in bad.text
    key = jules.add_key()
    missing = reply(dispatcher.submit_form(PAT, "connect:jules", {"key": key}))
    assert "Jules cannot see *pat/modules* yet" in missing.text and "Install the Jules GitHub app" in missing.text
    jules.add_source("pat/modules")
    found = reply(dispatcher.submit_form(PAT, "connect:jules", {"key": key}))
    assert "Jules can work on *pat/modules*" in found.text
    status = reply(dispatcher.run_text(PAT, "connect status"))
    assert {f.label: f.value for f in status.cards[1].fields}["Repository as a Jules source"] == "registered"
    dispatcher.run_action(PAT, ActionEvent("connect:forget", "jules"))
    with db.unit_of_work() as s:
        assert s.scalars(select(JulesConnection)).one().key_secret_id is None
        assert [r.kind for r in s.scalars(select(StoredSecret))] == ["github_token"]


def test_secrets_never_reach_logs_audit_or_database(
    dispatcher: Dispatcher, github: GitHubEmulator, jules: JulesEmulator, db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    token, key = github.add_token("pat"), jules.add_key()
    jules.add_source("pat/modules")
    outputs = [submit_token(dispatcher, token), reply(connect_repository(dispatcher, PAT, "connect repo pat/modules")),
               reply(dispatcher.submit_form(PAT, "connect:jules", {"key": key})),
               reply(dispatcher.run_text(PAT, "connect status"))]
    shown = repr(outputs) + "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    with db.engine.connect() as conn:
        from storage.models import Base
        dump = "\n".join(repr(row) for table in Base.metadata.sorted_tables for row in conn.execute(table.select()))
    for secret in (token, key):
        assert secret not in shown and secret not in dump
    assert "github_token" in dump  # the dump did include the sealed secrets


def test_typeahead_refusals_are_quiet(dispatcher: Dispatcher, github: GitHubEmulator, db: Database) -> None:
    make_partner(dispatcher)
    assert dispatcher.suggest(PAT, "connect:repos", "a", "platform") == []
    assert dispatcher.suggest(Caller(IdentityKey("slack", "T1", "UNOBODY"), "x"), "connect:repos", "a") == []
    with db.unit_of_work() as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")).all() == []


def test_a_repository_alone_means_choosing_it(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    make_partner(dispatcher)
    github.add_repo("pat/modules", MODULES)
    submit_token(dispatcher, github.add_token("pat"))
    assert dispatcher.is_slow_command("connect", PAT, {"repository": "pat/modules"})  # GitHub outside a transaction
    answer = dispatcher.run_command(PAT, "connect", {"repository": "pat/modules"})
    assert "Connected *pat/modules*" in reply(answer).text
