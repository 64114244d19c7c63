"""The Bolt app factory: one slash command, block actions, modal submissions, select options and thread messages.

Every listener answers inside the request (``process_before_response``): an ack stores the request as a job
(``bot.slack.queued``) and returns, so the process that acks never runs a command's work; workers do.

Two modes. One workspace: ``SLACK_BOT_TOKEN`` answers everything. Many workspaces (``SLACK_CLIENT_ID``,
``SLACK_CLIENT_SECRET`` and ``SLACK_SIGNING_SECRET``): Bolt's OAuth flow installs the app
(``bot.slack.oauth``), and every request, queued request and background post uses the token of its own
workspace (``bot.slack.workspaces``); ``SLACK_BOT_TOKEN`` is then not used.
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
from bot.slack.installations import OAuthStateStore, SealedInstallationStore
from bot.slack.listeners import SlackFrontDoor
from bot.slack.messenger import SlackMessenger
from bot.slack.oauth import NOT_INSTALLED, Uninstalls, build_oauth_flow
from bot.slack.shapes import MalformedPayload, check_payload
from bot.slack.workspaces import (
    InstalledWorkspaces,
    OneWorkspace,
    WorkspaceAuthorize,
    Workspaces,
    exchange_client,
    with_token,
)
from core.config import Config

log = logging.getLogger(__name__)

ANY = re.compile(r".+")


def slack_served(config: Config) -> bool:
    """Whether Slack requests are answered: one workspace (``SLACK_BOT_TOKEN``) or many (OAuth)."""
    return bool(config.slack_bot_token) or config.slack_oauth


def make_client(config: Config) -> WebClient:
    """A Web API client for ``SLACK_API_URL``, retrying on 429 and dropped connections.

    It carries the bot token in single-workspace mode; with OAuth it has none (each workspace's is added per call).
    """
    return WebClient(
        token=None if config.slack_oauth else config.slack_bot_token or None,
        base_url=config.slack_api_url,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=3)],
    )


def installed_workspaces(runtime: Runtime, client: WebClient) -> InstalledWorkspaces:
    """The OAuth installations on the database, tokens sealed with the secret box."""
    config = runtime.config
    store = SealedInstallationStore(config.slack_client_id, runtime.db.engine, runtime.dispatcher.services.secrets)
    return InstalledWorkspaces(store, client, client_id=config.slack_client_id,
                               client_secret=config.slack_client_secret)


def make_workspaces(runtime: Runtime, client: WebClient) -> Workspaces:
    """Who speaks for each workspace: the installations (OAuth), or ``client`` for every one."""
    return installed_workspaces(runtime, client) if runtime.config.slack_oauth else OneWorkspace(client)


def make_messenger(runtime: Runtime, client: WebClient | None = None) -> SlackMessenger:
    """The Slack messenger of background work; with OAuth each post uses its workspace's token."""
    client = client or make_client(runtime.config)
    return SlackMessenger(client, f"/{runtime.config.command}", workspaces=make_workspaces(runtime, client))


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
    client = client or make_client(config)
    if config.slack_oauth:
        app = oauth_app(runtime, client, secret)
    else:
        app = App(
            name="rad",
            client=client,
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


def oauth_app(runtime: Runtime, client: WebClient, secret: str) -> App:
    """The app installed in many workspaces: Bolt's OAuth flow, each request authorized with its team's token."""
    config = runtime.config
    if config.slack_bot_token:
        log.warning("SLACK_CLIENT_ID is set: SLACK_BOT_TOKEN is not used, each workspace's installation answers")
    bare = client if client.token is None else with_token(client, None)
    workspaces = installed_workspaces(runtime, bare)
    app = App(
        name="rad",
        client=bare,
        signing_secret=secret,
        installation_store=workspaces.store,
        authorize=WorkspaceAuthorize(workspaces),  # type: ignore[arg-type]  # an Authorize may return None (refused)
        oauth_flow=build_oauth_flow(config, exchange_client(bare), workspaces, OAuthStateStore(runtime.db.engine)),
        user_facing_authorize_error_message=NOT_INSTALLED,
        process_before_response=True,
    )
    uninstalls = Uninstalls(workspaces, runtime)
    app.event("app_uninstalled")(uninstalls.app_uninstalled)
    app.event("tokens_revoked")(uninstalls.tokens_revoked)
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
