"""Buying credits end to end, through every front door, against the Stripe emulator and the real ``stripe`` library.

A user types ``/rad credits buy 25``, sees what it buys and a Pay button to the Checkout page; the emulator
plays the customer paying; its signed webhooks reach ``POST /stripe/webhook`` repeated and out of order; the
credits land once, a direct message says so, and the offer's Check payment button shows it paid.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.console import Console, console_caller
from bot.demo import seed
from bot.discord.messenger import DiscordMessenger
from bot.runtime import Runtime
from bot.slack.app import make_client
from bot.slack.messenger import SlackMessenger
from bot.web import BackgroundServer, start_background
from bot.worker import Worker
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.framework.messenger import Messenger
from commands.handlers.notify import POST_KIND
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.conversations import ConversationRef
from core.credits import service as credits
from core.credits.ledger import check_balances
from core.services import Services
from core.settings import store
from storage.db import Database
from storage.models import Base, ChatIdentity, CreditTransaction, Job, Purchase, PurchaseStatus, User
from tests.emulators.stripe import StripeEmulator
from tests.support import discord_harness as dh
from tests.support.front_door import (
    WORKING,
    DiscordDoor,
    FrontDoor,
    Person,
    Reply,
    SlackDoor,
    door,
    door_registry,
    hook_answer,
    plain,
)
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

KEY, SECRET = "sk_test_e2e_key_never_shown", "whsec_e2e_secret_never_shown"
BUYER = Person("buyer")
D = Decimal


@pytest.fixture
def stripe_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator(api_key=KEY, webhook_secret=SECRET) as running:
        yield running


@pytest.fixture
def config(config: Config, stripe_emulator: StripeEmulator) -> Config:
    """The test configuration with payments configured against the emulator."""
    return replace(config, stripe_api_key=KEY, stripe_webhook_secret=SECRET, stripe_api_url=stripe_emulator.url,
                   public_url="https://rad.example")


@pytest.fixture
def services(config: Config) -> Services:
    return Services(config, stripe_options={"retries": 1, "backoff": 0.01, "timeout": 2.0})


@pytest.fixture
def webhook(db: Database, config: Config, stripe_emulator: StripeEmulator) -> Iterator[BackgroundServer]:
    """The bot's web server (``POST /stripe/webhook``), where the emulator delivers its events."""
    registry = load_registry()
    server = start_background(Runtime(config, db, registry, Dispatcher(registry, db, config)), None)
    stripe_emulator.webhook_url = f"{server.url}/stripe/webhook"
    yield server
    server.stop()


@pytest.fixture
def buying(db: Database) -> None:
    """Buying switched on at 100 credits per dollar."""
    with db.unit_of_work() as s:
        store.put(s, "enable_subscription", True)
        store.put(s, "credits_per_unit", "100")


async def slow(door: FrontDoor, words: str, args: dict[str, Any] | None = None, *, user: Person = BUYER) -> Reply:
    """A slow command's answer: on Slack the outcome that replaces the "working on it" placeholder."""
    return outcome(door, await door.command(words, args, user=user))


def outcome(door: FrontDoor, first: Reply) -> Reply:
    """The outcome of a slow request: on Slack the second post to its response_url, after the placeholder."""
    if isinstance(door, SlackDoor) and WORKING in first.text:
        return door._as_reply(door.harness.reply(hook_answer(str(first.source)), 2), str(first.source))
    return first


def links(door: FrontDoor, reply: Reply) -> list[str]:
    """The addresses of the link buttons of a reply (Slack url buttons, Discord link-style buttons)."""
    if door.platform == "slack":
        return [str(e["url"]) for b in reply.raw.get("blocks") or [] if b.get("type") == "actions"
                for e in b.get("elements") or [] if e.get("url")]
    message = reply.source if isinstance(reply.source, dict) else {}
    return [str(c["url"]) for c in dh.components_of(message) if c.get("style") == 5]


def buyer_id(db: Database) -> int:
    with db.unit_of_work() as s:
        return s.scalars(select(ChatIdentity.user_id).where(ChatIdentity.external_id.like("%BUYER%")
                                                            | ChatIdentity.external_id.like("91%"))).one()


def purchased(db: Database, uid: int) -> Decimal:
    with db.unit_of_work() as s:
        return credits.balance(s, s.get_one(User, uid)).purchased


