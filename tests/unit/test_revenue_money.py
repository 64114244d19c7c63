"""Revenue arithmetic: exact decimals, half-even cents only when shown, snapshots, own module, awarded only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.revenue.money import cents, change, partner_share, show_money, true_revenue

D = Decimal


def test_true_revenue_is_the_purchased_part_over_credits_per_unit() -> None:
    assert true_revenue(D(300), D(100)) == D(3)  # domain §5: 500 awarded first, 300 purchased
    assert true_revenue(D(800), D(100)) == D(8)  # purchased-only: what was recorded, not re-derived
    assert true_revenue(D(1), D(8)) == D("0.125")  # not rounded here


def test_awarded_credits_earn_nothing() -> None:
    assert true_revenue(D(0), D(100)) == 0 and true_revenue(None, D(100)) == 0
    assert partner_share(true_revenue(D(0), D(100)), D(20)) == 0


def test_the_share_uses_the_percentage_given_and_nothing_for_the_own_module() -> None:
    revenue = true_revenue(D(300), D(100))
    assert partner_share(revenue, D(20)) == D("0.6")
    assert partner_share(revenue, D("12.5")) == D("0.375")  # exact, rounded only when shown
    assert partner_share(revenue, D(20), own_module=True) == 0
    assert partner_share(revenue, None) == 0  # a platform module: no partner, no share


def test_cents_round_half_even_only_when_shown() -> None:
    assert cents(D("0.125")) == D("0.12") and cents(D("0.135")) == D("0.14")
    assert cents(D("2.205")) == D("2.20") and cents(D("2.2051")) == D("2.21")
    assert show_money(D("1234.565"), "usd") == "1,234.56 USD"
    many = sum((partner_share(true_revenue(D(1), D(100)), D(50)) for _ in range(3)), D(0))
    assert many == D("0.015") and cents(many) == D("0.02")  # summed exactly, then rounded once


def test_credits_per_unit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        true_revenue(D(1), D(0))


def test_change_from_the_previous_period() -> None:
    assert change(D(15), D(10)) == "+50.0%" and change(D(5), D(10)) == "-50.0%"
    assert change(D(0), D(0)) == "no change" and change(D(3), D(0)).startswith("new")
