"""Buying credits with Stripe: ``/rad credits buy``, ``/rad credits subscription``, ``/rad admin tiers``.

Opening a Checkout Session calls Stripe, so those handlers are slow (no transaction open; ``core.payments``
records before and after the call). The credits land when Stripe's webhook says paid:
:func:`apply_stripe_event` applies a verified event once and queues the direct messages it causes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command
from commands.handlers.notify import POST_KIND, notify_later, post_later
from commands.ui.model import Button, Card, Confirm, Field, Reply
from commands.views.credits import BUY_ACTION
from core.accounts.roles import ADMIN, FINANCE
from core.config import Config
from core.conversations import ConversationRef
from core.credits.amounts import format_credits
from core.errors import InvalidInput
from core.payments import checkout, events, subscriptions, tiers
from core.payments.checkout import format_money
from core.settings import platform as settings
from storage.db import Database
from storage.models import Job, JobStatus, Purchase, PurchaseStatus, SubscriptionStatus, SubscriptionTier, User

STATUS_ACTION = "payments:status"
PAY_ACTION = "payments:buy"
SUBSCRIBE_ACTION = "payments:subscribe"
CANCEL_ACTION = "payments:cancel"
CHAT_PLATFORMS = ("slack", "discord")
"""Where an offer is also sent as a direct message (the platforms with a messenger)."""
PRESETS = (1, 2, 5)
"""The amounts a Buy button offers, as multiples of the minimum purchase."""


# -- one-time purchases ----------------------------------------------------------------------------------

@command("credits buy", "Buy credits with a card: the credits an amount buys, then Stripe's payment page",
         params=(Param("amount", "word", "How much to pay, in the platform's currency, like 25 or 12.50"),),
         slow=True,
         details="Credits = amount × credits_per_unit; they are purchased credits and never expire. They are "
                 "added once Stripe confirms the payment, and you are told in a direct message.")
def buy_credits(ctx: Context, amount: str) -> Reply:
    """What the amount buys and the button to Stripe's payment page (the session is opened now)."""
    return offer_reply(ctx, amount)


@action(PAY_ACTION, slow=True)
def buy_chosen(ctx: Context, event: ActionEvent) -> Reply:
    """One of the amounts a Buy button offered: its payment page, in place of the choice."""
    return offer_reply(ctx, event.value).replacing()


@action(BUY_ACTION)
def buy_pressed(ctx: Context, event: ActionEvent) -> Reply:
    """The Buy button of a shortfall message: a few amounts to choose from, or the command to type."""
    checkout.require_buying(ctx.session, ctx.services)
    least, currency = settings.min_purchase(ctx.session), settings.currency(ctx.session)
    per_unit = settings.credits_per_unit(ctx.session)
    amounts = [least * n for n in PRESETS]
    buttons = tuple(Button(f"{format_money(a, currency)} → {format_credits(a * per_unit)} credits", PAY_ACTION,
                           f"{a.normalize():f}", style="primary" if i == 0 else "default")
                    for i, a in enumerate(amounts))
    return Reply(text=f"How much would you like to buy? Or type `{ctx.slash} credits buy <amount>` "
                      f"(at least {format_money(least, currency)}).", actions=buttons)


def offer_reply(ctx: Context, written: str) -> Reply:
    """Open a Checkout Session for ``written`` and show what it buys with the button to pay."""
    purchase, offer = checkout.buy(ctx.db, ctx.services, ctx.actor.id, written, ctx.where)
    offer_later(ctx, purchase, f"Your payment page: *{offer.price}* for *{format_credits(offer.credits)} credits*.",
                f"Pay {offer.price}")
    return Reply(text=f":credit_card: *{offer.price}* buys *{format_credits(offer.credits)} credits* "
                      f"(purchased credits; they never expire).\nPress *Pay* to open Stripe's payment page. The "
                      "credits are added as soon as Stripe confirms the payment, and I tell you in a direct message "
                      "(where the same button waits and then shows that it is paid).",
                 actions=pay_buttons(purchase, f"Pay {offer.price}"))


def offer_later(ctx: Context, purchase: Purchase, text: str, label: str) -> None:
    """The offer again, as a direct message on the caller's platform.

    Unlike a private reply, a direct message can be edited once the payment is through (``update_offer``).
    """
    if ctx.platform in CHAT_PLATFORMS and purchase.checkout_url:
        post_later(ctx.session, offer_key(purchase.id), f"{text} This message shows when the payment is through.",
                   user=ctx.caller.key, buttons=(Button.link(label, purchase.checkout_url),))


def offer_key(purchase_id: int) -> str:
    """The outbox key of a purchase's offer in direct messages."""
    return f"payments:offer:{purchase_id}"