async def deliver_outbox(door: FrontDoor) -> None:
    """Run the worker over the outbox, as the worker process does (the direct messages)."""
    assert isinstance(door, SlackDoor | DiscordDoor)
    runtime = door.harness.runtime
    messenger: Messenger = SlackMessenger(make_client(runtime.config)) if isinstance(door, SlackDoor) \
        else DiscordMessenger(runtime.config)
    worker = Worker(runtime, {door.platform: messenger})
    try:
        while await asyncio.to_thread(worker.run_once):
            pass
    finally:
        if isinstance(messenger, DiscordMessenger):
            await asyncio.to_thread(messenger.close)


def direct_messages(door: FrontDoor) -> list[str]:
    """What the bot sent the buyer privately."""
    user = door.identity(BUYER).external_id
    if isinstance(door, SlackDoor):
        return [str(c.body.get("text", "")) for c in door.harness.emulator.calls("chat.postMessage")
                if c.body.get("channel") == user]
    assert isinstance(door, DiscordDoor)
    channel = door.harness.emulator.dm_channel_id(user)
    return [str((c.json or {}).get("content", ""))
            for c in door.harness.emulator.find("POST", rf"/channels/{channel}/messages")]


def edited_offer(door: FrontDoor) -> str:
    """The text the offer's direct message was edited to."""
    user = door.identity(BUYER).external_id
    if isinstance(door, SlackDoor):
        [update] = door.harness.emulator.calls("chat.update")
        assert update.body["channel"] == user
        return str(update.body.get("text", ""))
    assert isinstance(door, DiscordDoor)
    channel = door.harness.emulator.dm_channel_id(user)
    [edit] = door.harness.emulator.find("PATCH", rf"/channels/{channel}/messages/\d+")
    return str((edit.json or {}).get("content", ""))


def offer_links(door: FrontDoor) -> list[str]:
    """The link buttons the buyer's direct messages show now."""
    user = door.identity(BUYER).external_id
    if isinstance(door, SlackDoor):
        return [str(e["url"]) for m in door.harness.emulator.messages(user) for b in m.get("blocks") or []
                if b.get("type") == "actions" for e in b.get("elements") or [] if e.get("url")]
    assert isinstance(door, DiscordDoor)
    channel = door.harness.emulator.dm_channel_id(user)
    return [str(c["url"]) for m in door.harness.emulator.messages.values() if m.get("channel_id") == channel
            for c in dh.components_of(m) if c.get("style") == 5]


def session_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def database_text(db: Database) -> str:
    """Every row of every table, as text (to look for secrets in)."""
    with db.engine.connect() as connection:
        return "\n".join(repr(row) for table in Base.metadata.sorted_tables
                         for row in connection.execute(table.select()))


async def test_a_purchase_is_paid_once_through_checkout_whatever_stripe_delivers(
        door: FrontDoor, db: Database, stripe_emulator: StripeEmulator, webhook: BackgroundServer,
        buying: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    offer = await slow(door, "credits buy", {"amount": "25"})
    assert "25.00 USD buys 2,500 credits" in offer.text and offer.private
    [pay] = links(door, offer)
    session_id = session_of(pay)
    assert pay == stripe_emulator.sessions[session_id]["url"]
    uid = buyer_id(db)
    assert stripe_emulator.sessions[session_id]["metadata"]["rad_user"] == str(uid)
    assert purchased(db, uid) == 0

    await deliver_outbox(door)
    [dm_offer] = direct_messages(door)
    assert "Your payment page: 25.00 USD for 2,500 credits" in plain(dm_offer)
    assert offer_links(door) == [pay], "the offer waits in the direct messages too, with its Pay button"

    [completed] = stripe_emulator.pay(session_id)
    retried = {**completed, "id": "evt_stripe_retry"}
    assert stripe_emulator.deliver(completed, times=3) == [200, 200, 200]
    assert stripe_emulator.deliver(retried) == [200]
    assert purchased(db, uid) == D(2500)
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(CreditTransaction)
                        .where(CreditTransaction.kind == "PURCHASE")) == 1
        assert check_balances(s) == []

    await deliver_outbox(door)
    [_, told] = direct_messages(door)
    assert "Payment received: 2,500 purchased credits were added for 25.00 USD" in told
    assert "Paid: 25.00 USD; 2,500 purchased credits were added." in plain(edited_offer(door))
    assert offer_links(door) == [], "the offer message says it is paid and no longer offers to pay"

    paid = await door.click(offer, "Check payment", user=BUYER)
    assert paid.replaced and "Paid: 25.00 USD; 2,500 purchased credits were added." in paid.text
    assert links(door, paid) == [], "the Pay button is gone once the purchase is paid"
    for seen in (door.sent(), caplog.text, database_text(db)):
        assert KEY not in seen and SECRET not in seen


