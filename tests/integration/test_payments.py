"""Money from Stripe on a real database: each paid session and each paid invoice credited exactly once.

Checkout Sessions are opened with the real ``stripe`` library against the Stripe emulator; the events the
emulator makes are applied as the webhook applies them (``apply_stripe_event``), repeated, out of order and
concurrently. The ledger must always equal its transactions and the credits of the distinct paid sessions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from commands.handlers.notify import POST_KIND
from commands.handlers.payments import apply_stripe_event
from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import ADMIN, FINANCE, grant_role
from core.config import Config
from core.credits import service as credits
from core.credits.ledger import check_balances
from core.credits.offers import how_to_get_credits
from core.errors import InvalidInput, NotAllowed, RadError
from core.network import NetworkInTransaction
from core.payments import checkout, subscriptions, tiers
from core.payments.client import PaymentsNotConfigured, PaymentsUnavailable, StripeGateway
from core.payments.events import NotYet
from core.services import Services
from core.settings import platform, store
from storage.db import Database
from storage.models import CreditTransaction, Job, Purchase, PurchaseStatus, StripeEvent, Subscription, User, utcnow
from tests.emulators.stripe import StripeEmulator

KEY, SECRET = "sk_test_integration", "whsec_integration"
D = Decimal


@pytest.fixture
def stripe_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator(api_key=KEY) as emulator:
        yield emulator


@pytest.fixture
def paying(config: Config, stripe_emulator: StripeEmulator) -> Services:
    """Services whose Stripe client talks to the emulator, retrying fast."""
    cfg = replace(config, stripe_api_key=KEY, stripe_webhook_secret=SECRET, stripe_api_url=stripe_emulator.url,
                  public_url="https://rad.example")
    return Services(cfg, stripe_options={"retries": 2, "backoff": 0.01, "timeout": 1.0})


def setup(db: Database, *, per_unit: str = "100", on: bool = True) -> int:
    """Buying switched on, ``credits_per_unit`` set; a buyer, whose id is returned."""
    with db.unit_of_work() as s:
        store.put(s, "enable_subscription", on)
        store.put(s, "credits_per_unit", per_unit)
        return create_user(s, IdentityKey("slack", "T1", "UBUYER"), "Buyer").id


def purchased(db: Database, uid: int) -> Decimal:
    with db.unit_of_work() as s:
        return credits.balance(s, s.get_one(User, uid)).purchased


def sound(db: Database) -> None:
    with db.unit_of_work() as s:
        assert check_balances(s) == []


def buy(db: Database, services: Services, uid: int, amount: str = "25") -> Purchase:
    purchase, _ = checkout.buy(db, services, uid, amount, None)
    return purchase


def apply(db: Database, services: Services, event: dict[str, Any]) -> str:
    return apply_stripe_event(db, services.config, event).outcome


def test_a_purchase_opens_a_session_with_our_ids_and_return_pages(db: Database, paying: Services,
                                                                 stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    purchase = buy(db, paying, uid, "25")
    assert purchase.status is PurchaseStatus.OPEN and purchase.credits == D(2500)
    session = stripe_emulator.sessions[str(purchase.session_id)]
    assert session["metadata"] == {"rad_user": str(uid), "rad_credits": "2500.0000", "rad_purchase": purchase.key}
    assert session["amount_total"] == 2500 and session["currency"] == "usd" and session["mode"] == "payment"
    assert session["success_url"] == "https://rad.example/stripe/success?session_id={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == "https://rad.example/stripe/cancel"
    [call] = stripe_emulator.calls("/v1/checkout/sessions", "POST")
    assert call.idempotency_key == purchase.key
    assert purchased(db, uid) == 0, "nothing is credited before Stripe says paid"


@pytest.mark.parametrize("typed", ["-5", "0", "abc", "9.99", "0.001", "1e3", "100000.01", "99999999999", ""])
def test_amounts_that_are_not_a_sensible_purchase_are_refused_and_nothing_is_recorded(
        db: Database, paying: Services, stripe_emulator: StripeEmulator, typed: str) -> None:
    uid = setup(db)
    with pytest.raises(InvalidInput):
        buy(db, paying, uid, typed)
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Purchase)) == 0
    assert stripe_emulator.calls() == []


def test_buying_needs_the_setting_and_the_stripe_variables(db: Database, paying: Services, config: Config) -> None:
    uid = setup(db, on=False)
    with pytest.raises(NotAllowed, match="not switched on"):
        buy(db, paying, uid)
    with db.unit_of_work() as s:
        store.put(s, "enable_subscription", True)
        store.put(s, "enable_credits", False)
    with pytest.raises(NotAllowed):
        buy(db, paying, uid)
    with db.unit_of_work() as s:
        store.put(s, "enable_credits", True)
    with pytest.raises(PaymentsNotConfigured) as refused:
        buy(db, Services(config), uid)
    assert "STRIPE_API_KEY" in str(refused.value) and "STRIPE_WEBHOOK_SECRET" in str(refused.value)


def test_stripe_down_answers_clearly_and_leaves_no_purchase_pending(db: Database, paying: Services,
                                                                    stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    stripe_emulator.fail(503, times=3)
    with pytest.raises(PaymentsUnavailable, match="Stripe is not answering") as down:
        buy(db, paying, uid)
    assert KEY not in str(down.value)
    with db.unit_of_work() as s:
        [row] = s.scalars(select(Purchase))
        assert row.status is PurchaseStatus.FAILED and row.session_id is None
    stripe_emulator.fail(429, times=1)
    stripe_emulator.fail(500, times=1)
    assert buy(db, paying, uid).status is PurchaseStatus.OPEN, "429 and 5xx are retried with the same key"
    assert len(stripe_emulator.sessions) == 1


def test_a_timeout_is_retried_with_the_same_idempotency_key(db: Database, paying: Services,
                                                            stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    stripe_emulator.slow(1.5, times=1)
    purchase = buy(db, paying, uid)
    keys = {c.idempotency_key for c in stripe_emulator.calls("/v1/checkout/sessions", "POST")}
    assert keys == {purchase.key} and purchase.status is PurchaseStatus.OPEN


def test_the_stripe_client_refuses_to_run_inside_a_transaction(db: Database, paying: Services) -> None:
    with db.unit_of_work() as s:
        s.scalar(select(func.count()).select_from(User))
        with pytest.raises(NetworkInTransaction):
            paying.stripe().retrieve_checkout_session("cs_test_x")
    assert "sk_test" not in repr(paying.stripe())


def test_a_paid_session_is_credited_once_however_often_and_in_whatever_order_it_arrives(
        db: Database, paying: Services, stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    purchase = buy(db, paying, uid, "25")
    [completed] = stripe_emulator.pay(str(purchase.session_id))
    assert apply(db, paying, completed) == "credited"
    assert apply(db, paying, completed) == "repeated event"
    retried = {**completed, "id": "evt_retry_with_a_new_id"}
    assert apply(db, paying, retried) == "session already paid"
    assert purchased(db, uid) == D(2500)
    with db.unit_of_work() as s:
        assert s.get_one(Purchase, purchase.id).status is PurchaseStatus.PAID
        [row] = s.scalars(select(CreditTransaction).where(CreditTransaction.kind == "PURCHASE"))
        assert row.key == f"stripe:checkout:{purchase.session_id}" and row.purchased_delta == D(2500)
        [dm] = s.scalars(select(Job).where(Job.kind == POST_KIND))
        assert "2,500 purchased credits were added" in dm.payload["text"]
    sound(db)


def test_a_delayed_payment_is_credited_when_it_succeeds_and_never_when_it_fails(
        db: Database, paying: Services, stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    first, second = buy(db, paying, uid, "10"), buy(db, paying, uid, "20")
    [waiting] = stripe_emulator.pay(str(first.session_id), delayed=True)
    [succeeded] = stripe_emulator.settle_delayed(str(first.session_id))
    assert apply(db, paying, succeeded) == "credited", "the success may come before the completion"
    assert apply(db, paying, waiting) == "session already paid"
    [pending] = stripe_emulator.pay(str(second.session_id), delayed=True)
    [failed] = stripe_emulator.settle_delayed(str(second.session_id), succeeded=False)
    assert apply(db, paying, pending) == "waiting for a delayed payment"
    assert apply(db, paying, failed) == "failed"
    assert purchased(db, uid) == D(1000)
    with db.unit_of_work() as s:
        assert s.get_one(Purchase, second.id).status is PurchaseStatus.FAILED
    sound(db)


def test_an_expired_session_adds_nothing_and_a_late_completion_of_it_is_not_credited(
        db: Database, paying: Services, stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    purchase = buy(db, paying, uid)
    [expired] = stripe_emulator.expire(str(purchase.session_id))
    assert apply(db, paying, expired) == "expired"
    with db.unit_of_work() as s:
        assert s.get_one(Purchase, purchase.id).status is PurchaseStatus.EXPIRED
    assert purchased(db, uid) == 0


def test_events_for_unknown_sessions_users_or_types_are_recorded_and_change_nothing(
        db: Database, paying: Services, stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    purchase = buy(db, paying, uid)
    [completed] = stripe_emulator.pay(str(purchase.session_id))
    stranger = {**completed, "id": "evt_stranger", "data": {"object": {
        **completed["data"]["object"], "id": "cs_test_other", "metadata": {"rad_purchase": "nobody",
                                                                           "rad_user": "999999"}}}}
    assert apply(db, paying, stranger) == "unknown session"
    forged = {**completed, "id": "evt_forged", "data": {"object": {
        **completed["data"]["object"], "id": "cs_test_forged"}}}
    assert apply(db, paying, forged) == "unknown session", "a session id that is not the purchase's is refused"
    assert apply(db, paying, {"id": "evt_x", "type": "customer.created", "data": {"object": {}}}) == "ignored"
    assert apply(db, paying, {"id": "evt_y", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}) \
        == "unknown subscription"
    assert purchased(db, uid) == 0
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(StripeEvent)) == 4


def test_a_refund_takes_back_what_is_left_and_records_what_was_already_spent(
        db: Database, paying: Services, stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    purchase = buy(db, paying, uid, "20")
    [completed] = stripe_emulator.pay(str(purchase.session_id))
    apply(db, paying, completed)
    with db.unit_of_work() as s:
        user = s.get_one(User, uid)
        credits.hold(s, user, D(1500), key="deploy-1")
        credits.spend(s, "deploy-1")
    [part] = stripe_emulator.refund(str(purchase.session_id), 250)
    assert apply(db, paying, part) == "refunded"
    assert purchased(db, uid) == D(250), "2.50 of 20.00 is 250 of the 2,000 credits; 500 were left"
    [rest] = stripe_emulator.refund(str(purchase.session_id))
    assert apply(db, paying, rest) == "refunded in part", "1,750 more are due and only 250 are left"
    assert apply(db, paying, {**rest, "id": "evt_again"}) == "refund already recorded"
    assert purchased(db, uid) == D(0)
    with db.unit_of_work() as s:
        refunds = list(s.scalars(select(CreditTransaction).where(CreditTransaction.kind == "REFUND")
                                 .order_by(CreditTransaction.id)))
        assert [r.amount for r in refunds] == [D(250), D(250)]
        assert [r.purchased_delta for r in refunds] == [D(-250), D(-250)]
        assert "1,500 credits were already spent and could not be taken back" in refunds[1].description
        assert s.get_one(Purchase, purchase.id).refunded_credits == D(2000)
    sound(db)


def test_each_paid_invoice_adds_the_tier_credits_once_even_before_the_checkout_event(
        db: Database, paying: Services, stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    price = stripe_emulator.add_price(2900)
    with db.unit_of_work() as s:
        admin = create_user(s, IdentityKey("slack", "T1", "UFIN"), "Fin")
        grant_role(s, admin, FINANCE)
        tier, _ = tiers.save(s, admin, "Pro", "29", "3000", price["id"])
        tier_id = tier.id
    purchase = subscriptions.subscribe(db, paying, uid, tier_id, None)
    assert stripe_emulator.sessions[str(purchase.session_id)]["mode"] == "subscription"
    again = subscriptions.subscribe(db, paying, uid, tier_id, None)
    assert (again.id, again.checkout_url) == (purchase.id, purchase.checkout_url), "one open checkout, shown again"
    assert len(stripe_emulator.sessions) == 1
    created, invoice, completed = stripe_emulator.pay(str(purchase.session_id))
    assert apply(db, paying, invoice) == "credited", "invoice.paid may arrive before the checkout completes"
    assert apply(db, paying, invoice) == "repeated event"
    assert apply(db, paying, completed) == "subscribed"
    assert apply(db, paying, created) == "subscription active"
    assert purchased(db, uid) == D(3000)
    with db.unit_of_work() as s:
        [row] = s.scalars(select(Subscription))
        stripe_id = str(row.stripe_subscription_id)
        assert row.user_id == uid and row.status.value == "active"
    [renewal] = stripe_emulator.renew(stripe_id)
    assert apply(db, paying, renewal) == "credited"
    assert apply(db, paying, {**renewal, "id": "evt_retried_renewal"}) == "invoice already credited"
    assert purchased(db, uid) == D(6000)
    with pytest.raises(RadError, match="already have a subscription"):
        subscriptions.subscribe(db, paying, uid, tier_id, None)
    cancelled = subscriptions.cancel(db, paying, uid)
    assert cancelled.status.value == "canceling"
    assert stripe_emulator.subscriptions[stripe_id]["cancel_at_period_end"] is True
    [update] = [e for e in stripe_emulator.events if e["type"] == "customer.subscription.updated"]
    assert apply(db, paying, update) == "subscription canceling"
    sound(db)


def test_concurrent_deliveries_of_one_paid_session_credit_it_once(db: Database, paying: Services,
                                                                  stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    purchase = buy(db, paying, uid, "25")
    [completed] = stripe_emulator.pay(str(purchase.session_id))
    events = [completed, {**completed, "id": "evt_b"}, {**completed, "id": "evt_c"}] * 4
    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(events))

    def deliver(event: dict[str, Any]) -> None:
        start.wait()
        for _ in range(20):  # SQLite may say "database is locked"; Stripe would retry the same way
            try:
                outcomes.append(apply(db, paying, event))
                return
            except Exception as error:
                last = error
        errors.append(last)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outcomes.count("credited") == 1 and len(outcomes) == len(events)
    assert purchased(db, uid) == D(2500)
    sound(db)


def test_tiers_are_managed_by_admins_and_finance_with_checked_fields(db: Database) -> None:
    with db.unit_of_work() as s:
        user = create_user(s, IdentityKey("slack", "T1", "UPLAIN"), "Plain")
        with pytest.raises(NotAllowed):
            tiers.save(s, user, "Pro", "29", "3000", "price_1")
        grant_role(s, user, ADMIN)
        for bad in (("", "29", "3000", "price_1"), ("Pro", "-1", "3000", "price_1"), ("Pro", "29", "x", "price_1"),
                    ("Pro", "29", "3000", "prod_1")):
            with pytest.raises(InvalidInput):
                tiers.save(s, user, *bad)
        tier, new = tiers.save(s, user, "Pro", "29", "3000", "price_1")
        again, new_again = tiers.save(s, user, "pro", "35", "4000", "price_1")
        assert (new, new_again, again.id, again.price) == (True, False, tier.id, D(35))
        tiers.switch(s, user, "PRO", False)
        assert tiers.active(s) == [] and len(tiers.every(s, user)) == 1


def test_a_shortfall_offers_buying_once_buying_is_on(db: Database) -> None:
    uid = setup(db, on=False)
    with db.unit_of_work() as s:
        assert how_to_get_credits(s, s.get_one(User, uid)).kind == "ask"
        store.put(s, "enable_subscription", True)
        offer = how_to_get_credits(s, s.get_one(User, uid))
        assert offer.kind == "buy" and "/rad credits buy" in offer.text


def test_the_gateway_needs_a_key(config: Config) -> None:
    with pytest.raises(PaymentsNotConfigured):
        StripeGateway.from_config(config)


def test_the_payment_settings_are_checked_and_subscriptions_need_credits(db: Database) -> None:
    with db.unit_of_work() as s:
        admin = create_user(s, IdentityKey("slack", "T1", "USET"), "Set")
        grant_role(s, admin, ADMIN)
        assert (platform.min_purchase(s), platform.currency(s), platform.subscription_enabled(s)) == \
            (D(10), "usd", False)
        platform.change(s, admin, "enable_credits", "false")
        with pytest.raises(InvalidInput, match="needs credits"):
            platform.change(s, admin, "enable_subscription", "true")
        platform.change(s, admin, "enable_credits", "true")
        platform.change(s, admin, "enable_subscription", "true")
        platform.change(s, admin, "currency", "EUR")
        platform.change(s, admin, "min_purchase", "5")
        for key, bad in (("currency", "euro"), ("currency", "12"), ("min_purchase", "0"), ("min_purchase", "-1")):
            with pytest.raises(InvalidInput):
                platform.change(s, admin, key, bad)
        assert (platform.min_purchase(s), platform.currency(s), platform.subscription_enabled(s)) == \
            (D(5), "eur", True)
        assert platform.SPECS["currency"].show("eur") == "EUR"


def test_a_purchase_left_creating_by_a_stopped_process_is_failed_at_the_next_one(
        db: Database, paying: Services) -> None:
    uid = setup(db)
    with db.unit_of_work() as s:
        left = Purchase(key="k-left", user_id=uid, amount=D(10), currency="usd", credits=D(1000),
                        status=PurchaseStatus.CREATING, created_at=utcnow() - timedelta(minutes=10))
        s.add(left)
        s.flush()
        left_id = left.id
    buy(db, paying, uid)
    with db.unit_of_work() as s:
        assert s.get_one(Purchase, left_id).status is PurchaseStatus.FAILED
        assert s.scalar(select(func.count()).select_from(Purchase)
                        .where(Purchase.status == PurchaseStatus.CREATING)) == 0


def test_a_refund_that_overtakes_its_payment_waits_for_it_and_a_strangers_is_let_go(
        db: Database, paying: Services, stripe_emulator: StripeEmulator) -> None:
    uid = setup(db)
    purchase = buy(db, paying, uid, "10")
    [completed] = stripe_emulator.pay(str(purchase.session_id))
    [refund] = stripe_emulator.refund(str(purchase.session_id), 300)
    with pytest.raises(NotYet):
        apply(db, paying, refund)
    with db.unit_of_work() as s:
        assert s.get(StripeEvent, refund["id"]) is None, "not recorded: the retry is applied"
    assert apply(db, paying, completed) == "credited"
    assert apply(db, paying, refund) == "refunded"
    assert purchased(db, uid) == D(700)
    stranger = {**refund, "id": "evt_old_stranger", "created": int(time.time()) - 7200,
                "data": {"object": {**refund["data"]["object"], "payment_intent": "pi_someone_else"}}}
    assert apply(db, paying, stranger) == "unknown payment"
    sound(db)
