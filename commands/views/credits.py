"""How a shortfall's offer of credits looks in chat: its sentence, and a Buy button when buying exists."""

from __future__ import annotations

from commands.ui.model import Button
from core.credits.offers import CreditOffer

BUY_ACTION = "credits:buy"
"""The action a Buy button dispatches (registered by the payments flow; shown only when buying is on)."""


def offer_buttons(offer: CreditOffer) -> tuple[Button, ...]:
    """A Buy button for a ``buy`` offer; nothing for the others (their sentence says whom to ask)."""
    if offer.kind == "buy":
        return (Button("Buy credits", BUY_ACTION, style="primary"),)
    return ()
