"""GitHub access for connecting a repository: a thin, typed wrapper over PyGithub.

Tokens are passed to each call (decrypted at the moment of use) and are never kept, logged or shown:
messages name what went wrong and what to do, never the token. Transient failures (5xx, rate limits)
are retried with bounded backoff by PyGithub's ``GithubRetry``, then reported as ``GitHubUnavailable``.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import BadCredentialsException, RateLimitExceededException
from requests.utils import parse_header_links
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from core.config import DEFAULT_GITHUB_API_URL, Config
from core.errors import InvalidInput, NotAllowed, NotFound, RadError, Unavailable
from core.network import assert_no_transaction
from core.repos.pacing import RequestPacer

log = logging.getLogger(__name__)

TokenKind = Literal["classic", "fine-grained"]
REQUIRED_SCOPE = "repo"
NEW_TOKEN_HINT = ("Create a new token in GitHub (Settings → Developer settings → Personal access tokens): a classic "
                  "token with the `repo` scope, or a fine-grained token with Contents: Read-only on the repository.")
_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")
_FULL_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_NOT_ACCESSIBLE = "resource not accessible"


class GitHubUnavailable(Unavailable):
    """GitHub did not answer, or its rate limit is reached; ``retry_at`` says when to try again, if known."""


@dataclass(frozen=True)
class TokenInfo:
    """Who a token belongs to and what it may do (never the token itself)."""

    login: str
    kind: TokenKind
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepoSummary:
    """A repository as the connect form shows it."""

    full_name: str
    default_branch: str
    private: bool
    can_push: bool
    html_url: str
    description: str = ""


class _BoundedRetry(GithubRetry):
    """``GithubRetry`` that gives up rather than honour a ``Retry-After`` above ``max_rate_limit_wait``.

    With a ``pacer`` (concurrent reads), a rate-limit answer it will wait out pauses every other request of the
    burst for as long, so the threads back off together instead of each meeting the limit in turn.
    """

    def __init__(self, pacer: RequestPacer | None = None, **kwargs: Any) -> None:
        self.pacer = pacer
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> Self:
        """A copy for the next attempt, keeping the pacer."""
        return super().new(pacer=self.pacer, **kw)

    def increment(  # type: ignore[override]
        self, method: str | None = None, url: str | None = None, response: Any = None,
        error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None,
    ) -> Retry:
        wait = self.get_retry_after(response) if response is not None else None
        if wait is not None and self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
            raise MaxRetryError(_pool, url or "", ResponseError("Retry-After exceeds the allowed wait"))
        if self.pacer is not None and response is not None and response.status in (403, 429):
            pause = wait if wait is not None else _until_reset(response.headers)
            if pause is not None and (self.max_rate_limit_wait is None or pause <= self.max_rate_limit_wait):
                self.pacer.pause(pause)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _until_reset(headers: Mapping[str, Any]) -> float | None:
    """Seconds until the primary rate limit resets, when an answer says it is used up; else None."""
    reset = str(_header(headers, "x-ratelimit-reset") or "")
    if str(_header(headers, "x-ratelimit-remaining")) != "0" or not reset.isdigit():
        return None
    return max(0.0, int(reset) - time.time() + 1)


class _GuardedToken(Auth.Token):
    """A token that refuses each request made inside a database transaction (PyGithub adds it per request).

    With a ``pacer``, each request also waits for its turn (see :mod:`core.repos.pacing`).
    """

    def __init__(self, token: str, doing: str, pacer: RequestPacer | None = None) -> None:
        super().__init__(token)
        self.doing, self.pacer = doing, pacer

    def authentication(self, headers: dict[str, Any]) -> None:
        assert_no_transaction(f"GitHubClient ({self.doing})")
        if self.pacer is not None:
            self.pacer.acquire()
        super().authentication(headers)


@dataclass(frozen=True)
class GitHubClient:
    """Calls GitHub's REST API at ``base_url`` (github.com or GitHub Enterprise ``https://host/api/v3``).

    ``retries`` and ``backoff`` bound the retries of 5xx answers; ``max_wait`` is the longest wait (seconds)
    for a rate limit before giving up with a clear error; ``throttle`` spaces requests as PyGithub does.
    A scan reads blobs ``read_workers`` at a time, at most ``read_per_minute`` a minute (GitHub allows 100
    concurrent requests and 900 a minute per endpoint); those reads are paced by a shared pacer, not ``throttle``.
    """

    base_url: str = DEFAULT_GITHUB_API_URL
    retries: int = 3
    backoff: float = 0.5
    max_wait: float = 60.0
    timeout: int = 15
    throttle: float | None = 0.25
    read_workers: int = 8
    read_per_minute: int = 800

    @classmethod
    def from_config(cls, config: Config, **options: Any) -> GitHubClient:
        """A client for ``GITHUB_API_URL``."""
        return cls(base_url=config.github_api_url, **options)

    def check_token(self, token: str) -> TokenInfo:
        """Who owns ``token`` and its kind; a classic token must carry the ``repo`` scope."""
        with self._github(token, "check your token") as gh:
            login = gh.get_user().login
            scopes = gh.oauth_scopes
        if scopes is None:
            return TokenInfo(login, "fine-grained")
        info = TokenInfo(login, "classic", tuple(s.strip() for s in scopes if s.strip()))
        if REQUIRED_SCOPE not in info.scopes:
            has = ", ".join(f"`{s}`" for s in info.scopes) or "no scopes"
            raise InvalidInput(f"This classic token lacks the `{REQUIRED_SCOPE}` scope (it has {has}).",
                               hint=f"Edit the token in GitHub and tick `{REQUIRED_SCOPE}`, or create a new one.")
        return info

    def check_repository_access(self, token: str, full_name: str) -> RepoSummary:
        """The repository, once ``token`` is shown to read its contents (what a fine-grained token needs)."""
        name = _full_name(full_name)
        with self._github(token, f"read {name}", name) as gh:
            repo = gh.get_repo(name)
            summary = _summary(repo.raw_data)
            try:
                repo.get_contents("")
            except GithubException as exc:
                if exc.status == 404:
                    raise InvalidInput(f"{name} is empty.", hint="Push your modules to it first.") from None
                raise
        return summary

    def list_repositories(self, token: str, page: int = 1, per_page: int = 30) -> tuple[list[RepoSummary], bool]:
        """One page (1-based, ``per_page`` up to 100) of the repositories the token sees, and whether more follow."""
        per_page, page = min(100, max(1, per_page)), max(1, page)
        with self._github(token, "list your repositories") as gh:
            headers, data = gh.requester.requestJsonAndCheck(
                "GET", "/user/repos", parameters={"per_page": per_page, "page": page, "sort": "full_name"})
        links = parse_header_links(str(_header(headers, "link") or ""))
        return [_summary(item) for item in data or []], any(link.get("rel") == "next" for link in links)

    def get_repository(self, token: str, full_name: str) -> RepoSummary:
        """The repository ``owner/name`` with its default branch."""
        name = _full_name(full_name)
        with self._github(token, f"read {name}", name) as gh:
            return _summary(gh.get_repo(name).raw_data)

    def session(self, token: str, doing: str, repo: str = "", pacer: RequestPacer | None = None,
                ) -> AbstractContextManager[Github]:
        """A PyGithub client for several calls (a scan); GitHub's failures come out as ``RadError``.

        A PyGithub client is for one thread at a time: concurrent reads take one each, sharing ``pacer``
        (which then replaces ``throttle``).
        """
        return self._github(token, doing, repo, pacer)

    @contextmanager
    def _github(self, token: str, doing: str, repo: str = "", pacer: RequestPacer | None = None) -> Iterator[Github]:
        """A PyGithub client for one operation; GitHub's failures come out as ``RadError``."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token.strip()):
            raise InvalidInput("That does not look like a GitHub token.", hint=NEW_TOKEN_HINT)
        retry = _BoundedRetry(total=self.retries, backoff_factor=self.backoff, backoff_max=self.max_wait,
                              raise_on_status=False, max_rate_limit_wait=self.max_wait, pacer=pacer)
        spacing = self.throttle if pacer is None else None
        gh = Github(base_url=self.base_url, auth=_GuardedToken(token.strip(), doing, pacer), timeout=self.timeout,
                    retry=retry, user_agent="rad-chatops", seconds_between_requests=spacing,
                    seconds_between_writes=spacing)
        try:
            yield gh
        except GithubException as exc:
            log.info("GitHub refused to %s", doing, extra={"github_status": exc.status})
            raise _translate(exc, doing, repo) from None
        except (requests.RequestException, Urllib3Error) as exc:
            log.info("GitHub did not answer while trying to %s", doing, extra={"error": type(exc).__name__})
            raise _unavailable() from None
        finally:
            gh.close()


