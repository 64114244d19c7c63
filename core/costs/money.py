"""Money of the billing export: exact amounts as integer nanos, ISO 4217 currencies, and how both are shown.

The export writes costs as BigQuery FLOAT64 values (``0.1``, ``1.5e-05``); they are read as decimals, never as
floats, and kept to the nano (10^-9 of the unit, as Google's ``Money`` type), rounded half-even beyond that.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

NANOS = 1_000_000_000
NANO = Decimal(1).scaleb(-9)
CENT = Decimal("0.01")
_ISO_4217 = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
"""
CURRENCIES = frozenset(_ISO_4217.split())
"""ISO 4217 codes of currencies in use (Cloud Billing bills in a subset of these)."""
MAX_NANOS = 10**18
"""The largest amount one row may carry (a billion units), far beyond any real row."""


def to_nanos(text: str) -> int | None:
    """``text`` (a decimal, possibly with an exponent) as integer nanos, half-even; None if it is no finite number."""
    written = text.strip()
    if not written:
        return None
    try:
        value = Decimal(written)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    nanos = int((value * NANOS).to_integral_value(ROUND_HALF_EVEN))
    return nanos if abs(nanos) < MAX_NANOS else None


def from_nanos(nanos: int) -> Decimal:
    """Integer nanos as an exact decimal amount."""
    return (Decimal(nanos) * NANO).normalize() if nanos else Decimal(0)


def plain_amount(nanos: int) -> str:
    """Nanos as a plain exact decimal string for CSV: ``12.5``, ``-0.000001``, ``0``."""
    value = from_nanos(nanos)
    return "0" if value == 0 else f"{value:f}"


def shown(nanos: int, currency: str) -> str:
    """An amount as people read it, rounded half-even to cents: ``12.35 USD``, ``-1,000.00 EUR``."""
    cents = from_nanos(nanos).quantize(CENT, ROUND_HALF_EVEN)
    return f"{cents:,.2f} {currency.upper()}"
