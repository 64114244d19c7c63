"""Who is asking the GitHub emulator and what they may do.

Users, personal access tokens (classic with scopes, fine-grained with per-repository permissions),
per-user rate-limit buckets, the ``Request``/``Answer``/``HttpError`` values route handlers exchange,
and GitHub's access rules (404 for what a token may not see, 403 for what it may not change).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from tests.emulators.github_git import Repository

DOCS = "https://docs.github.com/rest"
NOT_ACCESSIBLE = "Resource not accessible by personal access token"
ROLES = ("pull", "triage", "push", "maintain", "admin")


# -- accounts and credentials ----------------------------------------------------------------------------

@dataclass
class User:
    """A GitHub account (``type`` is ``User`` or ``Organization``)."""

    login: str
    id: int
    name: str
    email: str
    type: str = "User"


@dataclass
class Token:
    """A personal access token: classic (``scopes``) or fine-grained (``repositories``)."""

    value: str = field(repr=False)
    login: str
    kind: str
    scopes: tuple[str, ...] = ()
    repositories: dict[str, dict[str, str]] = field(default_factory=dict)
    revoked: bool = False
    expires_at: datetime | None = None


@dataclass
class RateBucket:
    """One login's primary rate limit: ``limit`` requests per hour from ``reset``."""

    limit: int
    used: int = 0
    reset: int = 0

    def refresh(self, now: float) -> None:
        """Start a new hour once ``reset`` has passed."""
        if now >= self.reset:
            self.used, self.reset = 0, int(now) + 3600

    @property
    def remaining(self) -> int:
        """Requests left in this hour."""
        return max(0, self.limit - self.used)


def token_value(authorization: str) -> str:
    """The token of an ``Authorization: token <t>`` or ``Bearer <t>`` header ('' otherwise)."""
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else ""


def expired(token: Token) -> bool:
    """Whether ``token`` is past its expiry date."""
    return token.expires_at is not None and token.expires_at.timestamp() <= time.time()


# -- requests and answers --------------------------------------------------------------------------------

class HttpError(Exception):
    """An error answer in GitHub's shape."""

    def __init__(self, status: int, message: str, docs: str = DOCS, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"message": message, "documentation_url": docs, "status": str(status), **extra}
        self.headers: dict[str, str] = {}


def not_found() -> HttpError:
    """GitHub's plain 404 (also what a token sees of a repository it may not read)."""
    return HttpError(404, "Not Found")


@dataclass
class Request:
    """What a route handler sees."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: Token | None
    user: User | None


@dataclass
class Answer:
    """What a route handler returns: JSON ``data``, or ``raw`` bytes as they are."""

    status: int
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


# -- access rules ----------------------------------------------------------------------------------------

def role_of(repo: Repository, user: User | None) -> str | None:
    """The user's role on the repository: ``admin`` for the owner, else the collaborator role."""
    if user is None:
        return None
    return "admin" if user.login == repo.owner else repo.collaborators.get(user.login)


def check_access(repos: Mapping[str, Repository], req: Request, owner: str, name: str, need: str = "metadata",
                 write: bool = False) -> Repository:
    """The repository, if the request's token may read it (or write to it); else 404/403 like GitHub.

    ``repos`` is keyed by lower-case ``owner/name``; ``need`` is the fine-grained permission checked
    (``metadata``, ``contents`` or ``pull_requests``).
    """
    repo = repos.get(f"{unquote(owner)}/{unquote(name)}".lower())
    if repo is None:
        raise not_found()
    role, token = role_of(repo, req.user), req.token
    if token is None:
        if repo.private:
            raise not_found()
        if write:
            raise HttpError(401, "Requires authentication")
        return repo
    if repo.private and role is None:
        raise not_found()
    if token.kind == "classic":
        if repo.private and "repo" not in token.scopes:
            raise not_found()
        if write and "repo" not in token.scopes and "public_repo" not in token.scopes:
            raise not_found()
    else:
        grant = token.repositories.get(repo.full_name)
        level = "read" if need == "metadata" and grant is not None else (grant or {}).get(need, "none")
        if grant is None and repo.private:
            raise not_found()
        if (grant is not None or write) and (level not in ("read", "write") or (write and level != "write")):
            error = HttpError(403, NOT_ACCESSIBLE)
            error.headers["X-Accepted-GitHub-Permissions"] = f"{need}={'write' if write else 'read'}"
            raise error
    if write and ROLES.index(role or "pull") < ROLES.index("push"):
        raise HttpError(403, "Must have push access to this repository.")
    return repo
