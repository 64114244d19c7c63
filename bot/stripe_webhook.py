"""``POST /stripe/webhook``: Stripe's signed events, handed to the handler registered for their type.

In order: the body is read under the size limit (413), its ``Stripe-Signature`` is verified by the
``stripe`` library before anything parses it (400 with a short JSON error), then the event is parsed (400
when it is not an event) and given to its handler. An event type with no handler is answered 200, so Stripe
stops retrying it.

The seam for payments: ``stripe_event_handlers`` builds the registry every process serves, e.g.
``handlers.register("checkout.session.completed", partial(credit_checkout, runtime))``. Stripe retries a
delivery until it gets a 2xx, so a handler must be idempotent on the event (or the object it carries).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

import stripe

from bot.runtime import Runtime
from bot.wsgi import MAX_BODY_BYTES, BodyRefused, read_body, refuse, respond_json
from commands.handlers.payments import apply_stripe_event
from core.incidents import report
from core.payments.events import HANDLED, NotYet

log = logging.getLogger(__name__)

STRIPE_WEBHOOK_PATH = "/stripe/webhook"
SIGNATURE_TOLERANCE = 300
"""Seconds a signature's timestamp may lag behind our clock (the ``stripe`` library's default)."""

StripeEventHandler = Callable[[stripe.Event], None]


class StripeEventHandlers:
    """Which function handles which Stripe event type (``checkout.session.completed`` ...)."""

    def __init__(self) -> None:
        self._handlers: dict[str, StripeEventHandler] = {}

    def register(self, event_type: str, handler: StripeEventHandler) -> None:
        """Handle ``event_type`` with ``handler``; one handler per type."""
        if event_type in self._handlers:
            raise ValueError(f"a handler for Stripe events {event_type!r} is already registered")
        self._handlers[event_type] = handler

    def handler_for(self, event_type: str) -> StripeEventHandler | None:
        """The handler of ``event_type``, or None if there is none."""
        return self._handlers.get(event_type)

    @property
    def event_types(self) -> list[str]:
        """The event types that have a handler, sorted."""
        return sorted(self._handlers)


def stripe_event_handlers(runtime: Runtime) -> StripeEventHandlers:
    """The handlers a process serves: every event type ``core.payments.events`` acts on, applied exactly once."""
    handlers = StripeEventHandlers()

    def apply(event: stripe.Event) -> None:
        applied = apply_stripe_event(runtime.db, runtime.config, event.to_dict())
        log.info("Stripe event applied", extra={"event_type": event.type, "event_id": event.id,
                                                "outcome": applied.outcome})

    for event_type in HANDLED:
        handlers.register(event_type, apply)
    return handlers


class MalformedEvent(ValueError):
    """A signed body that is not a Stripe event; the reason names no value from it."""


def parse_event(body: bytes) -> stripe.Event:
    """A verified body as a ``stripe.Event`` (a snapshot event with a string ``id`` and ``type``).

    Raises:
        MalformedEvent: the body is not JSON, or not an event.
    """
    try:
        values = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise MalformedEvent(f"the body is not JSON ({type(error).__name__})") from None
    if not isinstance(values, dict) or values.get("object") != "event":
        raise MalformedEvent("the payload is not a Stripe event")
    if not (isinstance(values.get("id"), str) and isinstance(values.get("type"), str)):
        raise MalformedEvent("the event has no id or type")
    try:
        return stripe.Event.construct_from(values, None)
    except (ValueError, TypeError, RecursionError) as error:
        raise MalformedEvent(f"the event could not be read ({type(error).__name__})") from None


class StripeWebhook:
    """The WSGI app for ``POST /stripe/webhook``."""

    def __init__(self, secret: str, handlers: StripeEventHandlers, *, tolerance: int = SIGNATURE_TOLERANCE,
                 max_body: int = MAX_BODY_BYTES) -> None:
        if not secret:
            raise ValueError("the Stripe webhook needs its signing secret (STRIPE_WEBHOOK_SECRET)")
        self._secret = secret
        self.handlers = handlers
        self.tolerance = tolerance
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"StripeWebhook(handlers={self.handlers.event_types})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Check the body's size and Stripe signature, then deliver the event to its handler."""
        try:
            body = read_body(environ, self.max_body)
        except BodyRefused as refused:
            log.warning("Stripe webhook refused", extra={"reason": refused.message})
            return refuse(start_response, refused)
        try:
            stripe.WebhookSignature.verify_header(body, str(environ.get("HTTP_STRIPE_SIGNATURE", "")), self._secret,
                                                  self.tolerance)
        except stripe.SignatureVerificationError as error:
            log.warning("Stripe webhook with a bad signature refused", extra={"reason": str(error)})
            return respond_json(start_response, "400 Bad Request", {"error": "invalid signature"})
        except UnicodeDecodeError:
            log.warning("Stripe webhook refused", extra={"reason": "the body is not UTF-8"})
            return respond_json(start_response, "400 Bad Request", {"error": "invalid signature"})
        try:
            event = parse_event(body)
        except MalformedEvent as error:
            log.warning("malformed Stripe webhook refused", extra={"reason": str(error)})
            return respond_json(start_response, "400 Bad Request", {"error": "malformed payload"})
        return self.deliver(event, start_response)

    def deliver(self, event: stripe.Event, start_response: StartResponse) -> list[bytes]:
        """Run the event's handler: 200 when it succeeds or there is none, 500 (Stripe retries) when it fails."""
        handler = self.handlers.handler_for(event.type)
        if handler is None:
            log.debug("Stripe event without a handler", extra={"event_type": event.type, "event_id": event.id})
            return respond_json(start_response, "200 OK", {"received": True})
        try:
            handler(event)
        except NotYet as waiting:
            log.info("Stripe event came early; Stripe will deliver it again",
                     extra={"event_type": event.type, "event_id": event.id, "reason": waiting.outcome})
            return respond_json(start_response, "503 Service Unavailable", {"error": "not yet", "retry": True})
        except Exception:
            incident = report(log, "Stripe event handler failed", event_type=event.type, event_id=event.id)
            return respond_json(start_response, "500 Internal Server Error",
                                {"error": f"error id {incident.error_id}"})
        log.info("Stripe event handled", extra={"event_type": event.type, "event_id": event.id})
        return respond_json(start_response, "200 OK", {"received": True})
