"""The HTTP front: Slack events, Stripe webhooks, health and metrics on one small WSGI app served by waitress.

Routes: ``POST /slack/events`` (when a Slack app is given), ``GET /slack/install`` and ``GET /slack/oauth_redirect``
(when that app installs itself through OAuth: ``SLACK_CLIENT_ID``), ``POST /stripe/webhook`` (when
``STRIPE_WEBHOOK_SECRET`` is set), ``GET /stripe/success`` and ``GET /stripe/cancel`` (the pages Stripe
Checkout returns to), ``GET /healthz``, ``GET /metrics`` (behind a bearer token when
``RAD_METRICS_TOKEN`` is set; the platform's gauges are read from the database at each scrape).

``/healthz`` reports the database (``SELECT 1``), the queues (depth and oldest age; ``stuck`` when the oldest
waiting item is older than ``STUCK_QUEUE``) and each front door this process runs (process-local: a front door
registered with :func:`report_front_door` is asked whether it is connected now). It answers 503 when the
database or a front door is down; a stuck queue is reported but stays 200 (the alert rules page on it).

waitress refuses any body over ``MAX_BODY_BYTES`` (413) while reading it, before
the app runs; the routes check the limit again. ``serve`` blocks; ``start_background`` runs the same server in a
thread.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import prometheus_client
from slack_bolt import App
from sqlalchemy import func, select, text
from waitress.server import create_server

from bot.runtime import Runtime
from bot.slack.http import SlackHttpHandler
from bot.slack.oauth import OAuthRoutes
from bot.stripe_webhook import STRIPE_WEBHOOK_PATH, StripeEventHandlers, StripeWebhook, stripe_event_handlers
from bot.wsgi import MAX_BODY_BYTES, respond_json
from commands.framework.metrics import PlatformCollector
from core.payments.checkout import CANCEL_PATH, SUCCESS_PATH
from storage.models import DeploymentRun, Job, utcnow
from storage.models.states import DeploymentRunStatus, JobStatus

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
SERVER_THREADS = 8
STUCK_QUEUE = timedelta(minutes=10)
_FRONT_DOORS: dict[str, Callable[[], bool | str]] = {}
_FRONT_DOORS_LOCK = threading.Lock()


def report_front_door(name: str, alive: Callable[[], bool | str]) -> None:
    """Report ``name`` (``slack``, ``discord``) in this process's ``/healthz``; ``alive`` says how it is.

    True or ``ok`` when connected; False or a text saying what is down (``down (shard 1 of 2)``) when not.
    """
    with _FRONT_DOORS_LOCK:
        _FRONT_DOORS[name] = alive


def forget_front_door(name: str) -> None:
    """Stop reporting ``name`` (it was stopped)."""
    with _FRONT_DOORS_LOCK:
        _FRONT_DOORS.pop(name, None)


def front_doors() -> dict[str, str]:
    """Each reported front door: ``ok`` when connected, else ``down`` (with what is down, when it says)."""
    with _FRONT_DOORS_LOCK:
        checks = dict(_FRONT_DOORS)
    found = {}
    for name, alive in sorted(checks.items()):
        try:
            state = alive()
            found[name] = state if isinstance(state, str) else "ok" if state else "down"
        except Exception:
            found[name] = "down"
    return found

REQUESTS = prometheus_client.Counter("rad_http_requests", "HTTP requests answered", ["route", "status"])
LATENCY = prometheus_client.Histogram(
    "rad_http_request_seconds", "Time to answer an HTTP request", ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class WebApp:
    """A WSGI app with an exact (method, path) route table."""

    def __init__(self, runtime: Runtime, slack_app: App | None = None,
                 stripe_handlers: StripeEventHandlers | None = None) -> None:
        config = runtime.config
        self.runtime = runtime
        self._metrics_token = config.metrics_token.encode()
        self._platform = prometheus_client.CollectorRegistry(auto_describe=False)
        self._platform.register(PlatformCollector(runtime.db))
        self._slack_http = slack_app is not None
        self.routes: dict[tuple[str, str], WSGIApplication] = {
            ("GET", "/healthz"): self.healthz,
            ("GET", "/metrics"): self.metrics,
            ("GET", SUCCESS_PATH): return_page(PAID_PAGE),
            ("GET", CANCEL_PATH): return_page(CANCELLED_PAGE),
        }
        if slack_app is not None:
            self.add_route("POST", SLACK_EVENTS_PATH, SlackHttpHandler(slack_app, config.slack_signing_secret))
            if slack_app.oauth_flow is not None:
                oauth = OAuthRoutes(slack_app.oauth_flow)
                self.add_route("GET", slack_app.oauth_flow.install_path, oauth.install)
                self.add_route("GET", slack_app.oauth_flow.redirect_uri_path, oauth.redirect)
        if config.stripe_webhook_secret:
            handlers = stripe_event_handlers(runtime) if stripe_handlers is None else stripe_handlers
            self.add_route("POST", STRIPE_WEBHOOK_PATH, StripeWebhook(config.stripe_webhook_secret, handlers))

    def add_route(self, method: str, path: str, handler: WSGIApplication) -> None:
        """Serve ``handler`` for ``method path`` (e.g. ``POST /stripe/webhook``)."""
        self.routes[(method.upper(), path)] = handler

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Route a request to its handler (404 for anything else) and count it in the request metrics."""
        method, path = environ.get("REQUEST_METHOD", "GET").upper(), environ.get("PATH_INFO", "")
        handler = self.routes.get((method, path))
        route = path if handler is not None else "other"
        started = time.perf_counter()
        status_seen: list[str] = []

        def recording_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_seen.append(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            if handler is None:
                return respond_json(recording_start, "404 Not Found", {"error": "not found"})
            return handler(environ, recording_start)
        finally:
            REQUESTS.labels(route, status_seen[0] if status_seen else "500").inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)

    def healthz(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The database, the queues and this process's front doors; 503 when the database or a front door is down."""
        try:
            with self.runtime.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            queues = self._queues()
        except Exception as error:
            log.warning("health check: database unreachable", extra={"error": type(error).__name__})
            return respond_json(start_response, "503 Service Unavailable", {"status": "error", "database": "error"})
        doors = front_doors()
        if self._slack_http:
            doors["slack"] = "ok"  # served by this very server
        down = any(state != "ok" for state in doors.values())
        body = {"status": "error" if down else "ok", "database": "ok", "queues": queues, "front_doors": doors}
        return respond_json(start_response, "503 Service Unavailable" if down else "200 OK", body)

    def _queues(self) -> dict[str, dict[str, Any]]:
        """Each queue's depth, its oldest waiting item's age in seconds, and ``ok`` or ``stuck``."""
        now = utcnow()
        with self.runtime.db.unit_of_work() as session:
            jobs = session.execute(select(func.count(), func.min(Job.run_after)).where(
                Job.status == JobStatus.QUEUED, Job.run_after <= now)).one()
            runs = session.execute(select(func.count(), func.min(DeploymentRun.created_at)).where(
                DeploymentRun.status == DeploymentRunStatus.QUEUED)).one()
        found = {}
        for name, (depth, oldest) in (("jobs", jobs), ("deployment_runs", runs)):
            age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
            found[name] = {"depth": int(depth or 0), "oldest_seconds": round(age, 1),
                           "status": "stuck" if age > STUCK_QUEUE.total_seconds() else "ok"}
        return found

    def metrics(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Prometheus metrics; with ``RAD_METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``."""
        if self._metrics_token and not bearer_matches(environ, self._metrics_token):
            log.warning("metrics refused: missing or wrong bearer token")
            return respond_json(start_response, "401 Unauthorized", {"error": "a bearer token is required"},
                                [("WWW-Authenticate", 'Bearer realm="metrics"')])
        body = prometheus_client.generate_latest() + prometheus_client.generate_latest(self._platform)
        start_response("200 OK", [("Content-Type", prometheus_client.CONTENT_TYPE_LATEST),
                                  ("Content-Length", str(len(body)))])
        return [body]


PAGE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
        "<meta name=\"viewport\" content=\"width=device-width\"></head><body style=\"font-family:sans-serif;"
        "max-width:32em;margin:4em auto\"><h1>{title}</h1><p>{text}</p><p>You can close this tab.</p></body></html>")
PAID_PAGE = PAGE.format(title="Thank you", text="Your payment went through. Your credits are added as soon as "
                        "Stripe confirms it, and the bot tells you in chat.")
CANCELLED_PAGE = PAGE.format(title="Payment cancelled", text="Nothing was charged and no credits were added.")


def return_page(html: str) -> WSGIApplication:
    """A fixed page Stripe Checkout sends the user back to (it shows nothing of the request)."""
    body = html.encode()

    def page(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                                  ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")])
        return [body]

    return page


def bearer_matches(environ: WSGIEnvironment, token: bytes) -> bool:
    """Whether the request's ``Authorization`` header is ``Bearer <token>`` (compared in constant time)."""
    scheme, _, given = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8", "replace"), token)


def make_server(runtime: Runtime, slack_app: App | None, host: str, port: int,
                stripe_handlers: StripeEventHandlers | None = None) -> Any:
    """A waitress server for the WebApp; waitress refuses bodies over ``MAX_BODY_BYTES`` as it reads them."""
    return create_server(WebApp(runtime, slack_app, stripe_handlers), host=host, port=port, threads=SERVER_THREADS,
                         ident="rad", max_request_body_size=MAX_BODY_BYTES + 1)  # it refuses sizes >= its limit


def serve(runtime: Runtime, slack_app: App | None, host: str = "0.0.0.0", port: int | None = None) -> None:
    """Serve until interrupted (blocking)."""
    server = make_server(runtime, slack_app, host, runtime.config.port if port is None else port)
    log.info("serving HTTP", extra={"host": host, "port": server.effective_port})
    server.run()


@dataclass
class BackgroundServer:
    """The same server in a daemon thread; ``stop()`` closes it and waits for the thread."""

    server: Any
    thread: threading.Thread
    host: str

    @property
    def port(self) -> int:
        """The port the server listens on (the one chosen when asked for port 0)."""
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        """The server's base URL, ``http://<host>:<port>``."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket from the server's own loop, then stop its worker threads."""
        def close_all() -> None:
            for channel in list(self.server._map.values()):
                channel.close()

        try:
            self.server.trigger.pull_trigger(close_all)
        except OSError:  # the wake-up pipe is already closed: close from here, the loop sees it within 1 s
            log.warning("the HTTP server's wake-up pipe was closed; closing its sockets directly")
            close_all()
        self.thread.join(timeout)
        self.server.task_dispatcher.shutdown(timeout=timeout)


def start_background(runtime: Runtime, slack_app: App | None, host: str = "127.0.0.1", port: int = 0,
                     stripe_handlers: StripeEventHandlers | None = None) -> BackgroundServer:
    """Start serving in a thread (port 0 picks a free port) and return a handle to stop it."""
    server = make_server(runtime, slack_app, host, port, stripe_handlers)
    thread = threading.Thread(target=server.run, name="rad-web", daemon=True)
    thread.start()
    return BackgroundServer(server, thread, host)