def _translate(exc: GithubException, doing: str, repo: str) -> RadError:
    """The user-facing error for a GitHub error answer."""
    status, headers = exc.status, exc.headers or {}
    message = str((exc.data or {}).get("message", "")) if isinstance(exc.data, dict) else ""
    if isinstance(exc, BadCredentialsException) or status == 401:
        return InvalidInput("GitHub refused this token: it is wrong, expired or revoked.", hint=NEW_TOKEN_HINT)
    if isinstance(exc, RateLimitExceededException) or status == 429 or (
            status == 403 and (_header(headers, "x-ratelimit-remaining") == "0" or _header(headers, "retry-after"))):
        return _rate_limited(headers)
    if status == 403 and _NOT_ACCESSIBLE in message.lower():
        return InvalidInput(f"This token cannot read the contents of {repo or 'the repository'}.",
                            hint="Give the fine-grained token access to the repository with Contents: Read-only, "
                                 "or use a classic token with the `repo` scope.")
    if status == 404 and repo:
        return NotFound(f"GitHub has no repository {repo}, or this token cannot see it.",
                        hint="Check the name and that the token has access to the repository.")
    if status == 403:
        return NotAllowed(f"GitHub did not allow the token to {doing}.")
    if status >= 500:
        return _unavailable()
    return RadError(f"GitHub could not {doing} (HTTP {status}).")


