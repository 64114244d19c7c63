"""The arithmetic of revenue: exact decimals, rounded half-even to cents only when shown.

* True revenue of a SPEND = the purchased part recorded on it ÷ ``credits_per_unit`` (awarded credits earn
  nothing).
* The partner's share = true revenue × the share percentage snapshotted on that SPEND ÷ 100, owed only to the
  module's partner and never for the partner's own deployment.

The domain notes' algorithm (§4.6) re-derives the purchased part by spending each user's free credits first
over their deployments, which mis-states a ``require_credit_purchases`` module (§5 step 6: 800 purchased
credits counted as 300). We never re-derive it: the purchased part is what the ledger recorded on the SPEND
when it was charged (awarded first, purchased only for purchased-only modules), so that deployment brings
800 / credits_per_unit.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

ZERO = Decimal(0)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
PRECISION = 40
"""Decimal digits kept while dividing (far beyond any sum of the ledger's four-decimal amounts)."""


def true_revenue(purchased_part: Decimal | None, credits_per_unit: Decimal) -> Decimal:
    """Money paid with purchased credits: ``purchased_part / credits_per_unit`` (exact, not rounded).

    Raises:
        ValueError: ``credits_per_unit`` is not positive.
    """
    if credits_per_unit <= 0:
        raise ValueError("credits_per_unit must be positive")
    with localcontext() as context:
        context.prec = PRECISION
        return Decimal(purchased_part or ZERO) / credits_per_unit


def partner_share(revenue: Decimal, share_pct: Decimal | None, *, own_module: bool = False) -> Decimal:
    """The partner's part of ``revenue`` at the snapshotted ``share_pct``; nothing for their own deployment."""
    if own_module or share_pct is None:
        return ZERO
    with localcontext() as context:
        context.prec = PRECISION
        return revenue * Decimal(share_pct) / HUNDRED


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half-even to cents, for display only (``1.005`` -> ``1.00``, ``1.015`` -> ``1.02``)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def show_money(value: Decimal, currency: str) -> str:
    """``1,234.56 USD``: half-even cents with thousands separators and the currency code upper case."""
    return f"{cents(value):,} {currency.upper()}"


def change(current: Decimal, previous: Decimal) -> str:
    """The change from the previous period as people read it: ``+12.5%``, ``-3.0%``, ``new`` or ``no change``."""
    if previous == 0:
        return "no change" if current == 0 else "new (nothing the period before)"
    with localcontext() as context:
        context.prec = PRECISION
        pct = ((current - previous) / previous * HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return f"{'+' if pct > 0 else ''}{pct}%"
