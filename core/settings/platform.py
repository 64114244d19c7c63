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

SettingValue = bool | int | Decimal
SettingKind = Literal["bool", "int", "decimal"]
Change = tuple[SettingValue, SettingValue]
TRUE, FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")
DIGITS = re.compile(r"\d+(\.\d+)?")


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
    settings.put(session, spec.key, spec.dump(new))
    audit.record(session, actor, "settings.change", target=f"setting:{spec.key}", platform=platform,
                 old=spec.show(old), new=spec.show(new))
    return old, new


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


def partner_revenue_share(session: Session) -> Decimal:
    """The partners' revenue share in percent (0–100), as snapshotted on each SPEND."""
    return Decimal(value(session, "partner_revenue_share"))