def update_offer(session: Session, purchase: Purchase) -> None:
    """Show a purchase's end (paid, expired, failed) in its offer message: edited once posted, else rewritten."""
    if purchase.chat_platform not in CHAT_PLATFORMS:
        return  # bought outside chat: no offer was sent
    text = status_reply(purchase).text
    offers = session.scalars(select(Job).where(Job.kind == POST_KIND,
                                               Job.payload["key"].as_string() == offer_key(purchase.id)))
    for job in offers:
        sent = job.payload.get("sent") or {}
        if sent.get("message"):
            where = ConversationRef(str(sent["platform"]), str(sent.get("workspace", "")), str(sent["channel"]),
                                    message=str(sent["message"]))
            post_later(session, f"payments:offer-done:{purchase.id}:{where.platform}", text, where=where, edit=True)
        elif job.status is JobStatus.QUEUED:  # not posted yet: it goes out showing the end, without the button
            job.payload = {k: v for k, v in {**job.payload, "text": text}.items() if k != "buttons"}


def pay_buttons(purchase: Purchase, label: str) -> tuple[Button, ...]:
    """The link to the Checkout page and the button that shows where the payment stands."""
    return (Button.link(label, purchase.checkout_url), Button("Check payment", STATUS_ACTION, str(purchase.id)))


@action(STATUS_ACTION)
def purchase_status(ctx: Context, event: ActionEvent) -> Reply:
    """Where a purchase stands, in place of its offer: paid, still open, expired or failed."""
    if not event.value.isdigit():
        raise InvalidInput("That button is not a purchase.")
    purchase = checkout.find(ctx.session, ctx.actor, int(event.value))
    return status_reply(purchase).replacing()


def status_reply(purchase: Purchase) -> Reply:
    """A purchase's state as the user reads it; the Pay button only while the session is open."""
    price = format_money(purchase.amount, purchase.currency)
    what = "subscription" if purchase.mode == "subscription" else f"{format_credits(purchase.credits)} credits"
    if purchase.status is PurchaseStatus.PAID:
        done = "your subscription is active" if purchase.mode == "subscription" else \
            f"{format_credits(purchase.credits)} purchased credits were added"
        return Reply(text=f":white_check_mark: Paid: {price}; {done}.")
    if purchase.status is PurchaseStatus.OPEN:
        return Reply(text=f":hourglass: Your payment of {price} for {what} is not confirmed yet. "
                          "Pay on Stripe's page; the credits are added as soon as Stripe confirms it.",
                     actions=pay_buttons(purchase, f"Pay {price}"))
    if purchase.status is PurchaseStatus.EXPIRED:
        return Reply(text=f":x: The payment page for {price} expired before it was paid; nothing was charged.")
    return Reply(text=f":x: The payment of {price} failed; nothing was charged and no credits were added.")


# -- subscriptions ---------------------------------------------------------------------------------------

@command("credits subscription", "Your subscription, or the tiers you can subscribe to",
         details="Each paid month adds the tier's credits to your purchased credits. One subscription at a time; "
                 "cancelling ends it at the end of the period already paid.")
def show_subscription(ctx: Context) -> Reply:
    """The user's subscription with its cancel button, or the active tiers with their Subscribe buttons."""
    checkout.require_buying(ctx.session, ctx.services)
    current = subscriptions.of_user(ctx.session, ctx.actor)
    if current is not None and current.status in subscriptions.LIVE:
        tier = ctx.session.get_one(SubscriptionTier, current.tier_id)
        ends = f"{current.current_period_end:%Y-%m-%d}" if current.current_period_end else "the end of the period"
        state = f"ends on {ends}" if current.status is SubscriptionStatus.CANCELING else f"renews on {ends}"
        card = Card(f"Your subscription: {tier.name}", fields=(
            Field("Price", f"{format_money(tier.price, tier.currency)} a month"),
            Field("Credits each month", format_credits(tier.credits)), Field("Status", state)))
        buttons = () if current.status is SubscriptionStatus.CANCELING else (Button(
            "Cancel at period end", CANCEL_ACTION, str(current.id), style="danger",
            confirm=Confirm("Cancel the subscription?", "It stays active until the end of the period already "
                            "paid; then no more credits are added.", confirm="Cancel it", deny="Keep it")),)
        return Reply(cards=(card,), actions=buttons)
    offered = tiers.active(ctx.session)
    if not offered:
        return Reply(text="No subscription tiers are offered yet. "
                          f"You can buy credits once with `{ctx.slash} credits buy <amount>`.")
    cards = tuple(Card(tier.name, fields=(Field("Price", f"{format_money(tier.price, tier.currency)} a month"),
                                          Field("Credits each month", format_credits(tier.credits))),
                       actions=(Button(f"Subscribe to {tier.name}", SUBSCRIBE_ACTION, str(tier.id),
                                       style="primary"),)) for tier in offered)
    return Reply(text="Choose a tier. Each paid month adds its credits to your purchased credits.", cards=cards)


