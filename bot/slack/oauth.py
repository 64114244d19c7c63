"""Installing the app in any workspace: Bolt's OAuth flow behind ``GET /slack/install`` and ``/slack/oauth_redirect``.

``/slack/install`` issues a one-time state (stored, expiring after ten minutes, and set as a cookie in the
installer's browser) and redirects to Slack's authorize page; Slack sends the browser back to
``RAD_PUBLIC_URL/slack/oauth_redirect`` with a code. The redirect is refused unless its state is the
browser's and unused (a forged or replayed link), and unless ``oauth.v2.access`` accepts the code (a code works
once); then the installation is saved, its tokens sealed (``bot.slack.installations``). Neither the code nor
a token is ever logged: Bolt's own log lines about codes are redacted here, and failures log only their reason.

Slack's authorize page sits beside its Web API (``https://slack.com/api/`` -> ``https://slack.com/oauth/v2/
authorize``), so ``SLACK_API_URL`` points both at the same Slack (GovSlack, or the emulator in tests).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin
from wsgiref.types import StartResponse, WSGIEnvironment

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth import OAuthStateUtils

from bot.runtime import Runtime
from bot.slack.http import headers_of
from bot.slack.installations import STATE_LIFETIME, OAuthStateStore
from bot.slack.workspaces import InstalledWorkspaces
from bot.workspace_removal import record_removed
from core.config import Config

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
BOT_SCOPES = ("commands", "chat:write", "files:write", "im:write", "users:read", "channels:history",
              "groups:history", "im:history")
"""The bot scopes asked at install: the manifest's (``slack-manifest.yml``, ``oauth_config.scopes.bot``)."""
NOT_INSTALLED = (":warning: RAD is not installed in this workspace any more. An admin of the workspace can "
                 "install it again from the install link.")
"""What a user of a workspace without an installation is told (Bolt posts it to the request's response_url)."""
FAILURES = {
    "invalid_browser": "This install link was not opened in this browser, or it expired. Start again.",
    "invalid_state": "This install link has already been used or has expired. Start again.",
    "missing_code": "Slack sent no authorization code. Start again.",
    "invalid_code": "Slack did not accept this authorization (it can be used only once). Start again.",
    "storage_error": "The installation could not be saved. Please try again in a minute.",
    "access_denied": "The installation was cancelled: nothing was installed.",
}
CODE_IN_LOG = re.compile(r"""(code['"]?\s*[:=]\s*\[?['"]?)[^\s'",\]&]+""")
"""An OAuth code in a log line: ``code: X``, ``'code': ['X']``, ``code=X``."""

_flow_log = logging.getLogger(f"{__name__}.flow")
"""Bolt's OAuth flow logs here; ``HideCodes`` redacts the codes its lines carry."""


class HideCodes(logging.Filter):
    """Redact OAuth codes from Bolt's log lines ("Failed to fetch oauth.v2.access result with code: ...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the line without the code; keep it."""
        if "code" in str(record.msg):
            record.msg, record.args = CODE_IN_LOG.sub(r"\1<hidden>", record.getMessage()), None
        return True


_flow_log.addFilter(HideCodes())


def authorize_url(api_url: str) -> str:
    """Slack's authorize page for the Web API at ``api_url`` (``.../api/`` -> ``.../oauth/v2/authorize``)."""
    return urljoin(api_url.rstrip("/") + "/", "../oauth/v2/authorize")


def redirect_url(config: Config) -> str:
    """Where Slack sends the installer back: ``RAD_PUBLIC_URL/slack/oauth_redirect``."""
    return config.public_base_url.rstrip("/") + REDIRECT_PATH


def build_oauth_flow(config: Config, client: WebClient, workspaces: InstalledWorkspaces,
                     states: OAuthStateStore) -> OAuthFlow:
    """Bolt's OAuth flow with our stores, scopes, redirect URL and pages; ``client`` has no token."""
    pages = InstallPages(OAuthStateUtils(expiration_seconds=STATE_LIFETIME))
    settings = OAuthSettings(
        client_id=config.slack_client_id, client_secret=config.slack_client_secret, scopes=list(BOT_SCOPES),
        user_scopes=[], redirect_uri=redirect_url(config), install_path=INSTALL_PATH,
        install_page_rendering_enabled=False, redirect_uri_path=REDIRECT_PATH,
        callback_options=CallbackOptions(success=pages.installed, failure=pages.failed),
        authorization_url=authorize_url(config.slack_api_url), installation_store=workspaces.store,
        installation_store_bot_only=True, state_store=states,
        state_expiration_seconds=STATE_LIFETIME, logger=_flow_log)
    return OAuthFlow(client=client, logger=_flow_log, settings=settings)


