"""A Stripe API emulator on 127.0.0.1 for the real ``stripe`` library (pointed at it with ``STRIPE_API_URL``).

It speaks Stripe's form-encoded requests and JSON answers for what the bot uses: Checkout Sessions (payment and
subscription mode, expire), prices, customers, subscriptions (cancel at period end), and keeps the events
they cause. ``Idempotency-Key`` is honoured (the same key gets the same answer). Faults: a status (5xx, 429)
for the next requests on a path, or a delay (longer than the client's timeout).

Tests play the customer from Python: :meth:`StripeEmulator.pay` completes a session (as the Checkout page
would), :meth:`expire`, :meth:`refund`, :meth:`renew` (a new paid invoice), and each returns the events
Stripe would send. :meth:`deliver` signs an event as Stripe does and POSTs it to the bot's webhook endpoint,
as many times and in whatever order a test asks. Outside pytest:
``python -m tests.emulators.stripe --port 8904 --key sk_test_demo``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.http_base import HttpEmulator, Json, QuietHandler
from tests.emulators.stripe_forms import decode, sign

API_VERSION = "2025-06-30.basil"


@dataclass(frozen=True)
class Call:
    """One request the emulator answered."""

    method: str
    path: str
    params: dict[str, Any]
    status: int
    idempotency_key: str
    api_key: str = field(repr=False)


@dataclass
class _Fault:
    """The next ``remaining`` requests on ``path`` are answered ``status``, or answered after ``delay`` seconds."""

    path: str
    remaining: int
    status: int = 0
    delay: float = 0.0


class StripeError(Exception):
    """An error answer: Stripe's ``{"error": {...}}`` envelope with its HTTP status."""

    def __init__(self, status: int, kind: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.code = status, kind, message, code

    def body(self) -> Json:
        """The envelope Stripe sends."""
        error: Json = {"type": self.kind, "message": self.message}
        if self.code:
            error["code"] = self.code
        return {"error": error}


def new_id(prefix: str) -> str:
    """An object id in Stripe's style: ``cs_test_a1b2...``."""
    return f"{prefix}_{secrets.token_hex(12)}"


class _Handler(QuietHandler):
    def _serve(self) -> None:
        emulator: StripeEmulator = self.server.emulator  # type: ignore[attr-defined]
        headers, raw = self.read_request()
        path = self.path.split("?", 1)[0]
        status, body = emulator.respond(self.command, path, headers, raw.decode("utf-8", "replace"))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not path.startswith("/pay/") else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", new_id("req"))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a timeout test)
            self.close_connection = True


@dataclass
class StripeEmulator(HttpEmulator[Call, _Fault]):
    """The emulator's state: objects by id, events in the order they happened, idempotent answers."""

    handler_class = _Handler
    thread_name = "stripe-emulator"

    api_key: str = field(default="sk_test_emulator", repr=False)
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    sessions: dict[str, Json] = field(default_factory=dict)
    prices: dict[str, Json] = field(default_factory=dict)
    customers: dict[str, Json] = field(default_factory=dict)
    subscriptions: dict[str, Json] = field(default_factory=dict)
    invoices: dict[str, Json] = field(default_factory=dict)
    charges: dict[str, Json] = field(default_factory=dict)
    events: list[Json] = field(default_factory=list)
    _answers: dict[str, tuple[int, Json]] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        """The base URL to give the ``stripe`` library (``STRIPE_API_URL``)."""
        return f"http://{self.host}:{self.port}"

    # -- faults ---------------------------------------------------------------------------------------------

    def fail(self, status: int, *, times: int = 1, path: str = "/v1/") -> None:
        """Answer the next ``times`` requests on ``path`` with ``status`` (429, 500, 503...)."""
        with self._lock:
            self._faults.append(_Fault(path, times, status=status))

    def slow(self, delay: float, *, times: int = 1, path: str = "/v1/") -> None:
        """Answer the next ``times`` requests on ``path`` only after ``delay`` seconds."""
        with self._lock:
            self._faults.append(_Fault(path, times, delay=delay))

    # -- the HTTP API -----------------------------------------------------------------------------------------

    def respond(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, Json]:
        """Answer one request: authenticate, apply a fault, replay an idempotent answer, or route it."""
        given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        params = decode(body) if method == "POST" else {}
        key = headers.get("idempotency-key", "")
        with self._lock:
            fault = self._take_fault(path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        status, answer = self._answer(method, path, params, given, key, fault)
        with self._lock:
            self._calls.append(Call(method, path, params, status, key, given))
        return status, answer

    def _answer(self, method: str, path: str, params: Json, given: str, key: str,
                fault: _Fault | None) -> tuple[int, Json]:
        if path.startswith("/pay/"):
            return 200, {"page": "Stripe Checkout (emulated)", "session": path.rsplit("/", 1)[-1]}
        if given != self.api_key:
            return 401, StripeError(401, "invalid_request_error", "Invalid API Key provided.").body()
        if fault is not None and fault.status:
            kind = "rate_limit_error" if fault.status == 429 else "api_error"
            return fault.status, StripeError(fault.status, kind, "Emulated fault.").body()
        replay = f"{method} {path} {key}" if key and method == "POST" else ""
        with self._lock:
            if replay and replay in self._answers:
                return self._answers[replay]
            try:
                answer = (200, self._route(method, path, params))
            except StripeError as error:
                answer = (error.status, error.body())
            if replay and answer[0] < 500:
                self._answers[replay] = answer
        return answer

    def _route(self, method: str, path: str, params: Json) -> Json:
        parts = path.strip("/").split("/")
        if parts[0] != "v1":
            raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")
        route = tuple(parts[1:])
        if route == ("checkout", "sessions") and method == "POST":
            return self._create_session(params)
        if len(route) == 3 and route[:2] == ("checkout", "sessions") and method == "GET":
            return self._find(self.sessions, route[2], "checkout.session")
        if len(route) == 4 and route[:2] == ("checkout", "sessions") and route[3] == "expire" and method == "POST":
            self.expire(route[2])
            return self.sessions[route[2]]
        if route == ("prices",) and method == "POST":
            return self.add_price(int(params.get("unit_amount", 0)), str(params.get("currency", "usd")))
        if route == ("customers",) and method == "POST":
            return self._customer(str(params.get("email", "")))
        if len(route) == 2 and route[0] in ("prices", "customers", "subscriptions") and method == "GET":
            table = {"prices": self.prices, "customers": self.customers, "subscriptions": self.subscriptions}
            return self._find(table[route[0]], route[1], route[0][:-1])
        if len(route) == 2 and route[0] == "subscriptions" and method == "POST":
            return self._update_subscription(route[1], params)
        raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    @staticmethod
    def _find(table: dict[str, Json], object_id: str, what: str) -> Json:
        if object_id not in table:
            raise StripeError(404, "invalid_request_error", f"No such {what}: '{object_id}'", "resource_missing")
        return table[object_id]

    def _create_session(self, params: Json) -> Json:
        mode = params.get("mode")
        if mode not in ("payment", "subscription"):
            raise StripeError(400, "invalid_request_error", "Invalid mode.", "parameter_invalid_empty")
        if not params.get("success_url"):
            raise StripeError(400, "invalid_request_error", "Missing required param: success_url.",
                              "parameter_missing")
        items = params.get("line_items") or []
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            raise StripeError(400, "invalid_request_error", "Missing required param: line_items.",
                              "parameter_missing")
        item = items[0]
        if mode == "payment":
            data = item.get("price_data") or {}
            amount = int(data.get("unit_amount", "0") or 0)
            currency = str(data.get("currency", ""))
            if amount < 50 or not currency:
                raise StripeError(400, "invalid_request_error", "The amount must be at least 50 cents.",
                                  "amount_too_small")
        else:
            price = self._find(self.prices, str(item.get("price", "")), "price")
            if not price.get("recurring"):
                raise StripeError(400, "invalid_request_error", "A subscription needs a recurring price.")
            amount, currency = int(price["unit_amount"]), str(price["currency"])
        amount *= int(item.get("quantity", "1") or 1)
        session_id = new_id("cs_test")
        session: Json = {
            "id": session_id, "object": "checkout.session", "mode": mode, "status": "open",
            "payment_status": "unpaid", "url": f"{self.url}/pay/{session_id}", "amount_total": amount,
            "currency": currency, "metadata": params.get("metadata") or {},
            "client_reference_id": params.get("client_reference_id"), "payment_intent": None,
            "subscription": None, "customer": None, "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"), "expires_at": int(time.time()) + 86400,
            "subscription_data": params.get("subscription_data") or {}, "livemode": False,
        }
        self.sessions[session_id] = session
        return session

    def _customer(self, email: str = "") -> Json:
        customer_id = new_id("cus")
        customer: Json = {"id": customer_id, "object": "customer", "email": email or None}
        self.customers[customer_id] = customer
        return customer

    def _update_subscription(self, subscription_id: str, params: Json) -> Json:
        subscription = self._find(self.subscriptions, subscription_id, "subscription")
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
            self._event("customer.subscription.updated", subscription)
        return subscription

    # -- playing the customer ------------------------------------------------------------------------------

    def add_price(self, unit_amount: int, currency: str = "usd", *, interval: str = "month") -> Json:
        """A recurring price (what an admin makes in the dashboard); its id goes into a tier."""
        with self._lock:
            price_id = new_id("price")
            price: Json = {"id": price_id, "object": "price", "unit_amount": unit_amount, "currency": currency,
                           "recurring": {"interval": interval}, "active": True}
            self.prices[price_id] = price
            return price

    def pay(self, session_id: str, *, delayed: bool = False) -> list[Json]:
        """The customer pays on the Checkout page; the events Stripe sends (``delayed``: paid later)."""
        with self._lock:
            session = self.sessions[session_id]
            session["status"] = "complete"
            made: list[Json] = []
            if session["mode"] == "payment":
                intent = new_id("pi")
                charge = {"id": new_id("ch"), "object": "charge", "amount": session["amount_total"],
                          "amount_refunded": 0, "currency": session["currency"], "payment_intent": intent,
                          "refunded": False, "paid": True}
                self.charges[charge["id"]] = charge
                session["payment_intent"] = intent
                session["payment_status"] = "unpaid" if delayed else "paid"
            else:
                customer = self._customer()
                session["customer"] = customer["id"]
                subscription = {"id": new_id("sub"), "object": "subscription", "customer": customer["id"],
                                "status": "active", "cancel_at_period_end": False,
                                "current_period_end": int(time.time()) + 30 * 86400,
                                "metadata": (session.get("subscription_data") or {}).get("metadata") or {}}
                self.subscriptions[subscription["id"]] = subscription
                session["subscription"] = subscription["id"]
                session["payment_status"] = "paid"
                made.append(self._event("customer.subscription.created", subscription))
                made.append(self._invoice(subscription, "subscription_create"))
            made.append(self._event("checkout.session.completed", session))
            return made

    def settle_delayed(self, session_id: str, *, succeeded: bool = True) -> list[Json]:
        """A delayed payment (a bank debit) succeeds or fails, days after checkout."""
        with self._lock:
            session = self.sessions[session_id]
            session["payment_status"] = "paid" if succeeded else "unpaid"
            kind = "succeeded" if succeeded else "failed"
            return [self._event(f"checkout.session.async_payment_{kind}", session)]

    def expire(self, session_id: str) -> list[Json]:
        """The session expires unpaid (or is expired through the API)."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise StripeError(400, "invalid_request_error", "Only open sessions can be expired.")
            session["status"] = "expired"
            return [self._event("checkout.session.expired", session)]

    def refund(self, session_id: str, amount: int | None = None) -> list[Json]:
        """Refund ``amount`` cents (all that is left by default) of a paid session's charge."""
        with self._lock:
            intent = self.sessions[session_id]["payment_intent"]
            [charge] = [c for c in self.charges.values() if c["payment_intent"] == intent]
            left = charge["amount"] - charge["amount_refunded"]
            charge["amount_refunded"] += left if amount is None else min(amount, left)
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            return [self._event("charge.refunded", charge)]

    def renew(self, subscription_id: str) -> list[Json]:
        """A new billing cycle: the subscription's next invoice is paid."""
        with self._lock:
            return [self._invoice(self.subscriptions[subscription_id], "subscription_cycle")]

    def _invoice(self, subscription: Json, reason: str) -> Json:
        invoice = {"id": new_id("in"), "object": "invoice", "status": "paid", "billing_reason": reason,
                   "customer": subscription["customer"],
                   "parent": {"type": "subscription_details", "subscription_details": {
                       "subscription": subscription["id"], "metadata": dict(subscription["metadata"])}}}
        self.invoices[invoice["id"]] = invoice
        return self._event("invoice.paid", invoice)

    def _event(self, kind: str, found: Json) -> Json:
        event = {"id": new_id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
                 "type": kind, "livemode": False, "pending_webhooks": 1,
                 "data": {"object": json.loads(json.dumps(found))}}
        self.events.append(event)
        return event

    # -- webhooks ------------------------------------------------------------------------------------------

    def deliver(self, event: Json, *, times: int = 1, secret: str | None = None, timestamp: int | None = None,
                url: str = "") -> list[int]:
        """POST ``event`` to the webhook endpoint ``times`` times, signed as Stripe signs; the statuses."""
        payload = json.dumps(event).encode()
        statuses = []
        for _ in range(times):
            signature = sign(payload, self.webhook_secret if secret is None else secret, timestamp)
            request = urllib.request.Request(url or self.webhook_url, data=payload, method="POST", headers={
                "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature,
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    statuses.append(answer.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        return statuses


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--port", type=int, default=8904)
    parser.add_argument("--key", default="sk_test_demo")
    args = parser.parse_args(argv)
    emulator = StripeEmulator(port=args.port, api_key=args.key).start()
    print(f"Stripe emulator on {emulator.url} (key {args.key[:8]}…)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
