"""Slack in many workspaces: installed through Bolt's OAuth flow, each workspace answered with its own token.

A real browser-like client follows ``/slack/install`` to the Slack emulator's authorize page and back to
``/slack/oauth_redirect`` on the bot's real HTTP server; signed requests then come from the new workspace and
the real worker answers them. Refused: a forged state, a replayed code, requests from a workspace that
uninstalled the app. A token revoked at Slack makes a background post fail cleanly and stay queued; a token
about to expire is refreshed before use. No token, code or client secret reaches the database in clear, a
log line or a job's error.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cryptography.fernet import Fernet
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select, text

from bot.processes import rotate_secrets
from bot.runtime import Runtime
from bot.slack.app import build_app, installed_workspaces, make_client, make_messenger
from bot.slack.messenger import SlackMessenger
from bot.slack.oauth import BOT_SCOPES, NOT_INSTALLED
from bot.slack.workspaces import NotInstalled
from bot.web import start_background
from bot.worker import Worker
from commands.framework.dispatch import Dispatcher
from commands.handlers.notify import POST_KIND, post_later
from commands.ui.model import Reply
from core.accounts.identity import IdentityKey, create_user
from core.config import Config
from core.conversations import ConversationRef
from core.secrets import SecretBox
from storage.db import Database
from storage.models import (
    SLACK_BOTS,
    SLACK_INSTALLATIONS,
    SLACK_OAUTH_STATES,
    DigestCadence,
    DigestTarget,
    DigestTargetStatus,
    Job,
    JobStatus,
    utcnow,
)
from tests.emulators.slack import SlackEmulator
from tests.support.processes import BotProcess, free_port, started, wait_until
from tests.support.slack_support import emulator, slack_stamp

__all__ = ["emulator"]

SECRET = "oauth-signing-secret"
TEAM, TEAM_NAME, INSTALLER = "T2", "Second Team", "U2ADMIN"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Browser:
    """An HTTP client that keeps the bot's cookies as a browser does (the state cookie is ``Secure``, which a
    browser still sends to a local address and ``requests`` would not)."""

    cookies: dict[str, str] = field(default_factory=dict)

    def get(self, url: str) -> requests.Response:
        sent = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer = requests.get(url, headers={"Cookie": sent} if sent else {}, allow_redirects=False, timeout=10)
        for header in answer.raw.headers.getlist("Set-Cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return answer


@dataclass
class Front:
    """The bot's HTTP front door, driven as Slack and an installer's browser drive it."""

    url: str
    emulator: SlackEmulator

    def install(self, browser: Browser | None = None) -> tuple[requests.Response, str]:
        """The whole install: ``/slack/install`` -> Slack's authorize page -> the redirect; (last answer, its URL)."""
        browser = browser or Browser()
        start = browser.get(self.url + "/slack/install")
        assert start.status_code == 302, start.text
        slack = browser.get(start.headers["Location"])
        assert slack.status_code == 302, slack.text
        back = slack.headers["Location"]
        return browser.get(back), back

    def post(self, body: str, content_type: str) -> requests.Response:
        stamp = str(int(time.time()))
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body) or ""
        return requests.post(self.url + "/slack/events", data=body.encode(), timeout=10, headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature})

    def command(self, command_text: str, *, team: str = TEAM, user: str = INSTALLER,
                **extra: str) -> tuple[requests.Response, str]:
        hook = f"cmd-{uuid.uuid4().hex[:8]}"
        body = {"token": "legacy", "team_id": team, "team_domain": "second", "channel_id": "C2",
                "channel_name": "general", "user_id": user, "user_name": "admin", "command": "/rad",
                "text": command_text, "api_app_id": "A1", "response_url": self.emulator.webhook_url(hook),
                "trigger_id": f"trig.{uuid.uuid4().hex}", **extra}
        return self.post(urllib.parse.urlencode(body), "application/x-www-form-urlencoded"), "/webhook/" + hook

    def event(self, event: dict[str, Any], *, team: str = TEAM, **extra: str) -> requests.Response:
        body = {"token": "legacy", "team_id": team, "api_app_id": "A1", "event": event, "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time()), **extra}
        return self.post(json.dumps(body), "application/json")

    def open_home(self, *, team: str = TEAM, user: str = INSTALLER) -> requests.Response:
        return self.event({"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home",
                           "event_ts": slack_stamp()}, team=team)


@dataclass
class Bot(Front):
    """The bot in OAuth mode in this process: its HTTP front door, its database, its worker."""

    runtime: Runtime
    worker: Worker

    def work(self) -> int:
        """Run every due job with the real worker; how many ran."""
        ran = 0
        while self.worker.run_once():
            ran += 1
        return ran

    def stored(self) -> list[dict[str, Any]]:
        """Every row of the installation and state tables, as stored (ciphertext)."""
        with self.runtime.db.engine.connect() as connection:
            return [dict(row) for table in (SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES)
                    for row in connection.execute(select(table)).mappings()]

    def bots(self, team: str = TEAM) -> int:
        with self.runtime.db.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(SLACK_BOTS)
                                          .where(SLACK_BOTS.c.team_id == team)).scalar_one())

    def jobs(self, kind: str) -> list[Job]:
        with self.runtime.db.unit_of_work() as session:
            found = list(session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))
            session.expunge_all()
            return found


