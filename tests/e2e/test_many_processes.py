"""Several processes on one database: two ``web``, two ``worker`` and one ``clock``, driven by many users at once.

Every user double-clicks Confirm (each click to a different web process) and asks ``whoami`` meanwhile; the
clock finds three digest periods that ended while it was down; on PostgreSQL every connection is dropped while
deployments run (a restart) and the users ask again. Whatever process acks or runs what, each request is
answered once, each deployment is charged once and posted once, and each period's digest goes out once. On
PostgreSQL (CI's second run) the workers are woken by ``LISTEN/NOTIFY``; on SQLite they poll.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select, text

from bot.demo import seed
from commands.framework.dispatch import Dispatcher
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.conversations import ConversationRef
from core.credits.ledger import check_balances
from core.deployments.status import DeploymentStatus
from core.secrets import load_keys
from storage.db import Database
from storage.models import CreditAccount, CreditTransaction, Deployment, DigestPost, DigestTarget, Job, JobStatus
from storage.models.states import DigestPostStatus
from tests.emulators.slack import SlackEmulator
from tests.integration.test_deploy import deploy_button
from tests.support.processes import ROOT, free_port, started, wait_until
from tests.support.slack_support import slack_stamp

SECRET = "many-processes-signing-secret"
TEAM, USERS, COST = "T1", 10, Decimal(50)
ADMIN = Caller(IdentityKey("slack", TEAM, "UADMIN"), "Ada")
DIGEST_CHANNEL = "CDIGEST"
MISSED_DAYS = 3


class Web:
    """A ``web`` process's ``POST /slack/events``, signed as Slack signs it."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=5) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def post(self, body: str) -> int:
        stamp = str(int(time.time()))
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body) or ""
        request = urllib.request.Request(self.url + "/slack/events", data=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)


def command(user: str, text: str, hook_url: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": TEAM, "team_domain": "rad", "channel_id": "C1", "channel_name": "general",
        "user_id": user, "user_name": user.lower(), "command": "/rad", "text": text, "api_app_id": "A1",
        "response_url": hook_url, "trigger_id": f"trig.{uuid.uuid4().hex}"})


def click(user: str, action_id: str, value: str, channel: str, hook_url: str) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions", "team": {"id": TEAM, "domain": "rad"}, "api_app_id": "A1", "token": "legacy",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "trigger_id": f"trig.{uuid.uuid4().hex}", "response_url": hook_url,
        "container": {"type": "message", "message_ts": "1700000005.000100", "channel_id": channel,
                      "is_ephemeral": True},
        "channel": {"id": channel, "name": channel.lower()},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                     "text": {"type": "plain_text", "text": "Confirm"}, "action_ts": slack_stamp()}]}
    return "payload=" + urllib.parse.quote(json.dumps(payload))


def process(role: list[str], env: dict[str, str], log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """``python -m bot <role>``, its output in ``log``; SIGTERM on exit (it must stop cleanly)."""
    return started([sys.executable, "-m", "bot", *role], env, log=log)


def settled(db: Database) -> bool:
    """Every deployment finished and no job left to run."""
    with db.unit_of_work() as session:
        busy = session.scalar(select(func.count()).select_from(Deployment).where(
            Deployment.status.not_in((DeploymentStatus.SUCCESS, DeploymentStatus.FAILURE))))
        waiting = session.scalar(select(func.count()).select_from(Job).where(
            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))))
        posts = session.scalar(select(func.count()).select_from(DigestPost).where(
            DigestPost.status == DigestPostStatus.POSTED))
    return busy == 0 and waiting == 0 and posts == MISSED_DAYS


def working(db: Database) -> bool:
    with db.unit_of_work() as session:
        return bool(session.scalar(select(func.count()).select_from(Deployment).where(
            Deployment.status == DeploymentStatus.WORKING)))


def drop_every_connection(db: Database) -> int:
    """Terminate every other connection to the test database, as a PostgreSQL restart does; how many."""
    with db.engine.connect() as connection:
        dropped = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    return int(dropped)


def wait_or_show(check: Callable[[], bool], timeout: float, what: str, logs: Path) -> None:
    try:
        wait_until(check, timeout, what)
    except TimeoutError as error:
        said = "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-2500:]}" for path in logs.iterdir())
        raise AssertionError(f"{error}; the processes said:\n{said}") from None


