"""The HTTP front as several processes: gunicorn's settings, and the WSGI app each of its workers builds.

Run ``gunicorn -c python:bot.prefork``: ``WEB_CONCURRENCY`` worker processes (default two per core), each with
``RAD_WEB_THREADS`` threads (default 4), listening on ``PORT`` (3000). The master only forks and watches; each
worker builds its own runtime (database pool, Bolt app) after the fork, so nothing is shared but the socket.
The routes are ``bot.web``'s (``/slack/events``, ``/slack/install`` and ``/slack/oauth_redirect`` with OAuth,
``/stripe/webhook``, ``/healthz``, ``/metrics``). Slack
requests are acked by queueing a job: run ``python -m bot worker`` beside it to answer them.
"""

from __future__ import annotations

import os
from wsgiref.types import WSGIApplication

bind = f"0.0.0.0:{os.environ.get('PORT') or '3000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
worker_class = "gthread"
threads = int(os.environ.get("RAD_WEB_THREADS") or 4)
backlog = 2048
"""Connections the kernel holds while every worker is busy (a burst of clicks waits here, not refused)."""
timeout = 30
graceful_timeout = 20
keepalive = 5
wsgi_app = "bot.prefork:application()"


def application() -> WSGIApplication:
    """The web app of one gunicorn worker: configuration from the environment, its own database pool."""
    from bot.logs import configure_logging
    from bot.runtime import build_runtime
    from bot.slack.app import build_app, slack_served
    from bot.web import WebApp
    from core.config import Config

    configure_logging()
    config = Config.from_env()
    runtime = build_runtime(config)
    return WebApp(runtime, build_app(runtime) if slack_served(config) else None)