async def test_bad_amounts_and_stripe_being_down_are_answered_clearly_and_nothing_stays_pending(
        door: FrontDoor, db: Database, stripe_emulator: StripeEmulator, buying: None) -> None:
    for typed, says in (("-5", "is not an amount of money"), ("abc", "is not an amount of money"),
                        ("0", "The smallest purchase is 10.00 USD"), ("9.999", "is not an amount of money"),
                        ("5000000", "is more than one purchase may be")):
        answer = await slow(door, "credits buy", {"amount": typed})
        assert says in answer.text, (typed, answer.text)
    assert stripe_emulator.calls() == []
    stripe_emulator.fail(503, times=4)
    down = await slow(door, "credits buy", {"amount": "10"})
    assert "Stripe is not answering" in down.text and "Nothing was charged" in down.text
    with db.unit_of_work() as s:
        [row] = s.scalars(select(Purchase))
        assert row.status is PurchaseStatus.FAILED
    assert KEY not in door.sent()


async def test_a_subscription_is_credited_once_per_paid_invoice_and_ends_at_the_period_end(
        door: FrontDoor, db: Database, stripe_emulator: StripeEmulator, webhook: BackgroundServer,
        buying: None) -> None:
    price = stripe_emulator.add_price(2900)
    added = await door.command("admin tiers", {"name": "Pro", "price": "29", "credits": "3000",
                                               "price_id": price["id"]})
    assert "Added the tier Pro: 29.00 USD a month, 3,000 credits" in added.text
    tiers = await door.command("credits subscription", user=BUYER)
    subscribe = outcome(door, await door.click(tiers, "Subscribe to Pro", user=BUYER))
    assert "29.00 USD a month" in subscribe.text
    [pay] = links(door, subscribe)
    session_id = session_of(pay)
    assert stripe_emulator.sessions[session_id]["mode"] == "subscription"
    created, invoice, completed = stripe_emulator.pay(session_id)
    for event in (invoice, completed, invoice, created, completed):  # out of order and repeated
        assert stripe_emulator.deliver(event) == [200]
    uid = buyer_id(db)
    assert purchased(db, uid) == D(3000)
    subscription_id = stripe_emulator.sessions[session_id]["subscription"]
    [renewal] = stripe_emulator.renew(subscription_id)
    assert stripe_emulator.deliver(renewal, times=2) == [200, 200]
    assert purchased(db, uid) == D(6000)

    shown = await door.command("credits subscription", user=BUYER)
    assert "Your subscription: Pro" in shown.text and "renews on" in shown.text
    ended = outcome(door, await door.click_danger(shown, user=BUYER))
    assert "Your subscription ends on" in ended.text
    assert stripe_emulator.subscriptions[subscription_id]["cancel_at_period_end"] is True


def test_a_bad_or_stale_signature_is_refused_and_adds_nothing(db: Database, config: Config, services: Services,
                                                              stripe_emulator: StripeEmulator,
                                                              webhook: BackgroundServer, buying: None) -> None:
    dispatcher = Dispatcher(load_registry(), db, config, services=services)
    caller = Caller(IdentityKey("slack", "T1", "UBUYER"), "Buyer")
    dispatcher.run_text(caller, "credits buy 10")
    with db.unit_of_work() as s:
        purchase = s.scalars(select(Purchase)).one()
        session_id, uid = str(purchase.session_id), purchase.user_id
    [completed] = stripe_emulator.pay(session_id)
    assert stripe_emulator.deliver(completed, secret="whsec_forged") == [400]
    assert stripe_emulator.deliver(completed, timestamp=int(time.time()) - 3600) == [400]
    assert purchased(db, uid) == 0
    [refund] = stripe_emulator.refund(session_id, 400)
    assert stripe_emulator.deliver(refund) == [503], "a refund that overtook its payment is asked again later"
    assert stripe_emulator.deliver(completed) == [200]
    assert purchased(db, uid) == D(1000)
    assert stripe_emulator.deliver(refund, times=2) == [200, 200]
    assert purchased(db, uid) == D(600)


