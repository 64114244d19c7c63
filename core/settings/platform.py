"""The settings admins change with ``/rad admin settings``: typed defaults, allowed ranges, validation.

Values live in the ``settings`` table through ``core.settings.store``; decimals are stored as strings so that
they stay exact in JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy.orm import Session

from core import audit
from core.credits.amounts import format_credits
from core.errors import InvalidInput
from core.settings import store as settings
from storage.models import User

SettingValue = bool | int | Decimal | str
SettingKind = Literal["bool", "int", "decimal", "currency"]
Change = tuple[SettingValue, SettingValue]
TRUE, FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")
DIGITS = re.compile(r"\d+(\.\d+)?")
CURRENCY = re.compile(r"[a-z]{3}")
"""An ISO 4217 code as Stripe takes it (lower case: ``usd``, ``eur``)."""


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its type, default, allowed range and decimals, and what it means."""

    key: str
    kind: SettingKind
    default: SettingValue
    description: str
    low: Decimal = Decimal(0)
    high: Decimal = Decimal(0)
    places: int = 0
    unit: str = ""

    @property
    def allowed(self) -> str:
        """The allowed values, as help text."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "currency":
            return "a three-letter currency code such as usd or eur"
        span = f"{format_credits(self.low)} to {format_credits(self.high)}{self.unit}"
        if self.kind == "int":
            return f"a whole number from {span}"
        return f"{span}, at most {self.places} decimals"

    def parse(self, text: str) -> SettingValue:
        """The value typed by an admin, checked against the allowed range."""
        written = text.strip().lower()
        if self.kind == "bool":
            if written in TRUE or written in FALSE:
                return written in TRUE
            raise self._refuse(text)
        if self.kind == "currency":
            if not CURRENCY.fullmatch(written):
                raise self._refuse(text)
            return written
        if not DIGITS.fullmatch(written):
            raise self._refuse(text)
        number = Decimal(written)
        if number < self.low or number > self.high or number != number.quantize(Decimal(1).scaleb(-self.places)):
            raise self._refuse(text)
        return int(number) if self.kind == "int" else number.quantize(Decimal(1).scaleb(-self.places))

    def load(self, stored: object) -> SettingValue:
        """A value read from the ``settings`` table; the default when missing or unreadable."""
        if stored is None:
            return self.default
        try:
            return self.parse(str(stored))
        except InvalidInput:
            return self.default

    def dump(self, value: SettingValue) -> bool | int | str:
        """The JSON form stored in the ``settings`` table."""
        return str(value) if isinstance(value, Decimal) else value

    def show(self, value: SettingValue) -> str:
        """A value as admins see it: ``true``/``false``, or the number with its unit."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value.upper()
        return format_credits(Decimal(value)) + self.unit

    def _refuse(self, text: str) -> InvalidInput:
        return InvalidInput(f"`{self.key}` must be {self.allowed}, not `{text.strip()}`.",
                            hint=f"It sets: {self.description}.")


SPECS: dict[str, SettingSpec] = {spec.key: spec for spec in (
    SettingSpec("enable_credits", "bool", True, "whether deployments are charged and credits are shown"),
    SettingSpec("credits_per_unit", "decimal", Decimal(1), "credits per 1 unit of currency (100: $1 = 100 credits)",
                Decimal("0.01"), Decimal(1_000_000), 2),
    SettingSpec("signup_credits", "int", 0, "awarded credits a new user gets at registration",
                Decimal(0), Decimal(100_000)),
    SettingSpec("partner_revenue_share", "decimal", Decimal(0), "the partners' share of true revenue",
                Decimal(0), Decimal(100), 2, "%"),
    SettingSpec("private_mode", "bool", False, "whether only users an admin added may use RAD"),
    SettingSpec("allow_provisioners", "bool", False,
                "whether partner modules may use local-exec and remote-exec provisioners"),
    SettingSpec("review_creates", "bool", False,
                "whether a new deployment's plan waits for Apply too (updates and destroys always do)"),
    SettingSpec("plan_review_hours", "int", 24, "hours a plan waits for Apply or Discard before it expires",
                Decimal(1), Decimal(720), unit=" h"),
    SettingSpec("enable_subscription", "bool", False,
                "whether users may buy credits and subscribe with Stripe (only with enable_credits)"),
    SettingSpec("min_purchase", "decimal", Decimal(10), "the smallest amount of currency one purchase may be",
                Decimal(1), Decimal(10_000), 2),
    SettingSpec("currency", "currency", "usd", "the currency purchases and tiers are priced in"),
    SettingSpec("refresh_interval_hours", "int", 24,
                "hours between the recurring debits of project costs (the cloud bill of deployments)",
                Decimal(1), Decimal(168), unit=" h"),
    SettingSpec("low_credit_trigger", "decimal", Decimal(0),
                "a user whose available credits fall below this is told once a day (0: never)",
                Decimal(0), Decimal(1_000_000), 4),
)}


