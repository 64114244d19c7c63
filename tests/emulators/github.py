"""A GitHub REST API emulator on 127.0.0.1 that the real PyGithub client talks to.

State is set up from Python: users, tokens (classic with scopes, fine-grained with per-repository
permissions, revoked or expired), repositories holding real git objects (blob, tree and commit SHAs
computed as git does), branches and pull requests. Every response carries GitHub's rate-limit headers
and an ETag (``If-None-Match`` answers 304 without using the rate limit); every request is recorded;
fault switches inject 5xx answers, secondary and primary rate limits, and hangs (slow answers); ``latency``
delays every answer as a distant network would (requests in flight overlap, as on a real network). Outside pytest:
``python -m tests.emulators.github --port 8902 --token ghp_demo --repo acme/modules=path/to/folder``.

This module is the server (state set-up, auth, rate limits, ETags, faults, recording, CLI); the git
model is in ``github_git``, accounts and access rules in ``github_auth``, JSON shapes in
``github_views`` and the endpoints in ``github_routes``. Their public names are re-exported here.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.emulators.github_auth import (
    DOCS,
    NOT_ACCESSIBLE,
    ROLES,
    Answer,
    HttpError,
    RateBucket,
    Request,
    Token,
    User,
    check_access,
    expired,
    not_found,
    role_of,
    token_value,
)
from tests.emulators.github_git import (
    EXEC_MODE,
    FILE_MODE,
    TREE_MODE,
    Commit,
    Entry,
    GitStore,
    LargeFile,
    PullRequest,
    Repository,
    Signature,
    executables,
    object_sha,
    read_folder,
)
from tests.emulators.github_routes import Handler, find_route, route
from tests.emulators.github_views import GitHubViews
from tests.emulators.http_base import HttpEmulator, Json, QuietHandler

__all__ = [
    "DOCS", "EXEC_MODE", "FILE_MODE", "NOT_ACCESSIBLE", "PRIMARY_DOCS", "ROLES", "SECONDARY_DOCS", "TREE_MODE",
    "Answer", "Call", "Commit", "Entry", "GitHubEmulator", "GitStore", "Handler", "HttpError", "Json", "LargeFile",
    "PullRequest", "RateBucket", "Repository", "Request", "Signature", "Token", "User", "executables", "main",
    "object_sha", "read_folder", "route", "running",
]

PRIMARY_DOCS = f"{DOCS}/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
SECONDARY_DOCS = f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"


# -- recorded calls and faults -------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    route: str
    login: str | None
    not_modified: bool
    at: float


@dataclass
class _Fault:
    """A queued fault: a 5xx answer, or (403) a secondary rate limit."""

    status: int
    remaining: int
    path: str
    retry_after: int | None = None


@dataclass
class _Hang:
    """A queued delay: the next ``remaining`` requests whose path starts with ``path`` wait ``seconds``."""

    seconds: float
    remaining: int
    path: str


class _Handler(QuietHandler):
    """Hands each request to ``GitHubEmulator.respond``; 204 and 304 answers carry no body."""

    def _serve(self) -> None:
        emulator: GitHubEmulator = self.server.emulator  # type: ignore[attr-defined]
        headers, raw = self.read_request()
        answer = emulator.respond(self.command, self.path, headers, raw)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.status != 304:
            self.send_header("Content-Length", str(len(answer.raw or b"")))
        self.end_headers()
        if answer.status not in (204, 304):
            self.wfile.write(answer.raw or b"")


# -- the emulator ----------------------------------------------------------------------------------------

@dataclass
class GitHubEmulator(HttpEmulator[Call, _Fault], GitHubViews):
    """The emulator; ``start()`` serves in a daemon thread, ``stop()`` shuts it down.

    ``prefix="/api/v3"`` makes it look like GitHub Enterprise Server. ``primary_status`` is the status of a
    primary rate-limit answer (GitHub sends 403 or 429). ``latency`` (seconds) delays every answer, as the
    round trip to a distant GitHub does; concurrent requests wait side by side. ``peak_in_flight`` is the most
    requests it was answering at once.
    """

    prefix: str = ""
    rate_limit: int = 5000
    anonymous_rate_limit: int = 60
    primary_status: int = 403
    max_tree_entries: int = 100_000
    web_url: str = "https://github.com"
    latency: float = 0.0
    _users: dict[str, User] = field(default_factory=dict, init=False, repr=False)
    _tokens: dict[str, Token] = field(default_factory=dict, init=False, repr=False)
    _repos: dict[str, Repository] = field(default_factory=dict, init=False, repr=False)
    _buckets: dict[str, RateBucket] = field(default_factory=dict, init=False, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False, repr=False)
    _hangs: list[_Hang] = field(default_factory=list, init=False, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _held: int = field(default=0, init=False, repr=False)
    _in_flight: int = field(default=0, init=False, repr=False)
    peak_in_flight: int = field(default=0, init=False)

    handler_class = _Handler
    thread_name = "github-emulator"

    @property
    def url(self) -> str:
        """The REST base URL, for ``Github(base_url=...)`` or ``GITHUB_API_URL``."""
        return f"http://{self.host}:{self.port}{self.prefix}"

    # -- state --------------------------------------------------------------------------------------

    def add_user(self, login: str, name: str | None = None, email: str | None = None,
                 kind: str = "User") -> User:
        """A user (``kind="Organization"`` for an organisation) with the next free id."""
        with self._lock:
            uid = 1000 + len(self._users) + 1
            user = User(login, uid, name or login.title(), email or f"{login}@example.com", kind)
            self._users[login] = user
            return user

    def _ensure_user(self, login: str) -> None:
        """Add ``login`` as a user unless it exists."""
        if login not in self._users:
            self.add_user(login)

    def add_token(self, login: str, scopes: tuple[str, ...] = ("repo", "read:org"), token: str | None = None,
                  expires_at: datetime | None = None) -> str:
        """A classic token of ``login``; responses list ``scopes`` in ``X-OAuth-Scopes``."""
        value = token or "ghp_" + secrets.token_hex(18)
        with self._lock:
            self._ensure_user(login)
            self._tokens[value] = Token(value, login, "classic", tuple(scopes), expires_at=expires_at)
        return value

    def add_fine_grained_token(self, login: str, repositories: Mapping[str, str | Mapping[str, str]],
                               token: str | None = None, expires_at: datetime | None = None) -> str:
        """A fine-grained token for the named repositories.

        Each value is the ``contents`` permission (``"read"``, ``"write"`` or ``"none"``; metadata is always
        readable), or a mapping of permission -> level (``contents``, ``pull_requests``).
        """
        grants = {name: ({"contents": v, "pull_requests": v} if isinstance(v, str) else dict(v))
                  for name, v in repositories.items()}
        value = token or "github_pat_" + secrets.token_hex(11) + "_" + secrets.token_hex(30)[:59]
        with self._lock:
            self._ensure_user(login)
            self._tokens[value] = Token(value, login, "fine-grained", repositories=grants, expires_at=expires_at)
        return value

    def revoke(self, token: str) -> None:
        """From now on ``token`` gets 401 Bad credentials."""
        with self._lock:
            self._tokens[token].revoked = True

    def add_repo(self, full_name: str, files: Mapping[str, bytes | str | LargeFile] | str | Path | None = None, *,
                 private: bool = True, default_branch: str = "main", description: str | None = None,
                 collaborators: Mapping[str, str] | None = None) -> Repository:
        """A repository whose default branch holds ``files`` (a dict or a folder on disk) in one commit."""
        owner, name = full_name.split("/")
        with self._lock:
            repo = Repository(owner, name, 700_000 + len(self._repos) + 1, private, default_branch, description,
                              dict(collaborators or {}), lock=self._lock)
            if isinstance(files, str | Path):
                repo.commit(read_folder(files), "Initial commit", executable=executables(files))
            else:
                repo.commit(dict(files or {}), "Initial commit")
            self._repos[full_name.lower()] = repo
            return repo

    def repo(self, full_name: str) -> Repository:
        """The repository ``owner/name`` (case-insensitive)."""
        with self._lock:
            return self._repos[full_name.lower()]

    def bucket(self, login: str | None) -> RateBucket:
        """The rate-limit bucket of ``login`` (``None``: unauthenticated requests)."""
        with self._lock:
            key = login or ""
            if key not in self._buckets:
                self._buckets[key] = RateBucket(self.rate_limit if login else self.anonymous_rate_limit)
            self._buckets[key].refresh(time.time())
            return self._buckets[key]

    # -- fault switches -----------------------------------------------------------------------------

    def fail(self, times: int = 1, status: int = 502, path: str = "") -> None:
        """Answer the next ``times`` requests (whose path starts with ``path``) with ``status``."""
        with self._lock:
            self._faults.append(_Fault(status, times, path))

    def secondary_rate_limit(self, times: int = 1, retry_after: int | None = 60, path: str = "") -> None:
        """Answer the next ``times`` requests with a 403 secondary rate limit (``Retry-After`` unless None)."""
        with self._lock:
            self._faults.append(_Fault(403, times, path, retry_after))

    def hang(self, seconds: float = 30.0, times: int = 1, path: str = "") -> None:
        """Hold the next ``times`` requests (whose path starts with ``path``) ``seconds`` before answering them,
        as a GitHub that hangs; ``release()`` lets the held ones go at once."""
        with self._lock:
            self._released.clear()
            self._hangs.append(_Hang(seconds, times, path))

    def release(self) -> None:
        """Answer the requests held by ``hang`` now (and any later ones without waiting)."""
        self._released.set()

    @property
    def held(self) -> int:
        """How many requests ``hang`` holds right now."""
        with self._lock:
            return self._held

    def _hold(self, path: str) -> None:
        """Wait here (outside the lock, so other requests are answered) when a queued hang matches ``path``."""
        with self._lock:
            path = path.removeprefix(self.prefix) or "/"
            hang = next((h for h in self._hangs if path.startswith(h.path)), None)
            if hang is None:
                return
            hang.remaining -= 1
            if hang.remaining <= 0:
                self._hangs.remove(hang)
            self._held += 1
        try:
            self._released.wait(hang.seconds)
        finally:
            with self._lock:
                self._held -= 1

    def exhaust_rate_limit(self, login: str | None, reset_in: float = 3600) -> None:
        """Use up ``login``'s primary rate limit; it resets ``reset_in`` seconds from now."""
        self.exhaust_rate_limit_after(login, 0, reset_in)

    def exhaust_rate_limit_after(self, login: str | None, requests: int, reset_in: float = 3600) -> None:
        """Let ``login`` make ``requests`` more counted requests, then hit the primary rate limit until it resets
        ``reset_in`` seconds from now (a long scan running out half-way)."""
        with self._lock:
            bucket = self.bucket(login)
            bucket.used, bucket.reset = max(0, bucket.limit - requests), int(time.time() + reset_in)

    def reset_rate_limit(self, login: str | None) -> None:
        """Start ``login``'s rate-limit hour afresh, as GitHub does at the reset time."""
        with self._lock:
            bucket = self.bucket(login)
            bucket.used, bucket.reset = 0, int(time.time() + 3600)

    # -- recorded calls -----------------------------------------------------------------------------

    def count(self, path: str | None = None, *, not_modified: bool | None = None) -> int:
        """How many calls were answered (only 304s, or only full answers, when ``not_modified`` is set)."""
        return sum(1 for c in self.calls(path) if not_modified is None or c.not_modified == not_modified)

    def counts_by_route(self) -> dict[str, int]:
        """Calls per route template, e.g. ``{"GET /repos/{owner}/{repo}/git/trees/{sha}": 1}``."""
        totals: dict[str, int] = {}
        for call in self.calls():
            totals[call.route] = totals.get(call.route, 0) + 1
        return totals

    # -- request handling ---------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """Answer one HTTP request (``headers`` with lower-case names) and record it."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if self.latency > 0:
                time.sleep(self.latency)  # outside the lock: requests in flight overlap as on a real network
            self._hold(parts.path)
            with self._lock:
                answer, route, login = self._respond(method, parts.path, query, headers, raw)
                self._calls.append(Call(method, parts.path.removeprefix(self.prefix) or "/", query, answer.status,
                                        route, login, answer.status == 304, time.monotonic()))
                return answer
        finally:
            with self._lock:
                self._in_flight -= 1

    def _respond(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str],
                 raw: bytes) -> tuple[Answer, str, str | None]:
        request_id = f"E{next(self._ids):05X}:RAD:{os.getpid():X}"
        value = token_value(headers.get("authorization", ""))
        token = self._tokens.get(value) if value else None
        if value and (token is None or token.revoked or expired(token)):
            return self._finish(Answer(401, {"message": "Bad credentials", "documentation_url": DOCS,
                                             "status": "401"}), None, self.bucket(None), request_id), "auth", None
        user = self._users.get(token.login) if token else None
        bucket = self.bucket(user.login if user else None)
        if path.startswith("/_raw/"):
            return self._finish(self._raw(path), token, bucket, request_id, charge=False), "GET /_raw", None
        if not path.startswith(self.prefix):
            return self._finish(Answer(404, not_found().body), token, bucket, request_id), "unknown", None
        path = path[len(self.prefix):] or "/"
        route, handler, params = find_route(method, path)
        login = user.login if user else None
        fault = self._take_fault(path)
        if fault is not None:
            return self._finish(_fault_answer(fault, request_id), token, bucket, request_id, charge=False), route, login
        if route == "GET /rate_limit":
            return self._finish(Answer(200, self._rate_json(bucket)), token, bucket, request_id, charge=False), \
                route, login
        if bucket.remaining == 0:
            who = f"user ID {user.id}" if user else "127.0.0.1"
            body = {"message": f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, "
                    f"please include the request ID {request_id}.", "documentation_url": PRIMARY_DOCS,
                    "status": str(self.primary_status)}
            return self._finish(Answer(self.primary_status, body), token, bucket, request_id, charge=False), \
                route, login
        try:
            body = json.loads(raw) if raw.strip() else {}
            answer = handler(self, Request(method, path, query, body, token, user), params)
        except ValueError:
            answer = Answer(400, {"message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400"})
        except HttpError as error:
            answer = Answer(error.status, error.body, error.headers)
        return self._finish(answer, token, bucket, request_id, if_none_match=headers.get("if-none-match")), \
            route, login

    def _finish(self, answer: Answer, token: Token | None, bucket: RateBucket, request_id: str, *,
                charge: bool = True, if_none_match: str | None = None) -> Answer:
        """Serialise, apply ``If-None-Match``, use the rate limit and add GitHub's headers."""
        if answer.raw is None:
            answer.raw = json.dumps(answer.data).encode()
            answer.headers.setdefault("Content-Type", "application/json; charset=utf-8")
        if answer.status == 200 and charge:
            etag = f'W/"{hashlib.sha256(answer.raw).hexdigest()[:40]}"'
            answer.headers["ETag"] = etag
            if if_none_match and _etag_matches(if_none_match, etag):
                answer.status, answer.raw, charge = 304, b"", False
                answer.headers.pop("Content-Type", None)
        if charge:
            bucket.used += 1
        answer.headers.update({
            "Server": "github.com", "X-GitHub-Request-Id": request_id, "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28", "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
            "Cache-Control": "private, max-age=60, s-maxage=60", "Access-Control-Allow-Origin": "*",
            "X-RateLimit-Limit": str(bucket.limit), "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": str(bucket.reset), "X-RateLimit-Used": str(bucket.used),
            "X-RateLimit-Resource": "core",
        })
        if token is not None and token.kind == "classic" and not token.revoked:
            answer.headers["X-OAuth-Scopes"] = ", ".join(token.scopes)
            answer.headers["X-Accepted-OAuth-Scopes"] = "repo"
        if token is not None and token.expires_at is not None:
            answer.headers["github-authentication-token-expiration"] = token.expires_at.strftime(
                "%Y-%m-%d %H:%M:%S UTC")
        return answer

    def _rate_json(self, bucket: RateBucket) -> Json:
        """The ``/rate_limit`` body for ``bucket``."""
        core = {"limit": bucket.limit, "used": bucket.used, "remaining": bucket.remaining, "reset": bucket.reset}
        other = {"limit": 30, "used": 0, "remaining": 30, "reset": bucket.reset}
        return {"resources": {"core": core, "search": other, "graphql": {**core, "used": 0, "remaining": bucket.limit},
                              "integration_manifest": {**other, "limit": 5000, "remaining": 5000}},
                "rate": core}

    def _raw(self, path: str) -> Answer:
        """A public file at ``/_raw/<owner>/<repo>/<sha>/<path>`` (the ``download_url`` of contents)."""
        owner, name, sha, file_path = [*path.split("/", 5), "", "", "", ""][2:6]
        repo = self._repos.get(f"{owner}/{name}".lower())
        if repo is None or repo.private or sha not in repo.store.commits:
            return Answer(404, raw=b"404: Not Found", headers={"Content-Type": "text/plain"})
        entry = repo.store.lookup(repo.store.commits[sha].tree, unquote(file_path))
        if entry is None or entry.type != "blob":
            return Answer(404, raw=b"404: Not Found", headers={"Content-Type": "text/plain"})
        return Answer(200, raw=repo.store.blobs[entry.sha], headers={"Content-Type": "text/plain; charset=utf-8"})

    # -- access rules -------------------------------------------------------------------------------

    def role(self, repo: Repository, user: User | None) -> str | None:
        """The user's role on the repository: ``admin`` for the owner, else the collaborator role."""
        return role_of(repo, user)

    def access(self, req: Request, owner: str, name: str, need: str = "metadata", write: bool = False) -> Repository:
        """The repository, if the request's token may read it (or write to it); else 404/403 like GitHub."""
        return check_access(self._repos, req, owner, name, need, write)


