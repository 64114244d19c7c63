"""Which bot token speaks for a Slack workspace: the one ``SLACK_BOT_TOKEN``, or that workspace's installation.

Single-workspace mode (``OneWorkspace``) answers every team with the one client. With OAuth
(``InstalledWorkspaces``) each team's bot token is read from the installation store when it is needed: for a
request Bolt is acking (``WorkspaceAuthorize``), for a queued request a worker runs, for a background post to a
``ConversationRef`` (its ``workspace`` is the team id). A token that expires soon (token rotation) is refreshed
first with ``oauth.v2.access`` and saved; nothing is cached, so an uninstall or a revocation is seen by every
process at its next lookup.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from slack_bolt import BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.slack.installations import SealedInstallationStore
from core.secrets import SecretUnreadable

log = logging.getLogger(__name__)

ROTATE_BEFORE_MINUTES = 120
"""Refresh a rotating token this long before it expires (Bolt's default; Slack's tokens live 12 hours)."""
GONE = frozenset({"invalid_refresh_token", "invalid_grant", "token_revoked", "token_expired", "app_uninstalled",
                  "account_inactive", "invalid_auth", "not_authed"})
"""``oauth.v2.access`` refresh errors after which the installation can no longer be used: reinstall."""
RACE_WAITS = (0.2, 0.4, 0.8)
"""Seconds to wait, one after the other, for another process's refresh to be saved when ours was refused."""


class NotInstalled(Exception):
    """The workspace has no usable installation of the app (never installed, uninstalled, tokens revoked)."""

    def __init__(self, team_id: str) -> None:
        super().__init__(f"the app is not installed in Slack workspace {team_id or '(none)'}")
        self.team_id = team_id


class Workspaces(Protocol):
    """Gives the Web API client that speaks for a workspace."""

    def client_for(self, team_id: str) -> WebClient:
        """The client with ``team_id``'s bot token; raises NotInstalled when there is none."""
        ...


class OneWorkspace:
    """Single-workspace mode: one bot token for every request and post."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def client_for(self, team_id: str) -> WebClient:
        """The one client, whatever the team."""
        return self.client


_token_exchanges = logging.getLogger(f"{__name__}.token_exchanges")
_token_exchanges.setLevel(logging.INFO)
"""The logger of the clients that exchange codes and refresh tokens: ``slack_sdk`` logs whole responses (tokens
included) at DEBUG, so this one never does, whatever ``RAD_LOG_LEVEL`` says."""


def with_token(base: WebClient, token: str | None) -> WebClient:
    """A client like ``base`` (URL, timeout, retries) with ``token``."""
    return WebClient(token=token, base_url=base.base_url, timeout=base.timeout, proxy=base.proxy,
                     headers=dict(base.headers), retry_handlers=list(base.retry_handlers))


def exchange_client(base: WebClient) -> WebClient:
    """A tokenless client like ``base`` for ``oauth.v2.access``, which never logs what it sends or receives."""
    return WebClient(base_url=base.base_url, timeout=base.timeout, proxy=base.proxy, headers=dict(base.headers),
                     retry_handlers=list(base.retry_handlers), logger=_token_exchanges)


def slack_error(error: BaseException) -> str:
    """The Slack error code behind ``error`` (``token_revoked``...), or its type's name."""
    api_error = getattr(error, "api_error", error)
    response = getattr(api_error, "response", None)
    return str(response.get("error", "")) if response is not None else type(error).__name__


