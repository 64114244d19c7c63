"""``POST /stripe/webhook`` over real HTTP: signed as Stripe signs, verified by the real ``stripe`` library."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import stripe

from bot.runtime import Runtime
from bot.stripe_webhook import StripeEventHandlers
from bot.web import BackgroundServer, start_background
from bot.wsgi import MAX_BODY_BYTES
from commands.framework.dispatch import Dispatcher
from core.config import Config
from tests.support.http_raw import chunked, exchange
from tests.support.processes import ROOT, free_port, wait_until

WEBHOOK_SECRET = "whsec_test_5e5e5e5e5e"
PATH = "/stripe/webhook"


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")``."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def event_body(event_type: str = "checkout.session.completed", event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "api_version": "2024-06-20",
                       "created": 1700000000, "livemode": False,
                       "data": {"object": {"id": "cs_test_1", "object": "checkout.session",
                                           "client_reference_id": "42", "amount_total": 1500}}}).encode()


class Webhook:
    """The running server, and what the test's handlers received."""

    def __init__(self, server: BackgroundServer, received: list[stripe.Event]) -> None:
        self.server = server
        self.received = received

    def post(self, body: bytes, signature: str | None = None, *, signed: bool = True) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature is not None or signed:
            headers["Stripe-Signature"] = signature if signature is not None else sign(body)
        request = urllib.request.Request(self.server.url + PATH, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def stripe_runtime(config: Config, dispatcher: Dispatcher, secret: str) -> Runtime:
    return Runtime(replace(config, stripe_webhook_secret=secret), dispatcher.db, dispatcher.registry, dispatcher)


@pytest.fixture
def webhook(config: Config, dispatcher: Dispatcher) -> Iterator[Webhook]:
    received: list[stripe.Event] = []
    handlers = StripeEventHandlers()
    handlers.register("checkout.session.completed", received.append)

    def failing(event: stripe.Event) -> None:
        raise RuntimeError("the ledger is down")

    handlers.register("invoice.paid", failing)
    server = start_background(stripe_runtime(config, dispatcher, WEBHOOK_SECRET), None, stripe_handlers=handlers)
    yield Webhook(server, received)
    server.stop()


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


def test_a_signed_event_reaches_its_handler(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert webhook.post(event_body()) == (200, {"received": True})
    (event,) = webhook.received
    assert isinstance(event, stripe.Event)
    assert (event.id, event.type, event.data.object.id) == ("evt_1", "checkout.session.completed", "cs_test_1")
    assert WEBHOOK_SECRET not in everything_logged(caplog)


def test_an_event_without_a_handler_is_acknowledged_and_logged_at_debug(webhook: Webhook,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.stripe_webhook")
    assert webhook.post(event_body("customer.created", "evt_9")) == (200, {"received": True})
    assert webhook.received == []
    (line,) = [r for r in caplog.records if r.name == "bot.stripe_webhook"]
    assert line.levelno == logging.DEBUG
    assert (line.__dict__["event_type"], line.__dict__["event_id"]) == ("customer.created", "evt_9")
    assert "cs_test_1" not in everything_logged(caplog)  # type and id only, never the payload


@pytest.mark.parametrize("signature", [
    None,
    "",
    "garbage",
    "t=notanumber,v1=abc",
    sign(event_body(), secret="whsec_someone_else"),
    sign(event_body(), timestamp=int(time.time()) - 3600),  # replayed an hour later
    sign(event_body()).replace("v1=", "v0="),
])
def test_a_wrong_or_missing_signature_is_400_with_a_warning_and_no_payload(
        webhook: Webhook, caplog: pytest.LogCaptureFixture, signature: str | None) -> None:
    status, answer = webhook.post(event_body(), signature, signed=signature is not None)
    assert (status, answer) == (400, {"error": "invalid signature"})
    assert webhook.received == []
    (line,) = [r for r in caplog.records if r.name == "bot.stripe_webhook"]
    assert line.levelno == logging.WARNING and not line.exc_info
    logged = everything_logged(caplog)
    assert "cs_test_1" not in logged and WEBHOOK_SECRET not in logged


def test_the_signature_is_checked_before_the_body_is_parsed(webhook: Webhook,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    status, answer = webhook.post(b"{this is not json", "t=1,v1=00")
    assert (status, answer) == (400, {"error": "invalid signature"})
    assert not any("malformed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("body", [
    b"{this is not json",
    b"[1, 2, 3]",
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"object": "event", "type": "x.y"}).encode(),  # no id
    json.dumps({"id": "evt_1", "object": "charge", "type": "x.y"}).encode(),  # not an event
    json.dumps({"id": 5, "object": "event", "type": "x.y"}).encode(),
])
def test_a_signed_malformed_body_is_400_without_a_traceback(webhook: Webhook, caplog: pytest.LogCaptureFixture,
                                                            body: bytes) -> None:
    status, answer = webhook.post(body)
    assert (status, answer) == (400, {"error": "malformed payload"})
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert any(r.getMessage() == "malformed Stripe webhook refused" for r in caplog.records)


def test_a_body_that_is_not_utf8_is_400(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    status, _ = webhook.post(b'{"id": "\xff"}')
    assert status == 400
    assert [r for r in caplog.records if r.exc_info] == []


def test_a_failing_handler_answers_500_so_stripe_retries(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    status, answer = webhook.post(event_body("invoice.paid", "evt_5"))
    assert status == 500 and answer["error"].startswith("error id ")
    (line,) = [r for r in caplog.records if r.getMessage() == "Stripe event handler failed"]
    assert line.__dict__["event_id"] == "evt_5"


def test_bodies_over_the_limit_are_refused_before_they_are_read(webhook: Webhook) -> None:
    declared = exchange(webhook.server.url, f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                            f"Stripe-Signature: t=1,v1=0\r\nContent-Length: {MAX_BODY_BYTES + 1}")
    assert (declared.status, declared.sent) == (413, 0)
    endless = exchange(webhook.server.url, f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                           "Transfer-Encoding: chunked", chunked(b"{" * 65536, 512))
    assert endless.status == 413
    assert endless.sent < 32 * 1024 * 1024  # refused long before the 32 MiB were read (kernel buffers hold some)


def test_a_chunked_signed_event_under_the_limit_is_handled(webhook: Webhook) -> None:
    body = event_body(event_id="evt_chunked")
    answer = exchange(webhook.server.url, f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                          f"Stripe-Signature: {sign(body)}\r\nTransfer-Encoding: chunked",
                      chunked(body, 1))
    assert answer.status == 200
    assert [e.id for e in webhook.received] == ["evt_chunked"]


def test_the_route_exists_only_with_a_webhook_secret(config: Config, dispatcher: Dispatcher) -> None:
    server = start_background(stripe_runtime(config, dispatcher, ""), None)
    try:
        body = event_body()
        request = urllib.request.Request(server.url + PATH, data=body, headers={"Stripe-Signature": sign(body)})
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(request, timeout=10)
        assert missing.value.code == 404
    finally:
        server.stop()


def test_without_handlers_every_signed_event_is_acknowledged(config: Config, dispatcher: Dispatcher) -> None:
    server = start_background(stripe_runtime(config, dispatcher, WEBHOOK_SECRET), None)
    try:
        webhook = Webhook(server, [])
        assert webhook.post(event_body()) == (200, {"received": True})
        assert webhook.post(event_body(), "t=1,v1=00")[0] == 400
    finally:
        server.stop()


def test_one_handler_per_event_type() -> None:
    handlers = StripeEventHandlers()
    handlers.register("checkout.session.completed", lambda event: None)
    with pytest.raises(ValueError, match="already registered"):
        handlers.register("checkout.session.completed", lambda event: None)
    assert handlers.event_types == ["checkout.session.completed"]


def test_the_web_process_serves_the_webhook_and_guards_metrics(tmp_path: Path) -> None:
    """``python -m bot web`` from the environment: the variables mount the route and guard /metrics."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "RAD_", "DATABASE_",
                                                                   "STRIPE_"))}
    env.update({"RAD_DATA_DIR": str(tmp_path / "data"), "PORT": str(port), "RAD_LOG_LEVEL": "DEBUG",
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "RAD_METRICS_TOKEN": "process-metrics-token"})
    process = subprocess.Popen([sys.executable, "-m", "bot", "web"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or http_status(url + "/healthz") == 200, 60, "/healthz")
        assert process.poll() is None
        body = event_body()
        signed = urllib.request.Request(url + PATH, data=body, headers={"Stripe-Signature": sign(body)})
        with urllib.request.urlopen(signed, timeout=10) as answer:
            assert answer.status == 200
        assert http_status(url + "/metrics") == 401
        assert http_status(url + "/metrics", {"Authorization": "Bearer process-metrics-token"}) == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    logged = output.decode(errors="replace")
    assert WEBHOOK_SECRET not in logged and "process-metrics-token" not in logged


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):
        return 0