def test_buying_without_stripe_configured_names_the_variables(db: Database, config: Config, buying: None) -> None:
    bare = replace(config, stripe_api_key="", stripe_webhook_secret="")
    answer = Dispatcher(load_registry(), db, bare).run_text(Caller(IdentityKey("slack", "T1", "UX"), "X"),
                                                            "credits buy 10")
    assert answer is not None and not isinstance(answer, list)
    text = getattr(answer, "text", "")
    assert "Payments are not configured" in text and "STRIPE_API_KEY" in text and "STRIPE_WEBHOOK_SECRET" in text


def test_the_checkout_return_pages_say_the_tab_can_be_closed(webhook: BackgroundServer) -> None:
    import urllib.request

    for path, says in (("/stripe/success?session_id=cs_test_<script>", "Thank you"),
                       ("/stripe/cancel", "Nothing was charged")):
        with urllib.request.urlopen(f"{webhook.url}{path}", timeout=5) as page:
            html = page.read().decode()
        assert says in html and "You can close this tab." in html and "<script>" not in html


async def test_a_credit_shortfall_carries_a_buy_button_that_leads_to_checkout(
        door: FrontDoor, db: Database, config: Config, stripe_emulator: StripeEmulator, buying: None) -> None:
    seed(db, Services(config), Caller(IdentityKey("console", "", "demo-admin"), "demo"))
    refused = await door.command("deploy", {"module": "data-bucket"}, user=BUYER)
    assert "short" in refused.text and "Buy credits with" in refused.text, refused.text
    choices = await door.click(refused, "Buy credits", user=BUYER)
    assert "How much would you like to buy?" in choices.text
    offer = outcome(door, await door.click(choices, "10.00 USD", user=BUYER))
    assert "10.00 USD buys 1,000 credits" in offer.text
    [pay] = links(door, offer)
    assert stripe_emulator.sessions[session_of(pay)]["amount_total"] == 1000


def test_the_console_prints_the_checkout_address_and_pressing_it_runs_nothing(
        db: Database, config: Config, services: Services, stripe_emulator: StripeEmulator, buying: None,
        tmp_path: Path) -> None:
    out = io.StringIO()
    answers = iter(["/rad credits buy 12.50", "1", "", "quit"])
    console = Console(Dispatcher(load_registry(), db, config, services=services), console_caller("console:ann"),
                      tmp_path / "files", read=lambda prompt: next(answers), read_secret=lambda prompt: "", out=out)
    console.loop()
    [session] = stripe_emulator.sessions.values()
    shown = out.getvalue()
    assert "*12.50 USD* buys *1,250 credits*" in shown
    assert f"[1] Pay 12.50 USD: {session['url']}" in shown
    assert f"Open this page in your browser: {session['url']}" in shown
    assert "no longer does anything" not in shown


def test_an_offer_not_yet_sent_when_the_payment_lands_goes_out_saying_it_is_paid(
        db: Database, config: Config, services: Services, stripe_emulator: StripeEmulator,
        webhook: BackgroundServer, buying: None) -> None:
    dispatcher = Dispatcher(load_registry(), db, config, services=services)
    dispatcher.run_text(Caller(IdentityKey("slack", "T1", "UBUYER"), "Buyer"), "credits buy 10",
                        where=ConversationRef("slack", "T1", "C1"))
    with db.unit_of_work() as s:
        session_id = str(s.scalars(select(Purchase)).one().session_id)
        [offer] = s.scalars(select(Job).where(Job.kind == POST_KIND))
        assert offer.payload["buttons"][0]["url"] == stripe_emulator.sessions[session_id]["url"]
    [completed] = stripe_emulator.pay(session_id)
    assert stripe_emulator.deliver(completed) == [200]
    with db.unit_of_work() as s:
        rewritten = s.get_one(Job, offer.id).payload
        assert "Paid: 10.00 USD" in rewritten["text"] and "buttons" not in rewritten
        assert s.scalar(select(func.count()).select_from(Job).where(Job.kind == POST_KIND)) == 2, \
            "the offer, rewritten, and the payment's direct message; no edit of a message never posted"