@action(SUBSCRIBE_ACTION, slow=True)
def subscribe_pressed(ctx: Context, event: ActionEvent) -> Reply:
    """A tier's Subscribe button: its Checkout page (mode subscription), in place of the tiers."""
    if not event.value.isdigit():
        raise InvalidInput("That button is not a tier.")
    purchase = subscriptions.subscribe(ctx.db, ctx.services, ctx.actor.id, int(event.value), ctx.where)
    price = format_money(purchase.amount, purchase.currency)
    offer_later(ctx, purchase, f"Your subscription page: *{price} a month* for *{format_credits(purchase.credits)} "
                "credits* each month.", f"Subscribe: {price} a month")
    return Reply(text=f":credit_card: Subscribe for *{price} a month*: each paid month adds "
                      f"*{format_credits(purchase.credits)} credits*. Press *Subscribe* to open Stripe's payment page.",
                 actions=pay_buttons(purchase, f"Subscribe: {price} a month")).replacing()


@action(CANCEL_ACTION, slow=True)
def cancel_pressed(ctx: Context, event: ActionEvent) -> Reply:
    """Cancel at period end: Stripe is told, the subscription ends when the paid period does."""
    done = subscriptions.cancel(ctx.db, ctx.services, ctx.actor.id)
    ends = f" on {done.current_period_end:%Y-%m-%d}" if done.current_period_end else " at the end of the period"
    return Reply(text=f":white_check_mark: Your subscription ends{ends}; until then it stays active.").replacing()


# -- tiers -------------------------------------------------------------------------------------------------

@command("admin tiers", "List, add or change subscription tiers",
         params=(Param("name", "word", "The tier's name (quote it if it has spaces)", required=False),
                 Param("price", "word", "Its monthly price, or `on` / `off` to offer it or not", required=False),
                 Param("credits", "word", "Purchased credits each paid month", required=False),
                 Param("price_id", "word", "Its Stripe price id (`price_...`)", required=False)),
         roles=(ADMIN, FINANCE),
         details="`/rad admin tiers Pro 29 3000 price_123` adds or changes the tier Pro; "
                 "`/rad admin tiers Pro off` stops offering it (its subscribers keep it).")
def admin_tiers(ctx: Context, name: str | None, price: str | None, credits: str | None,
                price_id: str | None) -> Reply:
    """Every tier (no arguments), switch one on or off, or add or change one."""
    if name is None:
        rows = tiers.every(ctx.session, ctx.actor)
        lines = ["*Subscription tiers*" if rows else "_No tiers yet._"]
        lines += [f"• *{t.name}*: {format_money(t.price, t.currency)} a month, {format_credits(t.credits)} credits, "
                  f"`{t.price_id}`{'' if t.active else ' (not offered)'}" for t in rows]
        lines.append(f"Add or change one with `{ctx.slash} admin tiers <name> <price> <credits> <price_id>`.")
        return Reply(text="\n".join(lines))
    if price is not None and price.lower() in ("on", "off") and credits is None:
        tier = tiers.switch(ctx.session, ctx.actor, name, price.lower() == "on", platform=ctx.platform)
        return Reply(text=f":white_check_mark: The tier *{tier.name}* is {'offered' if tier.active else 'not offered'}"
                          " now.")
    if price is None or credits is None or price_id is None:
        raise InvalidInput("A tier needs a name, a monthly price, its credits and its Stripe price id.",
                           hint=f"Like `{ctx.slash} admin tiers Pro 29 3000 price_123`.")
    tier, new = tiers.save(ctx.session, ctx.actor, name, price, credits, price_id, platform=ctx.platform)
    return Reply(text=f":white_check_mark: {'Added' if new else 'Changed'} the tier *{tier.name}*: "
                      f"{format_money(tier.price, tier.currency)} a month, {format_credits(tier.credits)} credits "
                      f"each paid month, Stripe price `{tier.price_id}`.")


# -- Stripe's webhook -----------------------------------------------------------------------------------

def apply_stripe_event(db: Database, config: Config, event: Mapping[str, Any]) -> events.Applied:
    """Apply one verified Stripe event in its own unit of work and queue the direct messages it causes.

    On SQLite (one writer at a time) this process's deliveries queue on a lock rather than poll SQLite's busy
    handler, whose growing sleeps would make the slowest deliveries wait far longer than the work takes.
    """
    if db.is_postgres:
        return _apply(db, config, event)
    with _SQLITE_WRITER:
        return _apply(db, config, event)


_SQLITE_WRITER = threading.Lock()


def _apply(db: Database, config: Config, event: Mapping[str, Any]) -> events.Applied:
    with db.unit_of_work() as session:
        applied = events.apply(session, event)
        if applied.paid_offer is not None:
            update_offer(session, applied.paid_offer)
        for notice in applied.notices:
            user = session.get(User, notice.user_id)
            if user is not None:
                notify_later(session, user, notice.text.replace("`/rad", f"`/{config.command}"))
    return applied