def spec_for(key: str) -> SettingSpec:
    """The spec of setting ``key`` (any case); raises InvalidInput for an unknown key."""
    spec = SPECS.get(key.strip().lower())
    if spec is None:
        raise InvalidInput(f"There is no setting `{key}`.", hint=f"Settings are {', '.join(SPECS)}.")
    return spec


def value(session: Session, key: str) -> SettingValue:
    """The typed value of a setting, or its default."""
    spec = spec_for(key)
    return spec.load(settings.get(session, spec.key))


def change(session: Session, actor: User, key: str, text: str, *, platform: str = "") -> Change:
    """Set ``key`` from the text an admin typed; audited. Returns the old and the new value."""
    spec = spec_for(key)
    old, new = value(session, spec.key), spec.parse(text)
    if spec.key == "enable_subscription" and new is True and not credits_enabled(session):
        raise InvalidInput("`enable_subscription` needs credits: `enable_credits` is off.",
                           hint="Turn credits on first: `/rad admin settings enable_credits true`.")
    settings.put(session, spec.key, spec.dump(new))
    audit.record(session, actor, "settings.change", target=f"setting:{spec.key}", platform=platform,
                 old=spec.show(old), new=spec.show(new))
    return old, new


def subscription_enabled(session: Session) -> bool:
    """Whether buying and subscribing are on: ``enable_subscription``, which needs ``enable_credits``."""
    return credits_enabled(session) and bool(value(session, "enable_subscription"))


def min_purchase(session: Session) -> Decimal:
    """The smallest amount of currency one purchase may be."""
    return Decimal(value(session, "min_purchase"))


def currency(session: Session) -> str:
    """The lower-case ISO code purchases and tiers are priced in (``usd``)."""
    return str(value(session, "currency"))


def provisioners_allowed(session: Session) -> bool:
    """Whether partner modules may hold ``local-exec`` / ``remote-exec`` provisioners (platform modules may)."""
    return bool(value(session, "allow_provisioners"))


def credits_enabled(session: Session) -> bool:
    """Whether deployments are charged and credits are shown."""
    return bool(value(session, "enable_credits"))


def credits_per_unit(session: Session) -> Decimal:
    """Credits per 1 unit of currency."""
    return Decimal(value(session, "credits_per_unit"))


def signup_credits(session: Session) -> int:
    """The awarded credits a new user gets at registration."""
    return int(value(session, "signup_credits"))


def low_credit_trigger(session: Session) -> Decimal:
    """The available balance under which a user is told their credits are low (0: never told)."""
    return Decimal(value(session, "low_credit_trigger"))


def partner_revenue_share(session: Session) -> Decimal:
    """The partners' revenue share in percent (0–100), as snapshotted on each SPEND."""
    return Decimal(value(session, "partner_revenue_share"))


def review_creates(session: Session) -> bool:
    """Whether a create's plan waits for Apply (after the cost was confirmed) instead of being applied at once."""
    return bool(value(session, "review_creates"))


def plan_review_hours(session: Session) -> int:
    """How many hours a plan waits for its review before it expires (and a create's hold is released)."""
    return int(value(session, "plan_review_hours"))


def refresh_interval_hours(session: Session) -> int:
    """How many hours apart the recurring project-cost debits run (1–168)."""
    return int(value(session, "refresh_interval_hours"))