def _rate_limited(headers: Mapping[str, Any]) -> GitHubUnavailable:
    now = datetime.now(UTC)
    reset, retry_after = _header(headers, "x-ratelimit-reset"), _header(headers, "retry-after")
    if retry_after and str(retry_after).isdigit():
        at = now + timedelta(seconds=int(retry_after))
    elif reset and str(reset).isdigit() and str(_header(headers, "x-ratelimit-remaining")) == "0":
        at = datetime.fromtimestamp(int(reset), UTC)
    else:
        at = now + timedelta(minutes=1)
    at = datetime.fromtimestamp(math.ceil(at.timestamp() / 60) * 60, UTC)
    return GitHubUnavailable(f"GitHub's rate limit is reached; try again after {at:%H:%M} UTC.", retry_at=at)


def _unavailable() -> GitHubUnavailable:
    return GitHubUnavailable("GitHub is not answering right now.", hint="Try again in a few minutes.")


def _header(headers: Mapping[str, Any], name: str) -> Any:
    """A response header by case-insensitive name."""
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _full_name(full_name: str) -> str:
    name = full_name.strip().removeprefix("https://github.com/").removesuffix(".git").strip("/")
    if not _FULL_NAME.fullmatch(name):
        raise InvalidInput(f"`{full_name}` is not a repository name.", hint="Use the form `owner/repository`.")
    return name


def _summary(data: Mapping[str, Any]) -> RepoSummary:
    permissions = data.get("permissions") or {}
    return RepoSummary(full_name=str(data["full_name"]), default_branch=str(data.get("default_branch") or "main"),
                       private=bool(data.get("private")),
                       can_push=bool(permissions.get("push") or permissions.get("admin")),
                       html_url=str(data.get("html_url") or ""), description=str(data.get("description") or ""))
