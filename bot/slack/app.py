"""The Bolt app factory: one slash command, block actions, modal submissions, select options and thread messages.

Every listener answers inside the request (``process_before_response``): an ack stores the request as a job
(``bot.slack.queued``) and returns, so the process that acks never runs a command's work; workers do.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.runtime import Runtime
from bot.slack.listeners import SlackFrontDoor
from bot.slack.shapes import MalformedPayload, check_payload
from core.config import Config

log = logging.getLogger(__name__)

ANY = re.compile(r".+")


def make_client(config: Config) -> WebClient:
    """A Web API client for ``SLACK_API_URL`` with the bot token, retrying on 429 and dropped connections."""
    return WebClient(
        token=config.slack_bot_token or None,
        base_url=config.slack_api_url,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=3)],
    )


def build_app(
    runtime: Runtime,
    *,
    client: WebClient | None = None,
    token_verification: bool = True,
) -> App:
    """The production Bolt app; tests pass ``client=`` pointed at the Slack emulator.

    Without a signing secret (Socket Mode only) a random one is used, so signed HTTP requests can never
    pass verification by accident. HTTP requests reach it through ``bot.slack.http``, which checks them first;
    Socket Mode payloads are checked by the ``refuse_malformed`` middleware.
    """
    config = runtime.config
    secret = config.slack_signing_secret
    if not secret:
        log.info("no Slack signing secret: HTTP requests will be refused, Socket Mode still works")
        secret = secrets.token_hex(32)
    app = App(
        name="rad",
        client=client or make_client(config),
        signing_secret=secret,
        token_verification_enabled=token_verification,
        process_before_response=True,  # the ack is the listener's answer: no thread hop, no 10 ms polling
    )
    app.use(refuse_malformed)
    door = SlackFrontDoor(runtime)
    app.command(f"/{config.command}")(door.queue_command)
    app.action(ANY)(door.queue_action)
    app.view_submission(ANY)(door.submit_view)
    app.options(ANY)(door.suggest)
    app.event("message")(door.queue_message)
    app.event("app_home_opened")(door.queue_home)
    app.error(door.on_error)
    return app


def refuse_malformed(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
    """A Socket Mode payload no listener can read is answered 400, in one log line (HTTP ones never get here)."""
    if req.mode == "socket_mode":
        try:
            check_payload(req.body)
        except MalformedPayload as error:
            log.warning("malformed Slack payload refused", extra={"reason": str(error)})
            return BoltResponse(status=400, body={"error": "malformed payload"})
    return next()
