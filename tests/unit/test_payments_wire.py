"""What payments put on the wire: Stripe's form encoding and signatures, and link buttons on each platform."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import stripe
from slack_sdk.models.blocks import Block

from bot.discord.render import render_reply as discord_reply
from bot.slack.render import render_reply as slack_reply
from commands.ui.model import LINK_ACTION, Button, Reply
from core.payments.checkout import Quote, format_money, return_urls
from core.payments.client import CheckoutSession
from tests.emulators.stripe_forms import decode, sign
from tests.support.discord_spec import validate_schema

PAY = "https://checkout.stripe.com/c/pay/cs_test_1"


def test_bracket_notation_becomes_nested_values() -> None:
    body = ("mode=payment&line_items[0][quantity]=1&line_items[0][price_data][currency]=usd"
            "&line_items[0][price_data][unit_amount]=2500&metadata[rad_user]=7&expand[]=a&expand[]=b")
    assert decode(body) == {"mode": "payment", "metadata": {"rad_user": "7"}, "expand": ["a", "b"],
                            "line_items": [{"quantity": "1", "price_data": {"currency": "usd",
                                                                             "unit_amount": "2500"}}]}


def test_the_emulator_signs_as_stripe_verifies() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event"}).encode()
    assert stripe.WebhookSignature.verify_header(payload.decode(), sign(payload, "whsec_x"), "whsec_x", 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload.decode(), sign(payload, "whsec_other"), "whsec_x", 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload.decode(), sign(payload, "whsec_x", int(time.time()) - 600),
                                              "whsec_x", 300)


def test_a_link_button_is_a_slack_url_button_and_a_discord_link_button() -> None:
    reply = Reply(text="Pay", actions=(Button.link("Pay 25.00 USD", PAY), Button("Check payment", "payments:status",
                                                                                  "7")))
    [message] = slack_reply(reply).messages
    [link, check] = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert link["url"] == PAY and link["style"] == "primary" and "url" not in check
    for block in message["blocks"]:
        assert Block.parse(block) is not None
    [out] = discord_reply(reply)
    body = out.payload()
    validate_schema(body, "MessageCreateRequest")
    [discord_link, discord_check] = [c for row in body["components"] for c in row["components"]]
    assert {k: discord_link[k] for k in ("type", "style", "label", "url")} == \
        {"type": 2, "style": 5, "label": "Pay 25.00 USD", "url": PAY}
    assert "custom_id" not in discord_link
    assert "custom_id" in discord_check and discord_check["style"] != 5
    assert Button.link("x", PAY).action_id == LINK_ACTION


def test_money_and_return_pages() -> None:
    assert format_money(Decimal("1234.5"), "usd") == "1,234.50 USD"
    assert Quote(Decimal(25), "eur", Decimal(2500)).price == "25.00 EUR"
    assert return_urls("https://rad.example/") == {
        "success_url": "https://rad.example/stripe/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://rad.example/stripe/cancel"}


def test_a_session_is_read_from_stripe_objects_and_expanded_fields() -> None:
    found = stripe.checkout.Session.construct_from(
        {"id": "cs_1", "object": "checkout.session", "url": PAY, "payment_intent": {"id": "pi_1"},
         "subscription": None}, "sk_test_x")
    assert CheckoutSession.of(found) == CheckoutSession("cs_1", PAY, payment_intent="pi_1")