# -- helpers -------------------------------------------------------------------------------------------------

def _etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison) or ``*``."""
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


def _fault_answer(fault: _Fault, request_id: str) -> Answer:
    """GitHub's answer for an injected fault."""
    if fault.status == 403:
        message = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you "
                   f"reach out to GitHub Support for help, please include the request ID {request_id}.")
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return Answer(403, {"message": message, "documentation_url": SECONDARY_DOCS, "status": "403"}, headers)
    messages = {500: "Server Error", 502: "Server Error", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return Answer(fault.status, {"message": messages.get(fault.status, "Server Error"), "documentation_url": DOCS,
                                 "status": str(fault.status)})


@contextmanager
def running(port: int = 0, **options: Any) -> Iterator[GitHubEmulator]:
    """A started emulator, stopped on exit."""
    emulator = GitHubEmulator(port=port, **options).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """The CLI: serve until interrupted, with the given tokens and repositories."""
    parser = argparse.ArgumentParser(description="Run the GitHub REST API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every answer is delayed (a far network)")
    parser.add_argument("--prefix", default="", help='"/api/v3" to look like GitHub Enterprise Server')
    parser.add_argument("--user", default="octo-partner", help="the login that owns the token and repositories")
    parser.add_argument("--token", action="append", default=[], help="a classic token with repo scope (repeatable)")
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=FOLDER",
                        help="a private repository holding FOLDER's files, --user an admin of it (repeatable)")
    args = parser.parse_args(argv)
    emulator = GitHubEmulator(host=args.host, port=args.port, prefix=args.prefix, latency=args.latency).start()
    for token in args.token:
        emulator.add_token(args.user, token=token)
    for spec in args.repo:
        name, _, folder = spec.partition("=")
        emulator.add_repo(name, Path(folder) if folder else {"README.md": b"# demo\n"},
                          collaborators={args.user: "admin"})
    print(f"GitHub emulator: GITHUB_API_URL={emulator.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