def oauth_config(config: Config, emulator: SlackEmulator, port: int) -> Config:
    return replace(config, slack_signing_secret=SECRET, slack_api_url=emulator.url, port=port,
                   slack_client_id=emulator.oauth.client_id, slack_client_secret=emulator.oauth.client_secret,
                   public_url=f"http://127.0.0.1:{port}")


@pytest.fixture
def bot(config: Config, db: Database, dispatcher: Dispatcher, emulator: SlackEmulator) -> Iterator[Bot]:
    port = free_port()
    cfg = oauth_config(config, emulator, port)
    runtime = Runtime(cfg, db, dispatcher.registry, Dispatcher(dispatcher.registry, db, cfg))
    emulator.install_into(TEAM, TEAM_NAME, INSTALLER)
    server = start_background(runtime, build_app(runtime), port=port)
    try:
        yield Bot(server.url, emulator, runtime, Worker(runtime, {"slack": make_messenger(runtime)}))
    finally:
        server.stop()


def secrets_of(emulator: SlackEmulator) -> list[str]:
    """Everything secret the OAuth side handed out or knows: tokens, refresh tokens, codes, the client secret."""
    oauth = emulator.oauth
    return [oauth.client_secret, *oauth._tokens, *oauth._refresh, *oauth._codes]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record of the bot (and of the libraries it runs) with its extras, at whatever level was captured.

    ``urllib3`` is the test's own browser (``requests``), which logs the redirect URLs it follows; the bot's
    Slack clients are ``slack_sdk``'s, on ``urllib``.
    """
    return "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {vars(r)!r}" for r in caplog.records
                     if not r.name.startswith("urllib3"))


def assert_hidden(emulator: SlackEmulator, *places: str) -> None:
    found = [secret[:12] for secret in secrets_of(emulator) for place in places if secret in place]
    assert not found, f"secrets in clear: {found}"


# -- install ------------------------------------------------------------------------------------------

def test_install_stores_the_workspace_sealed_and_its_requests_use_its_token(
        bot: Bot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    browser = Browser()
    start = browser.get(bot.url + "/slack/install")
    assert start.status_code == 302
    authorize = urllib.parse.urlsplit(start.headers["Location"])
    asked = dict(urllib.parse.parse_qsl(authorize.query))
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == emulator.authorize_url
    assert asked["client_id"] == emulator.oauth.client_id
    assert asked["scope"].split(",") == list(BOT_SCOPES)
    assert asked["redirect_uri"] == bot.url + "/slack/oauth_redirect"
    assert browser.cookies["slack-app-oauth-state"] == asked["state"]

    slack = browser.get(start.headers["Location"])
    done = browser.get(slack.headers["Location"])
    assert done.status_code == 200 and "RAD is installed" in done.text and TEAM_NAME in done.text
    assert done.headers["Cache-Control"] == "no-store" and done.headers["Referrer-Policy"] == "no-referrer"
    assert browser.cookies["slack-app-oauth-state"] == "deleted"
    (token,) = emulator.oauth.tokens(TEAM)
    exchange = emulator.calls("oauth.v2.access")[-1]
    assert exchange.headers["authorization"].startswith("Basic ") and "client_secret" not in exchange.body

    rows = bot.stored()
    assert [r["team_id"] for r in rows if "bot_token" in r] == [TEAM, TEAM]  # one bot, one installation
    assert all(r["bot_token"] and r["bot_token"].startswith("gAAAAA") for r in rows if "bot_token" in r)
    assert not [r for r in rows if "state" in r]  # the state was used up
    assert_hidden(emulator, repr(rows))
    assert bot.runtime.dispatcher.services.secrets.open(rows[0]["bot_token"]) == token

    answer, hook = bot.command("whoami <@U777>")
    assert answer.status_code == 200
    bot.open_home()
    assert bot.work() == 2
    assert "@U777|u777" in emulator.wait_for(hook)[0].body["text"]  # answered, with the mention's name
    lookups = emulator.calls("users.info")
    assert lookups and {c.token for c in lookups} == {token}  # names looked up with the new workspace's token
    (published,) = emulator.calls("views.publish")
    assert published.token == token and emulator.home(INSTALLER) is not None

    messenger = make_messenger(bot.runtime)
    posted = messenger.post(ConversationRef("slack", TEAM, "C2"), Reply(text="Deployed.", ephemeral=False))
    assert emulator.calls("chat.postMessage")[-1].token == token and posted.message
    assert emulator.message("C2", posted.message)["team"] == TEAM
    with pytest.raises(NotInstalled):
        messenger.post(ConversationRef("slack", "T9", "C9"), Reply(text="nobody installed me here"))
    assert_hidden(emulator, logged(caplog))


def test_the_scopes_asked_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(manifest["settings"]["event_subscriptions"]["bot_events"])


# -- refused installs ---------------------------------------------------------------------------------

def test_a_forged_state_is_refused_and_nothing_is_installed(bot: Bot, emulator: SlackEmulator,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    forger = Browser({"slack-app-oauth-state": "forged-state"})
    slack = forger.get(emulator.authorize_url + "?" + urllib.parse.urlencode({
        "client_id": emulator.oauth.client_id, "scope": "commands", "state": "forged-state",
        "redirect_uri": bot.url + "/slack/oauth_redirect"}))
    refused = forger.get(slack.headers["Location"])
    assert refused.status_code == 401 and "RAD was not installed" in refused.text

    victim = Browser()  # a real state, but the redirect arrives in another browser (no state cookie)
    start = victim.get(bot.url + "/slack/install")
    back = Browser().get(Browser().get(start.headers["Location"]).headers["Location"])
    assert back.status_code == 400

    assert not emulator.calls("oauth.v2.access")  # no code was exchanged for a forged or foreign state
    assert bot.bots() == 0 and not [r for r in bot.stored() if "bot_token" in r]
    assert [r.reason for r in caplog.records if hasattr(r, "reason")] == ["invalid_state", "invalid_browser"]
    assert_hidden(emulator, logged(caplog))


def test_a_replayed_code_is_refused(bot: Bot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    browser = Browser()
    done, back = bot.install(browser)
    assert done.status_code == 200
    sent = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
    code = sent["code"]

    assert browser.get(back).status_code == 400  # the same redirect again: the browser's state cookie is gone
    browser.cookies["slack-app-oauth-state"] = sent["state"]
    assert browser.get(back).status_code == 401  # and with the cookie put back, the state itself is spent

    fresh = Browser()  # a new install visit gives a valid state; the old code rides on it
    start = fresh.get(bot.url + "/slack/install")
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.headers["Location"]).query))["state"]
    replayed = fresh.get(bot.url + "/slack/oauth_redirect?" + urllib.parse.urlencode({"code": code, "state": state}))
    assert replayed.status_code == 401 and "only once" in replayed.text
    assert emulator.calls("oauth.v2.access")[-1].body["code"] == code
    assert len(emulator.oauth.tokens(TEAM)) == 1 and bot.bots() == 1
    reasons = [r.reason for r in caplog.records if hasattr(r, "reason")]
    assert reasons == ["invalid_browser", "invalid_state", "invalid_code"]
    assert "with code: <hidden>" in caplog.text  # Bolt's own line about the refused code, redacted
    assert_hidden(emulator, logged(caplog))


def test_a_workspace_of_an_enterprise_grid_organisation_is_answered_with_its_token(
        bot: Bot, emulator: SlackEmulator) -> None:
    emulator.install_into("T3", "Grid Team", "U3ADMIN", enterprise_id="E1")
    done, _ = bot.install()
    assert done.status_code == 200
    (token,) = emulator.oauth.tokens("T3")
    assert [(r["enterprise_id"], r["team_id"]) for r in bot.stored() if "bot_token" in r] == [("E1", "T3")] * 2

    answer, hook = bot.command("whoami <@U779>", team="T3", user="U3ADMIN", enterprise_id="E1")
    assert answer.status_code == 200 and bot.work() == 1  # the worker knows only the team: found all the same
    assert "@U779|u779" in emulator.wait_for(hook)[0].body["text"]
    assert {c.token for c in emulator.calls("users.info")} == {token}
    make_messenger(bot.runtime).post(ConversationRef("slack", "T3", "C3"), Reply(text="hi", ephemeral=False))
    assert emulator.calls("chat.postMessage")[-1].token == token

    assert bot.event({"type": "app_uninstalled"}, team="T3", enterprise_id="E1").status_code == 200
    assert not [r for r in bot.stored() if r.get("team_id") == "T3"]


# -- uninstalls and revocations -----------------------------------------------------------------------

def test_after_app_uninstalled_the_workspace_is_forgotten_and_refused(
        bot: Bot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot.install()
    answer, hook = bot.command("whoami")
    assert answer.status_code == 200 and bot.work() == 1 and emulator.wait_for(hook)  # installed: answered
    with bot.runtime.db.unit_of_work() as session:  # a finance user made a channel of it a digest target
        setter = create_user(session, IdentityKey("discord", "", "D-FIN"), "Fin")
        session.flush()
        session.add(DigestTarget(platform="slack", workspace=TEAM, channel="CREV", cadence=DigestCadence.DAILY,
                                 starts_at=utcnow(), set_by_id=setter.id))
    emulator.revoke_workspace(TEAM)
    assert bot.event({"type": "app_uninstalled"}).status_code == 200
    assert bot.bots() == 0 and not [r for r in bot.stored() if r.get("team_id") == TEAM]
    with bot.runtime.db.unit_of_work() as session:  # the bot can post nowhere there: its digests stop
        target = session.scalars(select(DigestTarget)).one()
        assert target.status == DigestTargetStatus.BROKEN and "removed from" in target.broken_reason
        told = [job.payload for job in session.scalars(select(Job).where(Job.kind == POST_KIND))]
    assert any("RAD was removed from a Slack workspace" in json.dumps(payload) for payload in told), told

    queued_before = len(bot.jobs("slack.command"))
    refused, refused_hook = bot.command("whoami")
    assert refused.status_code == 200
    assert emulator.wait_for(refused_hook)[0].body["text"] == NOT_INSTALLED
    assert bot.open_home().status_code == 200
    assert len(bot.jobs("slack.command")) == queued_before and not bot.jobs("slack.home")  # nothing queued
    assert bot.work() == 1  # only the setter's notice (for their Discord account, which this bot does not serve)
    assert "without an installation refused" in caplog.text
    assert_hidden(emulator, logged(caplog))


def test_a_request_queued_before_the_uninstall_is_dropped_cleanly(
        bot: Bot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot.install()
    answer, hook = bot.command("whoami")
    assert answer.status_code == 200
    emulator.revoke_workspace(TEAM)
    bot.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBT2"]}})
    assert bot.bots() == 0
    assert bot.work() == 1
    (job,) = bot.jobs("slack.command")
    assert job.status == JobStatus.DONE and not emulator.calls(hook)  # not run: nothing to answer it with
    assert "no longer installed" in caplog.text


def test_a_token_revoked_mid_post_keeps_the_post_and_a_reinstall_delivers_it(
        bot: Bot, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot.install()
    (old,) = emulator.oauth.tokens(TEAM)
    emulator.revoke_workspace(TEAM)  # revoked at Slack; the bot has not heard of it yet
    with bot.runtime.db.unit_of_work() as session:
        post_later(session, "deploy:42:done", "Deployment 42 is ready.",
                   where=ConversationRef("slack", TEAM, "C2"))
    assert bot.work() == 1
    (job,) = bot.jobs(POST_KIND)
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and "token_revoked" in job.error
    assert emulator.calls("chat.postMessage")[-1].token == old and not emulator.messages("C2")
    assert "Slack refused the workspace's token" in caplog.text

    bot.install()  # an admin installs the app again: a new token
    new = emulator.oauth.tokens(TEAM)[-1]
    with bot.runtime.db.unit_of_work() as session:
        session.get_one(Job, job.id).run_after = utcnow()
    assert bot.work() == 1
    (job,) = bot.jobs(POST_KIND)
    assert job.status == JobStatus.DONE
    assert emulator.calls("chat.postMessage")[-1].token == new
    assert [m["text"] for m in emulator.messages("C2")] == ["Deployment 42 is ready."]
    assert_hidden(emulator, logged(caplog), job.error, json.dumps(job.payload), repr(bot.stored()))


# -- token rotation -----------------------------------------------------------------------------------

def test_an_expiring_token_is_refreshed_before_use(bot: Bot, emulator: SlackEmulator,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.oauth.token_rotation = True
    emulator.oauth.first_token_lifetime = 10 * 60  # inside the two hours before expiry when Bolt refreshes
    bot.install()
    (first,) = emulator.oauth.tokens(TEAM)
    assert first.startswith("xoxe.xoxb-")
    row = next(r for r in bot.stored() if "bot_refresh_token" in r and "user_id" not in r)
    assert row["bot_refresh_token"] and row["bot_token_expires_at"] is not None

    messenger = make_messenger(bot.runtime)
    messenger.post(ConversationRef("slack", TEAM, "C2"), Reply(text="first", ephemeral=False))
    refreshes = [c for c in emulator.calls("oauth.v2.access") if c.body.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    first_refresh, second = emulator.oauth.tokens(TEAM)
    assert first_refresh == first and emulator.calls("chat.postMessage")[-1].token == second

    messenger.post(ConversationRef("slack", TEAM, "C2"), Reply(text="second", ephemeral=False))
    answer, hook = bot.command("whoami")
    assert answer.status_code == 200 and bot.work() == 1
    assert emulator.wait_for(hook)
    assert len([c for c in emulator.calls("oauth.v2.access") if c.body.get("grant_type")]) == 1  # still fresh
    assert {c.token for c in emulator.calls("chat.postMessage")} == {second}
    assert_hidden(emulator, logged(caplog), repr(bot.stored()))


# -- key rotation -------------------------------------------------------------------------------------

def test_rotate_secrets_reseals_the_workspace_tokens_under_the_new_key(
        config: Config, db: Database, dispatcher: Dispatcher, emulator: SlackEmulator,
        capsys: pytest.CaptureFixture[str]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    port = free_port()
    before = replace(oauth_config(config, emulator, port), secret_keys=(old,))
    runtime = Runtime(before, db, dispatcher.registry, Dispatcher(dispatcher.registry, db, before))
    emulator.install_into(TEAM, TEAM_NAME, INSTALLER)
    server = start_background(runtime, build_app(runtime), port=port)
    try:
        done, _ = Front(server.url, emulator).install()
        assert done.status_code == 200
    finally:
        server.stop()
    (token,) = emulator.oauth.tokens(TEAM)

    assert rotate_secrets(replace(before, secret_keys=(new, old))) == 0
    assert "Re-encrypted 2 secrets" in capsys.readouterr().out  # the bot token, in its bot and installation rows
    with db.engine.connect() as connection:
        sealed = [row.bot_token for table in (SLACK_BOTS, SLACK_INSTALLATIONS)
                  for row in connection.execute(select(table.c.bot_token))]
    assert [SecretBox([new]).open(value) for value in sealed] == [token, token]  # the old key is no longer needed

    after = replace(before, secret_keys=(new,))
    messenger = make_messenger(Runtime(after, db, dispatcher.registry, Dispatcher(dispatcher.registry, db, after)))
    messenger.post(ConversationRef("slack", TEAM, "C2"), Reply(text="still here", ephemeral=False))
    assert emulator.calls("chat.postMessage")[-1].token == token


def test_two_processes_refreshing_the_same_token_both_get_the_new_one(bot: Bot, emulator: SlackEmulator) -> None:
    """A refresh token works once: the process whose refresh Slack refuses waits for the other's to be saved."""
    emulator.oauth.token_rotation = True
    emulator.oauth.first_token_lifetime = 10 * 60
    bot.install()
    emulator.oauth.refresh_delay = 0.3  # the first refresh is still on its way when the second is refused
    first, second = (installed_workspaces(bot.runtime, make_client(bot.runtime.config)) for _ in range(2))
    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(first.client_for, TEAM)
        time.sleep(0.05)
        other = pool.submit(second.client_for, TEAM)
        tokens = {one.result(10).token, other.result(10).token}
    refreshes = [c for c in emulator.calls("oauth.v2.access") if c.body.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 2  # both tried; Slack took the refresh token once
    assert tokens == {emulator.oauth.tokens(TEAM)[-1]} and len(emulator.oauth.tokens(TEAM)) == 2


# -- one workspace ------------------------------------------------------------------------------------

def test_single_workspace_mode_serves_no_install_routes(config: Config, db: Database, dispatcher: Dispatcher,
                                                        emulator: SlackEmulator) -> None:
    cfg = replace(config, slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=emulator.url)
    runtime = Runtime(cfg, db, dispatcher.registry, dispatcher)
    server = start_background(runtime, build_app(runtime, client=make_client(cfg)))
    try:
        assert requests.get(server.url + "/slack/install", timeout=10, allow_redirects=False).status_code == 404
        messenger = make_messenger(runtime)
        assert isinstance(messenger, SlackMessenger)
        messenger.post(ConversationRef("slack", "T1", "C1"), Reply(text="hi", ephemeral=False))
        assert emulator.calls("chat.postMessage")[-1].token == "xoxb-test"
    finally:
        server.stop()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM slack_bots")).scalar_one() == 0


# -- production processes -----------------------------------------------------------------------------

def healthy(process: BotProcess) -> bool:
    try:
        return process.get("/healthz")[0] == 200
    except TimeoutError:  # a busy machine: ask again
        return False


def test_gunicorn_installs_and_a_worker_process_answers_with_the_workspace_token(
        tmp_path: Path, db: Database, database_url: str, emulator: SlackEmulator) -> None:
    """Two gunicorn workers serve the installs (states live in the database, so whichever worker gets the
    redirect can consume the state another issued); a ``bot worker`` process answers the new workspace's command
    and delivers its outbox post, both with that workspace's token."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RAD_", "DATABASE_", "DISCORD_"))}
    env.update({"RAD_DATA_DIR": str(tmp_path / "data"), "PORT": str(port), "DATABASE_URL": database_url,
                "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": emulator.url,
                "SLACK_CLIENT_ID": emulator.oauth.client_id, "SLACK_CLIENT_SECRET": emulator.oauth.client_secret,
                "RAD_PUBLIC_URL": f"http://127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "RAD_WEB_THREADS": "2",
                "RAD_SECRET_KEY": Fernet.generate_key().decode()})
    emulator.install_into(TEAM, TEAM_NAME, INSTALLER)
    with started([sys.executable, "-m", "gunicorn", "-c", "python:bot.prefork"], env) as web:
        process = BotProcess(web, port, emulator, None)  # type: ignore[arg-type]
        wait_until(lambda: web.poll() is not None or healthy(process), 60, "/healthz")
        assert web.poll() is None, process.output()
        bot = Front(process.url, emulator)
        for _ in range(3):  # several installs, so both gunicorn workers are likely to serve a step
            done, _back = bot.install()
            assert done.status_code == 200, done.text
        token = emulator.oauth.tokens(TEAM)[-1]
        answer, hook = bot.command("whoami <@U778>")
        assert answer.status_code == 200
        with db.unit_of_work() as session:
            post_later(session, "process:hello", "Hello from a worker process.",
                       where=ConversationRef("slack", TEAM, "C2"))
        with started([sys.executable, "-m", "bot", "worker"], env) as worker:
            reply = emulator.wait_for(hook, timeout=30)[0].body
            wait_until(lambda: bool(emulator.messages("C2")), 30, "the outbox post")
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        logs = BotProcess(worker, port, emulator, None).output()  # type: ignore[arg-type]
        assert "@U778|u778" in reply["text"], logs
        assert {c.token for c in emulator.calls("users.info")} == {token}
        assert [c.token for c in emulator.calls("chat.postMessage")] == [token]
        web.send_signal(signal.SIGTERM)
        wait_until(lambda: web.poll() is not None, 30, "gunicorn to stop")
        assert_hidden(emulator, process.output(), logs)
