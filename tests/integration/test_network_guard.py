"""No network inside a transaction: GitHub, Jules and the Slack messenger refuse to call out while this
thread holds a begun database transaction, and nothing reaches the other side."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import select, text

from bot.discord.messenger import DiscordMessenger
from bot.slack.app import make_client
from bot.slack.messenger import SlackMessenger
from commands.ui.model import Reply
from core.accounts.identity import IdentityKey
from core.config import Config
from core.conversations import ConversationRef
from core.network import NetworkInTransaction, assert_no_transaction
from core.services import Services
from storage.db import Database, transaction_open
from storage.models import User
from tests.emulators.github import GitHubEmulator
from tests.emulators.jules import JulesEmulator
from tests.emulators.slack import SlackEmulator
from tests.support.slack_support import slack_config


def test_a_begun_transaction_is_open_until_its_unit_of_work_ends(db: Database) -> None:
    assert not transaction_open()
    with db.unit_of_work() as session:
        assert not transaction_open()  # a session that has not touched the database holds no transaction
        session.execute(text("SELECT 1"))
        assert transaction_open()
        with session.begin_nested():
            session.execute(select(User))
        assert transaction_open()  # the end of a savepoint is not the end of the transaction
        session.commit()
        assert not transaction_open()
        session.execute(text("SELECT 1"))
        assert transaction_open()
    assert not transaction_open()


def test_a_failed_unit_of_work_closes_its_transaction(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.unit_of_work() as session:
        session.execute(text("SELECT 1"))
        raise ZeroDivisionError
    assert not transaction_open()
    assert_no_transaction("nothing")


def test_only_the_thread_holding_the_transaction_is_refused(db: Database) -> None:
    began, done = threading.Event(), threading.Event()

    def hold() -> None:
        with db.unit_of_work() as session:
            session.execute(text("SELECT 1"))
            began.set()
            done.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert began.wait(10)
        assert not transaction_open()
        assert_no_transaction("another thread's call")
    finally:
        done.set()
        holder.join(10)


def test_github_refuses_inside_a_transaction_and_sends_nothing(db: Database, services: Services,
                                                                github: GitHubEmulator) -> None:
    token = github.add_token("pat")
    client = services.github()
    with db.unit_of_work() as session:
        session.execute(select(User))
        with pytest.raises(NetworkInTransaction, match=r"GitHubClient \(check your token\)"):
            client.check_token(token)
    assert github.count() == 0
    assert client.check_token(token).login == "pat"  # the same call once the transaction is over
    assert github.count() == 1


def test_jules_refuses_inside_a_transaction_and_sends_nothing(db: Database, services: Services,
                                                               jules: JulesEmulator) -> None:
    key = jules.add_key()
    with services.jules(key) as client:
        with db.unit_of_work() as session:
            session.execute(select(User))
            with pytest.raises(NetworkInTransaction, match=r"JulesClient \(list sources\)"):
                client.list_sources()
        assert jules.calls() == []
        assert client.list_sources() == []
    assert len(jules.calls()) == 1


def test_the_slack_messenger_refuses_inside_a_transaction(db: Database, config: Config) -> None:
    where = ConversationRef("slack", "T1", "C1")
    with SlackEmulator() as slack:
        messenger = SlackMessenger(make_client(slack_config(config, slack)))
        with db.unit_of_work() as session:
            session.execute(select(User))
            with pytest.raises(NetworkInTransaction, match=r"SlackMessenger\.post"):
                messenger.post(where, Reply(text="hello"))
        assert slack.calls("/chat.postMessage") == []
        posted = messenger.post(where, Reply(text="hello"))
        assert posted.message and len(slack.calls("/chat.postMessage")) == 1


def test_the_discord_messenger_refuses_inside_a_transaction_before_any_connection(db: Database,
                                                                                   config: Config) -> None:
    messenger = DiscordMessenger(config)
    where = ConversationRef("discord", "G1", "100000000000000001")
    with db.unit_of_work() as session:
        session.execute(select(User))
        for call, name in ((lambda: messenger.post(where, Reply(text="hi")), "post"),
                           (lambda: messenger.edit(replace(where, message="2"), Reply(text="hi")), "edit"),
                           (lambda: messenger.notify(IdentityKey("discord", "", "3"), Reply(text="hi")), "notify")):
            with pytest.raises(NetworkInTransaction, match=rf"DiscordMessenger\.{name}"):
                call()
    assert messenger._own_loop is None  # refused before logging in or opening a connection