PAGE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
        "<meta name=\"viewport\" content=\"width=device-width\"></head><body style=\"font-family:sans-serif;"
        "max-width:32em;margin:4em auto\"><h1>{title}</h1><p>{text}</p></body></html>")
PAGE_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


class InstallPages:
    """The pages the installer sees after Slack sends them back; each clears the state cookie."""

    def __init__(self, state_utils: OAuthStateUtils) -> None:
        self.state_utils = state_utils

    def installed(self, args: SuccessArgs) -> BoltResponse:
        """RAD is installed: say where, and how to start."""
        installation = args.installation
        team = html.escape(installation.team_name or installation.team_id or "your workspace")
        log.info("Slack app installed", extra={"team_id": installation.team_id,
                                               "installer": installation.user_id})
        body = PAGE.format(title="RAD is installed", text=f"RAD is now in <b>{team}</b>. Type <code>/rad help</code> "
                                                          "in any channel to see what it can do.")
        return BoltResponse(status=200, body=body, headers={
            **PAGE_HEADERS, "Set-Cookie": self.state_utils.build_set_cookie_for_deletion()})

    def failed(self, args: FailureArgs) -> BoltResponse:
        """Nothing was installed: say why (the reason only: never the code, the state or a token)."""
        reason = args.reason if args.reason in FAILURES else "other"
        log.warning("Slack installation refused", extra={"reason": reason, "status": args.suggested_status_code})
        text = FAILURES.get(reason, "The installation did not complete. Start again.")
        body = PAGE.format(title="RAD was not installed", text=html.escape(text) + " <a href=\"" + INSTALL_PATH
                           + "\">Install RAD</a>")
        return BoltResponse(status=args.suggested_status_code, body=body, headers={
            **PAGE_HEADERS, "Set-Cookie": self.state_utils.build_set_cookie_for_deletion()})


class OAuthRoutes:
    """The WSGI handlers of ``GET /slack/install`` and ``GET /slack/oauth_redirect`` (Bolt's flow answers)."""

    def __init__(self, flow: OAuthFlow) -> None:
        self.flow = flow

    def install(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Issue a state and send the browser to Slack's authorize page."""
        return self._answer(self.flow.handle_installation(self._request(environ)), start_response)

    def redirect(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Check the state, exchange the code, save the installation, and show the outcome."""
        return self._answer(self.flow.handle_callback(self._request(environ)), start_response)

    @staticmethod
    def _request(environ: WSGIEnvironment) -> BoltRequest:
        return BoltRequest(body="", query=str(environ.get("QUERY_STRING", "")), headers=headers_of(environ))

    @staticmethod
    def _answer(answer: BoltResponse, start_response: StartResponse) -> Iterable[bytes]:
        headers = {**{k: [v] for k, v in PAGE_HEADERS.items() if k.lower() not in answer.headers},
                   **answer.headers}
        response = WsgiHttpResponse(status=answer.status, headers=headers, body=answer.body)
        start_response(response.status, response.get_headers())
        return response.get_body()


class Uninstalls:
    """``app_uninstalled`` and ``tokens_revoked``: the workspace's installations are deleted at once.

    With the bot's token gone it can post nowhere there: the workspace's revenue digests are stopped too, and
    whoever set them is told (``bot.workspace_removal``), as when the bot leaves a Discord server.
    """

    def __init__(self, workspaces: InstalledWorkspaces, runtime: Runtime) -> None:
        self.workspaces, self.runtime = workspaces, runtime

    def app_uninstalled(self, context: BoltContext) -> None:
        """The app was removed from a workspace: forget every installation and token of it."""
        team = str(context.team_id or "")
        self.workspaces.forget(team, context.enterprise_id)
        stopped = record_removed(self.runtime, "slack", team, "")
        log.info("Slack app uninstalled: installation deleted", extra={"team_id": team, "digests_stopped": stopped})

    def tokens_revoked(self, event: dict[str, object], context: BoltContext) -> None:
        """Tokens were revoked: the bot's (the workspace is forgotten) or some users' (their installations)."""
        listed = event.get("tokens")
        tokens: dict[str, Any] = listed if isinstance(listed, dict) else {}
        team = str(context.team_id or "")
        if tokens.get("bot"):
            self.workspaces.forget(team, context.enterprise_id)
            record_removed(self.runtime, "slack", team, "")
        for user in tokens.get("oauth") or ():
            self.workspaces.store.delete_installation(enterprise_id=context.enterprise_id, team_id=team or None,
                                                      user_id=str(user))
        log.info("Slack tokens revoked: installation deleted",
                 extra={"team_id": team, "bot": bool(tokens.get("bot")), "users": len(tokens.get("oauth") or ())})