@pytest.mark.timeout(400)  # five processes start, ten deployments run; the waits below say what was late
def test_two_web_two_workers_one_clock_answer_charge_and_post_once(
        dispatcher: Dispatcher, db: Database, config: Config, tmp_path: Path) -> None:
    seed(db, dispatcher.services, ADMIN)
    users = [f"U{n:03d}" for n in range(USERS)]
    tokens = {}
    for user in users:
        caller = Caller(IdentityKey("slack", TEAM, user), user.lower())
        dispatcher.run_text(caller, "whoami")
        dispatcher.run_text(ADMIN, f"admin credits <@{user}> award 80 start")
        tokens[user] = deploy_button(dispatcher, caller, "network-plan", {"network_name": f"net-{user.lower()}"})
    with db.unit_of_work() as session:
        before = {account.user_id: account.awarded + account.purchased
                  for account in session.scalars(select(CreditAccount))}
    dispatcher.run_text(ADMIN, "admin digest here daily", where=ConversationRef("slack", TEAM, DIGEST_CHANNEL))
    with db.unit_of_work() as session:  # the target was set three days ago and the clock has been down since
        target = session.scalars(select(DigestTarget)).one()
        target.starts_at -= timedelta(days=MISSED_DAYS)

    logs = tmp_path / "logs"
    logs.mkdir()
    with SlackEmulator() as slack, ExitStack() as running:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RAD_", "DATABASE_", "DISCORD_"))}
        env.update({"DATABASE_URL": config.effective_database_url, "RAD_ADMINS": str(ADMIN.key),
                    "RAD_SECRET_KEY": ",".join(load_keys(config.secret_keys, config.data_dir)),
                    "SLACK_BOT_TOKEN": "xoxb-many-processes", "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": slack.url, "RAD_SANDBOX_NETWORK": "off", "RAD_LOG_LEVEL": "INFO",
                    "GITHUB_API_URL": "http://127.0.0.1:9/none", "PYTHONPATH": str(ROOT)})
        webs = []
        for name in ("web-a", "web-b"):
            port = free_port()
            running.enter_context(process(["web"], {**env, "PORT": str(port), "RAD_DATA_DIR": str(tmp_path / name)},
                                          logs / f"{name}.log"))
            webs.append(Web(port))
        for name in ("worker-a", "worker-b"):
            running.enter_context(process(["worker", "--threads", "2"], {**env, "RAD_DATA_DIR": str(tmp_path / name)},
                                          logs / f"{name}.log"))
        wait_or_show(lambda: all(web.healthy() for web in webs), 60, "both web processes", logs)

        def act(n: int) -> list[int]:
            """User ``n`` double-clicks Confirm, once on each web process, and asks whoami on both."""
            user, first, second = users[n], webs[n % 2], webs[(n + 1) % 2]
            channel = f"CDEP{n:02d}"
            return [first.post(click(user, "deploy:confirm", tokens[user], channel, slack.webhook_url(f"c1-{user}"))),
                    second.post(click(user, "deploy:confirm", tokens[user], channel, slack.webhook_url(f"c2-{user}"))),
                    first.post(command(user, "whoami", slack.webhook_url(f"w1-{user}"))),
                    second.post(command(user, "whoami", slack.webhook_url(f"w2-{user}")))]

        with ThreadPoolExecutor(USERS) as pool:
            answers = list(pool.map(act, range(USERS)))
        assert answers == [[200, 200, 200, 200]] * USERS  # every request acked at once by whichever web took it
        if db.is_postgres:  # PostgreSQL restarts under load: every connection of every process is dropped
            wait_or_show(lambda: working(db), 120, "a deployment being run", logs)
            assert drop_every_connection(db) >= 4
            with ThreadPoolExecutor(USERS) as pool:
                again = list(pool.map(lambda n: webs[n % 2].post(
                    command(users[n], "whoami", slack.webhook_url(f"w3-{users[n]}"))), range(USERS)))
            assert again == [200] * USERS  # the web processes reconnected
        running.enter_context(process(["clock"], {**env, "RAD_DATA_DIR": str(tmp_path / "clock")},
                                      logs / "clock.log"))
        wait_or_show(lambda: settled(db), 240, "every deployment, job and missed digest", logs)
        time.sleep(2)  # anything sent twice would arrive now
        slack.check()

        for user in users:  # each request answered once
            for hook in (f"w1-{user}", f"w2-{user}", *([f"w3-{user}"] if db.is_postgres else [])):
                said = slack.calls(f"/webhook/{hook}")
                assert len(said) == 1 and user.lower() in json.dumps(said[0].body), (hook, said)
            assert len(slack.calls(f"/webhook/c1-{user}")) + len(slack.calls(f"/webhook/c2-{user}")) <= 2
        posted = Counter(str(call.body.get("channel")) for call in slack.calls("chat.postMessage"))
        for n in range(USERS):  # one status message per deployment (then edited), one result in its thread
            channel = f"CDEP{n:02d}"
            assert posted[channel] == 2, [str(call.body)[:300] for call in slack.calls("chat.postMessage")
                                          if call.body.get("channel") == channel]
        assert posted[DIGEST_CHANNEL] == MISSED_DAYS, posted  # each missed period's digest once

    with db.unit_of_work() as session:
        deployments = session.execute(select(Deployment.owner_id, Deployment.status, Deployment.charged)).all()
        assert len(deployments) == USERS  # the second click of each double-click deployed nothing
        assert {(status, charged) for _, status, charged in deployments} == {(DeploymentStatus.SUCCESS, True)}
        spends = Counter(session.scalars(select(CreditTransaction.user_id).where(
            CreditTransaction.kind == "SPEND")))
        assert sorted(spends.values()) == [1] * USERS  # charged once each
        for account in session.scalars(select(CreditAccount).where(
                CreditAccount.user_id.in_([owner for owner, _, _ in deployments]))):
            assert account.awarded + account.purchased == before[account.user_id] - COST and account.held == 0
        assert check_balances(session) == []  # every balance equals the sum of its ledger rows
        digests = session.scalars(select(DigestPost).order_by(DigestPost.period_start)).all()
        assert [(post.status, post.late) for post in digests] == [(DigestPostStatus.POSTED, True)] * MISSED_DAYS
        assert len({post.period_start for post in digests}) == MISSED_DAYS