class InstalledWorkspaces:
    """Per-team bot tokens from the installation store, refreshed when they are about to expire."""

    def __init__(self, store: SealedInstallationStore, base: WebClient, *, client_id: str, client_secret: str,
                 rotate_before_minutes: int = ROTATE_BEFORE_MINUTES) -> None:
        self.store = store
        self.base = base
        self.rotate_before_minutes = rotate_before_minutes
        self.rotator = TokenRotator(client_id=client_id, client_secret=client_secret, client=exchange_client(base))
        self._rotating = threading.Lock()

    def bot(self, team_id: str, enterprise_id: str | None = None) -> Bot | None:
        """The team's installed bot with a token valid now (refreshed if needed), or None when there is none.

        Raises SlackApiError when a refresh failed for a passing reason (Slack down): try again later.
        """
        if not team_id and not enterprise_id:
            return None
        bot = self._find(team_id, enterprise_id)
        if bot is None or not self._expiring(bot):
            return bot
        with self._rotating:  # one refresh per process at a time: a refresh token works once
            current = self._find(team_id, enterprise_id)
            if current is None or not self._expiring(current):
                return current  # uninstalled meanwhile, or another thread refreshed it
            return self._refresh(current, team_id, enterprise_id)

    def client_for(self, team_id: str) -> WebClient:
        """A client with the team's bot token; raises NotInstalled when the team has no installation."""
        bot = self.bot(team_id)
        if bot is None:
            raise NotInstalled(team_id)
        return with_token(self.base, bot.bot_token)

    def forget(self, team_id: str, enterprise_id: str | None = None) -> None:
        """Delete the team's installations and bots (the app was uninstalled, or its tokens revoked)."""
        self.store.delete_all(enterprise_id=enterprise_id, team_id=team_id or None)

    def _find(self, team_id: str, enterprise_id: str | None) -> Bot | None:
        """The workspace's bot by its team id (unique in Slack); an org-wide install's by its organisation."""
        if team_id:
            return self.store.find_team_bot(team_id)
        return self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id or None,
                                   is_enterprise_install=not team_id)

    def _expiring(self, bot: Bot) -> bool:
        expires_at = bot.bot_token_expires_at
        return bot.bot_refresh_token is not None and expires_at is not None and \
            expires_at <= time.time() + self.rotate_before_minutes * 60

    def _refresh(self, bot: Bot, team_id: str, enterprise_id: str | None) -> Bot | None:
        team = str(bot.team_id or "")
        try:
            refreshed = self.rotator.perform_bot_token_rotation(bot=bot,
                                                                minutes_before_expiration=self.rotate_before_minutes)
        except SlackTokenRotationError as error:
            code = slack_error(error)
            for wait in (0.0, *RACE_WAITS):  # another process may have spent the refresh token and be saving
                time.sleep(wait)
                again = self._find(team_id, enterprise_id)
                if again is None or again.bot_token != bot.bot_token:
                    return again  # refreshed by another process (or uninstalled meanwhile)
            if code not in GONE:
                log.warning("Slack token refresh failed, will try again", extra={"team_id": team, "slack_error": code})
                raise error.api_error from None
            log.error("Slack token refresh refused: the workspace must install the app again",
                      extra={"team_id": team, "slack_error": code})
            return None
        if refreshed is None:
            return bot
        self.store.save_bot(refreshed)
        log.info("Slack bot token refreshed", extra={"team_id": team, "expires_at": refreshed.bot_token_expires_at})
        return refreshed


class WorkspaceAuthorize(Authorize):
    """Bolt's authorize for OAuth mode: the request's team's installed bot, read (and refreshed) from the store.

    No ``auth.test`` per request: the installation keeps the bot's ids, so an ack costs one database read. A team
    without an installation is refused (Bolt answers the user that the app is not installed).
    """

    def __init__(self, workspaces: InstalledWorkspaces) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.workspaces = workspaces

    def __call__(self, *, context: BoltContext, enterprise_id: str | None, team_id: str | None,
                 user_id: str | None, **actor: Any) -> AuthorizeResult | None:
        """The installed bot of the request's team, or None (refused)."""
        try:
            bot = self.workspaces.bot(team_id or "", enterprise_id)
        except SecretUnreadable:
            log.error("Slack token of the workspace cannot be decrypted (RAD_SECRET_KEY lost its old key?): "
                      "request refused", extra={"team_id": team_id})
            return None
        except (SlackApiError, OSError) as error:
            log.error("Slack token lookup failed, request refused",
                      extra={"team_id": team_id, "slack_error": slack_error(error)})
            return None
        if bot is None:
            log.warning("Slack request from a workspace without an installation refused", extra={"team_id": team_id})
            return None
        return AuthorizeResult(enterprise_id=bot.enterprise_id, team_id=bot.team_id, bot_id=bot.bot_id,
                               bot_user_id=bot.bot_user_id, bot_token=bot.bot_token, bot_scopes=bot.bot_scopes,
                               user_id=user_id)
