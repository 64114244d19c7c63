"""The Slack emulator's OAuth side: the authorize page, ``oauth.v2.access`` (codes and token rotation), tokens per team.

As Slack does it (https://docs.slack.dev/authentication/installing-with-oauth, .../using-token-rotation):
the authorize page sends the browser back to ``redirect_uri`` with ``code`` and the ``state`` it was given;
``oauth.v2.access`` wants the app's client id and secret (HTTP Basic, or form fields), exchanges a code once
(``invalid_code`` after), and must get the same ``redirect_uri`` the authorize page did (``bad_redirect_uri``).
With token rotation the bot token expires (``expires_in``) and comes with a refresh token; a refresh token is
exchanged once (``invalid_refresh_token`` after) for a new pair, and the old access token works until it expires.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

Answer = dict[str, Any]
SCOPES_GRANTED = "commands,chat:write,files:write,im:write,users:read,channels:history,groups:history,im:history"


@dataclass
class Issued:
    """A token the emulator issued: its workspace and bot, when it expires, whether it was revoked."""

    team_id: str
    team_name: str
    bot_user_id: str
    bot_id: str
    expires_at: float | None = None
    revoked: bool = False
    enterprise_id: str = ""

    def refusal(self) -> str:
        """The error Slack answers a call made with this token (empty when it works)."""
        if self.revoked:
            return "token_revoked"
        if self.expires_at is not None and self.expires_at <= time.time():
            return "token_expired"
        return ""


@dataclass
class Grant:
    """An authorization code: for which workspace and installer, the redirect URL it was issued for, used yet."""

    team_id: str
    team_name: str
    installer: str
    redirect_uri: str
    scope: str
    enterprise_id: str = ""
    used: bool = False


@dataclass
class OAuthSide:
    """The app's credentials and everything the OAuth side issued; thread-safe."""

    client_id: str = "1111.2222"
    client_secret: str = "emulated-client-secret-7c1d"
    app_id: str = "A1"
    token_rotation: bool = False
    """Issue expiring bot tokens with refresh tokens (the app's "token rotation" setting)."""
    token_lifetime: int = 12 * 3600
    """``expires_in`` of a rotating token (Slack: 12 hours)."""
    first_token_lifetime: int | None = None
    """``expires_in`` of the token a code gives, when it should differ (a test of a token about to expire)."""
    refresh_delay: float = 0.0
    """Seconds a refresh takes once its refresh token is spent (a slow Slack, so two refreshes can overlap)."""
    _installing: tuple[str, str, str, str] = ("T2", "Team T2", "UINSTALLER", "")
    _codes: dict[str, Grant] = field(default_factory=dict)
    _tokens: dict[str, Issued] = field(default_factory=dict)
    _refresh: dict[str, Issued] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install_into(self, team_id: str, team_name: str, installer: str, enterprise_id: str = "") -> None:
        """The workspace the next authorize visit installs into (in Enterprise Grid organisation ``enterprise_id``)."""
        with self._lock:
            self._installing = (team_id, team_name, installer, enterprise_id)

    def token(self, token: str) -> Issued | None:
        """What the emulator knows of a token it issued (None for one it did not issue)."""
        with self._lock:
            return self._tokens.get(token)

    def tokens(self, team_id: str) -> list[str]:
        """Every access token issued for ``team_id``, oldest first."""
        with self._lock:
            return [token for token, issued in self._tokens.items() if issued.team_id == team_id]

    def revoke(self, team_id: str) -> None:
        """Revoke the team's access and refresh tokens."""
        with self._lock:
            for issued in self._tokens.values():
                if issued.team_id == team_id:
                    issued.revoked = True
            for refresh in [r for r, issued in self._refresh.items() if issued.team_id == team_id]:
                del self._refresh[refresh]

    # -- the authorize page -------------------------------------------------------------------------

    def authorize(self, query: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """``GET /oauth/v2/authorize``: the installer approves at once; back to ``redirect_uri`` with a code."""
        if query.get("client_id") != self.client_id:
            return 400, {"Content-Type": "text/plain"}, b"invalid_client_id"
        redirect = str(query.get("redirect_uri") or "")
        if not redirect.startswith(("http://", "https://")):
            return 400, {"Content-Type": "text/plain"}, b"bad_redirect_uri"
        code = f"{next(self._ids)}.{secrets.token_hex(16)}"
        with self._lock:
            team_id, team_name, installer, enterprise_id = self._installing
            self._codes[code] = Grant(team_id, team_name, installer, redirect, str(query.get("scope") or ""),
                                      enterprise_id)
        back = {"code": code, **({"state": query["state"]} if query.get("state") else {})}
        location = redirect + ("&" if "?" in redirect else "?") + urlencode(back)
        return 302, {"Location": location, "Content-Type": "text/plain"}, b""

    # -- oauth.v2.access ----------------------------------------------------------------------------

    def access(self, body: dict[str, Any], authorization: str) -> Answer:
        """Exchange a code (or, with ``grant_type=refresh_token``, a refresh token) for a bot token."""
        client_id, client_secret = credentials(body, authorization)
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if body.get("grant_type") == "refresh_token":
            return self._refreshed(str(body.get("refresh_token") or ""))
        with self._lock:
            grant = self._codes.get(str(body.get("code") or ""))
            if grant is None or grant.used:
                return {"ok": False, "error": "invalid_code"}
            if body.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri:
                return {"ok": False, "error": "bad_redirect_uri"}
            grant.used = True
        lifetime = self.first_token_lifetime if self.first_token_lifetime is not None else self.token_lifetime
        answer = self._issue(grant.team_id, grant.team_name, lifetime, grant.enterprise_id)
        answer["authed_user"] = {"id": grant.installer}
        return answer

    def _refreshed(self, refresh: str) -> Answer:
        with self._lock:
            issued = self._refresh.pop(refresh, None)
        if issued is None:
            return {"ok": False, "error": "invalid_refresh_token"}
        time.sleep(self.refresh_delay)
        return self._issue(issued.team_id, issued.team_name, self.token_lifetime, issued.enterprise_id)

    def _issue(self, team_id: str, team_name: str, lifetime: int, enterprise_id: str) -> Answer:
        n = next(self._ids)
        rotating = self.token_rotation
        token = f"{'xoxe.' if rotating else ''}xoxb-{team_id}-{n}-{secrets.token_hex(12)}"
        issued = Issued(team_id, team_name, f"UB{team_id}", f"BB{team_id}",
                        time.time() + lifetime if rotating else None, enterprise_id=enterprise_id)
        enterprise = {"id": enterprise_id, "name": f"Org {enterprise_id}"} if enterprise_id else None
        answer: Answer = {"ok": True, "app_id": self.app_id, "scope": SCOPES_GRANTED, "token_type": "bot",
                          "access_token": token, "bot_user_id": issued.bot_user_id,
                          "team": {"id": team_id, "name": team_name}, "enterprise": enterprise,
                          "is_enterprise_install": False}
        with self._lock:
            self._tokens[token] = issued
            if rotating:
                refresh = f"xoxe-1-{secrets.token_hex(16)}"
                self._refresh[refresh] = issued
                answer.update(refresh_token=refresh, expires_in=lifetime)
        return answer


def credentials(body: dict[str, Any], authorization: str) -> tuple[str, str]:
    """The client id and secret of an ``oauth.v2.access`` call: HTTP Basic first, else form fields."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return "", ""
        return client_id, client_secret
    return str(body.get("client_id") or ""), str(body.get("client_secret") or "")
