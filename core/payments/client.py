"""The outbound Stripe client: the real ``stripe`` library with timeouts, bounded retries and our own errors.

Every call refuses to run inside a database transaction (``core.network``). Creations carry an idempotency
key, so a retry after a timeout or a 5xx never creates a second object; 429, 5xx, 409 and connection errors
are retried with exponential backoff. Failures come out as :class:`PaymentsUnavailable` (Stripe down or
limiting us) or :class:`PaymentsRefused` (Stripe refused the request); neither ever carries the API key,
and neither does ``repr`` of the client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from core.config import Config
from core.errors import NotConfigured, RadError, Unavailable
from core.network import assert_no_transaction

log = logging.getLogger(__name__)

PAYMENT_VARIABLES = ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET")
"""What must be set for payments; ``STRIPE_API_URL`` and ``RAD_PUBLIC_URL`` have defaults."""
NOT_CONFIGURED_HINT = ("An operator sets `STRIPE_API_KEY` and `STRIPE_WEBHOOK_SECRET` (and `RAD_PUBLIC_URL`, the "
                       "bot's public address for the payment pages), then restarts the bot.")


class PaymentsNotConfigured(NotConfigured):
    """Payments are switched on in the settings but the Stripe variables are not set."""

    def __init__(self) -> None:
        super().__init__("Payments are not configured on this bot.", hint=NOT_CONFIGURED_HINT)


class PaymentsUnavailable(Unavailable):
    """Stripe did not answer, or limited our requests, even after retries."""


class PaymentsRefused(RadError):
    """Stripe refused the request (an unknown price, a closed session...)."""


def payments_configured(config: Config) -> bool:
    """Whether the Stripe API key and the webhook's signing secret are both set."""
    return bool(config.stripe_api_key and config.stripe_webhook_secret)


@dataclass(frozen=True)
class CheckoutSession:
    """What the bot keeps of a Checkout Session: its id, its page, its payment and subscription."""

    id: str
    url: str
    status: str = ""
    payment_status: str = ""
    payment_intent: str = ""
    subscription: str = ""
    customer: str = ""

    @classmethod
    def of(cls, found: Any) -> CheckoutSession:
        """The fields of a ``stripe`` Checkout Session object (or a plain mapping of one)."""
        values: Mapping[str, Any] = found.to_dict() if hasattr(found, "to_dict") else found

        def text(name: str) -> str:
            value = values.get(name)
            if isinstance(value, str):
                return value
            return str(value.get("id", "")) if isinstance(value, Mapping) else ""

        return cls(text("id"), text("url"), text("status"), text("payment_status"), text("payment_intent"),
                   text("subscription"), text("customer"))


class StripeGateway:
    """The few Stripe calls the bot makes, over one ``stripe.StripeClient``."""

    def __init__(self, api_key: str, *, api_url: str = "", timeout: float = 10.0, retries: int = 3,
                 backoff: float = 0.25, sleep: Callable[[float], None] = time.sleep) -> None:
        if not api_key:
            raise PaymentsNotConfigured()
        bases: dict[str, str] = {"api": api_url} if api_url else {}
        self._client = stripe.StripeClient(api_key, base_addresses=bases,  # type: ignore[arg-type]
                                           max_network_retries=0,
                                           http_client=stripe.RequestsClient(timeout=timeout))
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"StripeGateway(retries={self.retries})"

    @classmethod
    def from_config(cls, config: Config, **options: Any) -> StripeGateway:
        """A gateway for ``STRIPE_API_KEY`` at ``STRIPE_API_URL`` (Stripe itself when unset)."""
        if not payments_configured(config):
            raise PaymentsNotConfigured()
        return cls(config.stripe_api_key, api_url=config.stripe_api_url, **options)

    def create_checkout_session(self, params: Mapping[str, Any], idempotency_key: str) -> CheckoutSession:
        """Open a Checkout Session (``mode`` payment or subscription); the same key returns the same session."""
        found = self._call("open a payment page", lambda: self._client.v1.checkout.sessions.create(
            params=dict(params), options={"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
        return CheckoutSession.of(found)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The current state of a Checkout Session."""
        return CheckoutSession.of(self._call("check a payment", lambda: self._client.v1.checkout.sessions.retrieve(
            session_id)))

    def cancel_at_period_end(self, subscription_id: str, idempotency_key: str) -> None:
        """Ask Stripe to end a subscription when its current period ends."""
        self._call("cancel the subscription", lambda: self._client.v1.subscriptions.update(
            subscription_id, params={"cancel_at_period_end": True},
            options={"idempotency_key": idempotency_key}))

    def _call(self, doing: str, request: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            assert_no_transaction(f"StripeGateway ({doing})")
            try:
                return request()
            except (stripe.RateLimitError, stripe.APIConnectionError) as error:
                status = getattr(error, "http_status", None) or 0
            except stripe.APIError as error:
                status = int(getattr(error, "http_status", None) or 500)
                if status < 500 and status != 409:
                    raise PaymentsUnavailable(f"Stripe failed to {doing}.", hint="Try again in a few minutes.") \
                        from None
            except stripe.AuthenticationError:
                log.error("Stripe refused the API key", extra={"doing": doing})
                raise PaymentsUnavailable(f"Stripe refused this bot's credentials while trying to {doing}.",
                                          hint="An operator must check `STRIPE_API_KEY`.") from None
            except stripe.StripeError as error:
                log.warning("Stripe refused a request", extra={"doing": doing, "code": error.code or "",
                                                               "status": error.http_status or 0})
                raise PaymentsRefused(f"Stripe refused to {doing}.",
                                      hint="Try again; if it keeps failing, tell an admin.") from None
            log.info("Stripe did not answer", extra={"doing": doing, "status": status, "attempt": attempt})
            if attempt < self.retries:
                self._sleep(self.backoff * (2 ** attempt))
        raise PaymentsUnavailable(f"Stripe is not answering, so I could not {doing}.",
                                  hint="Nothing was charged. Try again in a few minutes.")
