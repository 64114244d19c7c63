"""A GitHub REST API emulator on 127.0.0.1 that the real PyGithub client talks to.

State is set up from Python: users, tokens (classic with scopes, fine-grained with per-repository
permissions, revoked or expired), repositories holding real git objects (blob, tree and commit SHAs
computed as git does), branches and pull requests. Every response carries GitHub's rate-limit headers
and an ETag (``If-None-Match`` answers 304 without using the rate limit); every request is recorded;
fault switches inject 5xx answers, secondary and primary rate limits. Outside pytest:
``python -m tests.emulators.github --port 8902 --token ghp_demo --repo acme/modules=path/to/folder``.
"""

from __future__ import annotations

import argparse
import base64
import difflib
import hashlib
import itertools
import json
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

TREE_MODE, FILE_MODE, EXEC_MODE = "040000", "100644", "100755"
DOCS = "https://docs.github.com/rest"
PRIMARY_DOCS = f"{DOCS}/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
SECONDARY_DOCS = f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
NOT_ACCESSIBLE = "Resource not accessible by personal access token"
ROLES = ("pull", "triage", "push", "maintain", "admin")
Json = dict[str, Any]


def object_sha(kind: str, data: bytes) -> str:
    """The git object id: sha1 of ``<kind> <length>\\0<data>``."""
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    """Base64 wrapped at 60 columns with a trailing newline, as GitHub sends file contents."""
    text = base64.b64encode(data).decode()
    return "".join(text[i:i + 60] + "\n" for i in range(0, len(text), 60))


# -- git objects -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One entry of a git tree."""

    name: str
    mode: str
    sha: str

    @property
    def type(self) -> str:
        return "tree" if self.mode == TREE_MODE else "blob"


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    when: datetime

    def git(self) -> str:
        return f"{self.name} <{self.email}> {int(self.when.timestamp())} +0000"

    def json(self) -> Json:
        return {"name": self.name, "email": self.email, "date": _iso(self.when)}


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: Signature
    committer: Signature


class GitStore:
    """Blobs, trees and commits keyed by their real git SHA."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, tuple[Entry, ...]] = {}
        self.commits: dict[str, Commit] = {}

    def put_blob(self, data: bytes) -> str:
        sha = object_sha("blob", data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, entries: list[Entry]) -> str:
        ordered = tuple(sorted(entries, key=lambda e: (e.name + "/" if e.type == "tree" else e.name).encode()))
        data = b"".join(f"{e.mode.lstrip('0')} {e.name}".encode() + b"\0" + bytes.fromhex(e.sha) for e in ordered)
        sha = object_sha("tree", data)
        self.trees[sha] = ordered
        return sha

    def put_files(self, files: Mapping[str, tuple[str, str]]) -> str:
        """Write nested trees for ``{path: (mode, blob sha)}``; returns the root tree SHA."""
        children: dict[str, dict[str, tuple[str, str]]] = {}
        entries: list[Entry] = []
        for path, (mode, sha) in files.items():
            head, _, rest = path.partition("/")
            if rest:
                children.setdefault(head, {})[rest] = (mode, sha)
            else:
                entries.append(Entry(head, mode, sha))
        entries += [Entry(name, TREE_MODE, self.put_files(sub)) for name, sub in children.items()]
        return self.put_tree(entries)

    def put_commit(self, tree: str, parents: tuple[str, ...], message: str, author: Signature,
                   committer: Signature) -> str:
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {author.git()}\ncommitter {committer.git()}\n\n{message.rstrip()}\n"
        sha = object_sha("commit", text.encode())
        self.commits[sha] = Commit(sha, tree, parents, message.rstrip(), author, committer)
        return sha

    def walk(self, tree: str, prefix: str = "") -> Iterator[tuple[str, Entry]]:
        """Every entry below ``tree``, trees before their contents (like ``git ls-tree -r -t``)."""
        for entry in self.trees[tree]:
            yield prefix + entry.name, entry
            if entry.type == "tree":
                yield from self.walk(entry.sha, f"{prefix}{entry.name}/")

    def files(self, tree: str) -> dict[str, Entry]:
        return {path: e for path, e in self.walk(tree) if e.type == "blob"}

    def lookup(self, tree: str, path: str) -> Entry | None:
        """The entry at ``path`` ('' is the root tree itself)."""
        entry = Entry("", TREE_MODE, tree)
        for name in filter(None, path.strip("/").split("/")):
            if entry.type != "tree":
                return None
            entry = next((e for e in self.trees[entry.sha] if e.name == name), None)  # type: ignore[assignment]
            if entry is None:
                return None
        return entry

    def ancestors(self, sha: str) -> list[str]:
        """``sha`` and every commit reachable from it, nearest first."""
        seen, queue = [sha], [sha]
        while queue:
            for parent in self.commits[queue.pop(0)].parents:
                if parent not in seen:
                    seen.append(parent)
                    queue.append(parent)
        return seen


# -- state: users, tokens, repositories, pull requests -------------------------------------------------

@dataclass
class User:
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
    limit: int
    used: int = 0
    reset: int = 0

    def refresh(self, now: float) -> None:
        if now >= self.reset:
            self.used, self.reset = 0, int(now) + 3600

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass
class PullRequest:
    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    created_at: datetime
    draft: bool = False
    state: str = "open"
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    head_sha: str | None = None


@dataclass
class Repository:
    """A repository with real git objects; ``commit()`` moves a branch head like a push."""

    owner: str
    name: str
    id: int
    private: bool = True
    default_branch: str = "main"
    description: str | None = None
    collaborators: dict[str, str] = field(default_factory=dict)
    store: GitStore = field(default_factory=GitStore, repr=False)
    branches: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, PullRequest] = field(default_factory=dict, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    created_at: datetime = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
    _tick: Iterator[int] = field(default_factory=itertools.count, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def now(self) -> datetime:
        """A deterministic clock: one minute per event, so commit SHAs are stable across runs."""
        return self.created_at + timedelta(minutes=next(self._tick))

    def head(self, branch: str | None = None) -> str:
        return self.branches[branch or self.default_branch]

    def resolve(self, ref: str) -> str | None:
        """A branch name, ``heads/<branch>``, ``refs/heads/<branch>`` or a (short) commit SHA -> commit SHA."""
        name = ref.removeprefix("refs/").removeprefix("heads/")
        if name in self.branches:
            return self.branches[name]
        if re.fullmatch(r"[0-9a-f]{7,40}", ref):
            found = [sha for sha in self.store.commits if sha.startswith(ref)]
            return found[0] if len(found) == 1 else None
        return None

    def files(self, ref: str | None = None) -> dict[str, bytes]:
        """The file contents at ``ref`` (default: the default branch)."""
        with self.lock:
            sha = self.resolve(ref or self.default_branch)
            if sha is None:
                raise KeyError(ref)
            tree = self.store.commits[sha].tree
            return {path: self.store.blobs[e.sha] for path, e in self.store.files(tree).items()}

    def commit(self, changes: Mapping[str, bytes | str | None], message: str = "Update files",
               branch: str | None = None, *, author: tuple[str, str] = ("RAD Tester", "tester@example.com"),
               extra_parents: tuple[str, ...] = (), executable: tuple[str, ...] = ()) -> str:
        """Push one commit to ``branch`` (created from the default branch if new); ``None`` deletes a path."""
        with self.lock:
            branch = branch or self.default_branch
            parent = self.branches.get(branch) or self.branches.get(self.default_branch)
            current: dict[str, tuple[str, str]] = {}
            if parent:
                tree = self.store.commits[parent].tree
                current = {p: (e.mode, e.sha) for p, e in self.store.files(tree).items()}
            for path, content in changes.items():
                path = path.strip("/")
                if content is None:
                    current.pop(path, None)
                else:
                    data = content.encode() if isinstance(content, str) else content
                    mode = EXEC_MODE if path in executable else current.get(path, (FILE_MODE, ""))[0]
                    current[path] = (mode, self.store.put_blob(data))
            when = self.now()
            who = Signature(author[0], author[1], when)
            parents = ((parent,) if parent else ()) + extra_parents
            sha = self.store.put_commit(self.store.put_files(current), parents, message, who, who)
            self.branches[branch] = sha
            return sha

    def create_branch(self, name: str, from_ref: str | None = None) -> str:
        with self.lock:
            sha = self.resolve(from_ref or self.default_branch)
            if sha is None:
                raise KeyError(from_ref)
            self.branches[name] = sha
            return sha

    def blob_sha(self, path: str, ref: str | None = None) -> str:
        """The blob SHA of ``path`` at ``ref``."""
        with self.lock:
            sha = self.resolve(ref or self.default_branch) or ""
            entry = self.store.lookup(self.store.commits[sha].tree, path)
            if entry is None:
                raise KeyError(path)
            return entry.sha

    @property
    def pushed_at(self) -> datetime:
        heads = [self.store.commits[s].committer.when for s in self.branches.values()]
        return max(heads, default=self.created_at)


def read_folder(folder: str | Path) -> dict[str, bytes]:
    """The files below ``folder`` (without ``.git``), as ``{relative path: bytes}``."""
    root = Path(folder)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def executables(folder: str | Path) -> tuple[str, ...]:
    """The files below ``folder`` with the executable bit (mode 100755 in git)."""
    root = Path(folder)
    return tuple(p.relative_to(root).as_posix() for p in sorted(root.rglob("*"))
                 if p.is_file() and ".git" not in p.relative_to(root).parts and os.access(p, os.X_OK))


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
    status: int
    remaining: int
    path: str
    retry_after: int | None = None


class HttpError(Exception):
    """An error answer in GitHub's shape."""

    def __init__(self, status: int, message: str, docs: str = DOCS, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"message": message, "documentation_url": docs, "status": str(status), **extra}
        self.headers: dict[str, str] = {}


def _not_found() -> HttpError:
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
    status: int
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


# -- the emulator ----------------------------------------------------------------------------------------

@dataclass
class GitHubEmulator:
    """The emulator; ``start()`` serves in a daemon thread, ``stop()`` shuts it down.

    ``prefix="/api/v3"`` makes it look like GitHub Enterprise Server. ``primary_status`` is the status of a
    primary rate-limit answer (GitHub sends 403 or 429).
    """

    host: str = "127.0.0.1"
    port: int = 0
    prefix: str = ""
    rate_limit: int = 5000
    anonymous_rate_limit: int = 60
    primary_status: int = 403
    max_tree_entries: int = 100_000
    web_url: str = "https://github.com"
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _users: dict[str, User] = field(default_factory=dict, init=False, repr=False)
    _tokens: dict[str, Token] = field(default_factory=dict, init=False, repr=False)
    _repos: dict[str, Repository] = field(default_factory=dict, init=False, repr=False)
    _buckets: dict[str, RateBucket] = field(default_factory=dict, init=False, repr=False)
    _calls: list[Call] = field(default_factory=list, init=False, repr=False)
    _faults: list[_Fault] = field(default_factory=list, init=False, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> GitHubEmulator:
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.emulator = self  # type: ignore[attr-defined]
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="github-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The REST base URL, for ``Github(base_url=...)`` or ``GITHUB_API_URL``."""
        return f"http://{self.host}:{self.port}{self.prefix}"

    # -- state --------------------------------------------------------------------------------------

    def add_user(self, login: str, name: str | None = None, email: str | None = None,
                 kind: str = "User") -> User:
        with self._lock:
            uid = 1000 + len(self._users) + 1
            user = User(login, uid, name or login.title(), email or f"{login}@example.com", kind)
            self._users[login] = user
            return user

    def _ensure_user(self, login: str) -> None:
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

    def add_repo(self, full_name: str, files: Mapping[str, bytes | str] | str | Path | None = None, *,
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

    def exhaust_rate_limit(self, login: str | None, reset_in: float = 3600) -> None:
        """Use up ``login``'s primary rate limit; it resets ``reset_in`` seconds from now."""
        with self._lock:
            bucket = self.bucket(login)
            bucket.used, bucket.reset = bucket.limit, int(time.time() + reset_in)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> _Fault | None:
        fault = next((f for f in self._faults if path.startswith(f.path)), None)
        if fault is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
        return fault

    # -- recorded calls -----------------------------------------------------------------------------

    def calls(self, path: str | None = None, method: str | None = None) -> list[Call]:
        """Recorded calls, optionally only those whose path starts with ``path`` and of ``method``."""
        with self._lock:
            return [c for c in self._calls
                    if (path is None or c.path.startswith(path)) and (method is None or c.method == method)]

    def count(self, path: str | None = None, *, not_modified: bool | None = None) -> int:
        """How many calls were answered (only 304s, or only full answers, when ``not_modified`` is set)."""
        return sum(1 for c in self.calls(path) if not_modified is None or c.not_modified == not_modified)

    def counts_by_route(self) -> dict[str, int]:
        """Calls per route template, e.g. ``{"GET /repos/{owner}/{repo}/git/trees/{sha}": 1}``."""
        totals: dict[str, int] = {}
        for call in self.calls():
            totals[call.route] = totals.get(call.route, 0) + 1
        return totals

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- request handling ---------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """Answer one HTTP request (``headers`` with lower-case names) and record it."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            answer, route, login = self._respond(method, parts.path, query, headers, raw)
            self._calls.append(Call(method, parts.path.removeprefix(self.prefix) or "/", query, answer.status, route,
                                    login, answer.status == 304, time.monotonic()))
            return answer

    def _respond(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str],
                 raw: bytes) -> tuple[Answer, str, str | None]:
        request_id = f"E{next(self._ids):05X}:RAD:{os.getpid():X}"
        value = _token_value(headers.get("authorization", ""))
        token = self._tokens.get(value) if value else None
        if value and (token is None or token.revoked or _expired(token)):
            return self._finish(Answer(401, {"message": "Bad credentials", "documentation_url": DOCS,
                                             "status": "401"}), None, self.bucket(None), request_id), "auth", None
        user = self._users.get(token.login) if token else None
        bucket = self.bucket(user.login if user else None)
        if path.startswith("/_raw/"):
            return self._finish(self._raw(path), token, bucket, request_id, charge=False), "GET /_raw", None
        if not path.startswith(self.prefix):
            return self._finish(Answer(404, _not_found().body), token, bucket, request_id), "unknown", None
        path = path[len(self.prefix):] or "/"
        route, handler, params = _route(method, path)
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
        core = {"limit": bucket.limit, "used": bucket.used, "remaining": bucket.remaining, "reset": bucket.reset}
        other = {"limit": 30, "used": 0, "remaining": 30, "reset": bucket.reset}
        return {"resources": {"core": core, "search": other, "graphql": {**core, "used": 0, "remaining": bucket.limit},
                              "integration_manifest": {**other, "limit": 5000, "remaining": 5000}},
                "rate": core}

    def _raw(self, path: str) -> Answer:
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
        if user is None:
            return None
        return "admin" if user.login == repo.owner else repo.collaborators.get(user.login)

    def access(self, req: Request, owner: str, name: str, need: str = "metadata", write: bool = False) -> Repository:
        """The repository, if the request's token may read it (or write to it); else 404/403 like GitHub."""
        repo = self._repos.get(f"{unquote(owner)}/{unquote(name)}".lower())
        if repo is None:
            raise _not_found()
        role, token = self.role(repo, req.user), req.token
        if token is None:
            if repo.private:
                raise _not_found()
            if write:
                raise HttpError(401, "Requires authentication")
            return repo
        if repo.private and role is None:
            raise _not_found()
        if token.kind == "classic":
            if repo.private and "repo" not in token.scopes:
                raise _not_found()
            if write and "repo" not in token.scopes and "public_repo" not in token.scopes:
                raise _not_found()
        else:
            grant = token.repositories.get(repo.full_name)
            level = "read" if need == "metadata" and grant is not None else (grant or {}).get(need, "none")
            if grant is None and repo.private:
                raise _not_found()
            if (grant is not None or write) and (level not in ("read", "write") or (write and level != "write")):
                error = HttpError(403, NOT_ACCESSIBLE)
                error.headers["X-Accepted-GitHub-Permissions"] = f"{need}={'write' if write else 'read'}"
                raise error
        if write and ROLES.index(role or "pull") < ROLES.index("push"):
            raise HttpError(403, "Must have push access to this repository.")
        return repo

    # -- JSON views ---------------------------------------------------------------------------------

    def repo_url(self, repo: Repository) -> str:
        return f"{self.url}/repos/{repo.full_name}"

    def user_json(self, login: str) -> Json:
        user = self._users.get(login)
        kind, uid = (user.type, user.id) if user else ("Organization", 500_000 + sum(map(ord, login)))
        return {"login": login, "id": uid, "node_id": _node("U", uid),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
                "url": f"{self.url}/users/{login}", "html_url": f"{self.web_url}/{login}",
                "repos_url": f"{self.url}/users/{login}/repos", "type": kind, "user_view_type": "public",
                "site_admin": False}

    def repo_json(self, repo: Repository, user: User | None) -> Json:
        api, web, role = self.repo_url(repo), f"{self.web_url}/{repo.full_name}", self.role(repo, user)
        data: Json = {
            "id": repo.id, "node_id": _node("R", repo.id), "name": repo.name, "full_name": repo.full_name,
            "private": repo.private, "owner": self.user_json(repo.owner), "html_url": web,
            "description": repo.description, "fork": False, "url": api,
            "branches_url": f"{api}/branches{{/branch}}", "commits_url": f"{api}/commits{{/sha}}",
            "contents_url": f"{api}/contents/{{+path}}", "git_refs_url": f"{api}/git/refs{{/sha}}",
            "trees_url": f"{api}/git/trees{{/sha}}", "blobs_url": f"{api}/git/blobs{{/sha}}",
            "pulls_url": f"{api}/pulls{{/number}}", "created_at": _iso(repo.created_at),
            "updated_at": _iso(repo.pushed_at), "pushed_at": _iso(repo.pushed_at),
            "git_url": f"git://github.com/{repo.full_name}.git", "ssh_url": f"git@github.com:{repo.full_name}.git",
            "clone_url": f"{web}.git", "homepage": None, "size": sum(map(len, repo.store.blobs.values())) // 1024,
            "stargazers_count": 0, "watchers_count": 0, "language": "HCL", "forks_count": 0, "archived": False,
            "disabled": False, "open_issues_count": sum(p.state == "open" for p in repo.pulls.values()),
            "visibility": "private" if repo.private else "public", "forks": 0, "open_issues": 0, "watchers": 0,
            "default_branch": repo.default_branch, "topics": [], "has_issues": True, "is_template": False,
        }
        if user is not None:
            rank = ROLES.index(role) if role else (0 if not repo.private else -1)
            data["permissions"] = {r: rank >= ROLES.index(r) for r in ("admin", "maintain", "push", "triage", "pull")}
        return data

    def ref_json(self, repo: Repository, branch: str) -> Json:
        sha = repo.branches[branch]
        return {"ref": f"refs/heads/{branch}", "node_id": _node("REF", hash(branch) & 0xFFFFFF),
                "url": f"{self.repo_url(repo)}/git/refs/heads/{quote(branch)}",
                "object": {"sha": sha, "type": "commit", "url": f"{self.repo_url(repo)}/git/commits/{sha}"}}

    def git_commit_json(self, repo: Repository, sha: str) -> Json:
        c, api = repo.store.commits[sha], self.repo_url(repo)
        return {"sha": sha, "node_id": _node("C", int(sha[:8], 16)), "url": f"{api}/git/commits/{sha}",
                "html_url": f"{self.web_url}/{repo.full_name}/commit/{sha}", "author": c.author.json(),
                "committer": c.committer.json(), "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
                "message": c.message,
                "parents": [{"sha": p, "url": f"{api}/git/commits/{p}",
                             "html_url": f"{self.web_url}/{repo.full_name}/commit/{p}"} for p in c.parents],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                 "verified_at": None}}

    def commit_json(self, repo: Repository, sha: str, with_files: bool = True) -> Json:
        c, api = repo.store.commits[sha], self.repo_url(repo)
        git = self.git_commit_json(repo, sha)
        by_email = {u.email: u.login for u in self._users.values()}
        data: Json = {
            "sha": sha, "node_id": git["node_id"],
            "commit": {k: git[k] for k in ("author", "committer", "message", "tree", "verification")}
            | {"url": git["url"], "comment_count": 0},
            "url": f"{api}/commits/{sha}", "html_url": git["html_url"], "comments_url": f"{api}/commits/{sha}/comments",
            "author": self.user_json(by_email[c.author.email]) if c.author.email in by_email else None,
            "committer": self.user_json(by_email[c.committer.email]) if c.committer.email in by_email else None,
            "parents": [{"sha": p, "url": f"{api}/commits/{p}",
                         "html_url": f"{self.web_url}/{repo.full_name}/commit/{p}"} for p in c.parents],
        }
        if with_files:
            old = repo.store.commits[c.parents[0]].tree if c.parents else None
            files = self.file_changes(repo, old, c.tree, sha)
            added, removed = sum(f["additions"] for f in files), sum(f["deletions"] for f in files)
            data |= {"stats": {"total": added + removed, "additions": added, "deletions": removed}, "files": files}
        return data

    def file_changes(self, repo: Repository, old_tree: str | None, new_tree: str, sha: str) -> list[Json]:
        store, api, web = repo.store, self.repo_url(repo), f"{self.web_url}/{repo.full_name}"
        old = store.files(old_tree) if old_tree else {}
        new = store.files(new_tree)
        changes: list[Json] = []
        for path in sorted(set(old) | set(new)):
            before, after = old.get(path), new.get(path)
            if before == after:
                continue
            a = store.blobs[before.sha] if before else b""
            b = store.blobs[after.sha] if after else b""
            lines = list(difflib.unified_diff(a.decode("utf-8", "replace").splitlines(),
                                              b.decode("utf-8", "replace").splitlines(), lineterm="", n=3))[2:]
            plus = sum(1 for line in lines if line.startswith("+"))
            minus = sum(1 for line in lines if line.startswith("-"))
            status = "added" if not before else "removed" if not after else "modified"
            entry: Json = {"sha": (after or before).sha,  # type: ignore[union-attr]
                           "filename": path, "status": status,
                           "additions": plus, "deletions": minus, "changes": plus + minus,
                           "blob_url": f"{web}/blob/{sha}/{quote(path)}", "raw_url": f"{web}/raw/{sha}/{quote(path)}",
                           "contents_url": f"{api}/contents/{quote(path)}?ref={sha}"}
            if b"\0" not in a + b:
                entry["patch"] = "\n".join(lines)
            changes.append(entry)
        return changes

    def content_json(self, repo: Repository, path: str, entry: Entry, ref: str, sha: str) -> Json:
        api, web = self.repo_url(repo), f"{self.web_url}/{repo.full_name}"
        kind = "dir" if entry.type == "tree" else "file"
        size = len(repo.store.blobs[entry.sha]) if kind == "file" else 0
        self_url = f"{api}/contents/{quote(path)}?ref={quote(ref, safe='')}"
        git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
        html_url = f"{web}/{'tree' if kind == 'dir' else 'blob'}/{quote(ref)}/{quote(path)}"
        return {"name": path.rsplit("/", 1)[-1], "path": path, "sha": entry.sha, "size": size, "url": self_url,
                "html_url": html_url, "git_url": git_url,
                "download_url": f"http://{self.host}:{self.port}/_raw/{repo.full_name}/{sha}/{quote(path)}"
                if kind == "file" else None,
                "type": kind, "_links": {"self": self_url, "git": git_url, "html": html_url}}

    def pull_json(self, repo: Repository, pr: PullRequest, full: bool = True) -> Json:
        api, web = self.repo_url(repo), f"{self.web_url}/{repo.full_name}"
        head_sha = pr.head_sha or repo.branches.get(pr.head, "")
        base_sha = repo.branches[pr.base]

        def part(ref: str, sha: str) -> Json:
            return {"label": f"{repo.owner}:{ref}", "ref": ref, "sha": sha, "user": self.user_json(repo.owner),
                    "repo": self.repo_json(repo, None)}

        url = f"{api}/pulls/{pr.number}"
        data: Json = {
            "url": url, "id": pr.id, "node_id": _node("PR", pr.id), "html_url": f"{web}/pull/{pr.number}",
            "diff_url": f"{web}/pull/{pr.number}.diff", "patch_url": f"{web}/pull/{pr.number}.patch",
            "issue_url": f"{api}/issues/{pr.number}", "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments", "comments_url": f"{api}/issues/{pr.number}/comments",
            "statuses_url": f"{api}/statuses/{head_sha}", "number": pr.number, "state": pr.state, "locked": False,
            "title": pr.title, "user": self.user_json(pr.user), "body": pr.body, "labels": [], "milestone": None,
            "created_at": _iso(pr.created_at), "updated_at": _iso(pr.updated_at or pr.created_at),
            "closed_at": _iso(pr.closed_at) if pr.closed_at else None,
            "merged_at": _iso(pr.merged_at) if pr.merged_at else None, "merge_commit_sha": pr.merge_commit_sha,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [], "draft": pr.draft,
            "head": part(pr.head, head_sha), "base": part(pr.base, base_sha),
            "author_association": "OWNER" if pr.user == repo.owner else "COLLABORATOR",
        }
        if full:
            merged = _merge_tree(repo, base_sha, head_sha) if pr.state == "open" and head_sha else None
            mb = _merge_base(repo, base_sha, head_sha) if head_sha else None
            changes = self.file_changes(repo, repo.store.commits[mb].tree, repo.store.commits[head_sha].tree,
                                        head_sha) if mb and head_sha else []
            ahead = [s for s in repo.store.ancestors(head_sha) if s not in repo.store.ancestors(base_sha)] \
                if head_sha and pr.merged_at is None else []
            mergeable = None if pr.state != "open" else merged is not None
            data |= {"merged": pr.merged_at is not None, "mergeable": mergeable,
                     "rebaseable": merged is not None, "mergeable_state": "clean" if merged is not None else "dirty",
                     "merged_by": self.user_json(pr.merged_by) if pr.merged_by else None, "comments": 0,
                     "review_comments": 0, "maintainer_can_modify": False, "commits": len(ahead),
                     "additions": sum(f["additions"] for f in changes),
                     "deletions": sum(f["deletions"] for f in changes), "changed_files": len(changes)}
        return data

    def page(self, req: Request, items: list[Any]) -> Answer:
        """One page of ``items`` per ``per_page``/``page``, with GitHub's ``Link`` header."""
        per_page = min(100, max(1, _int(req.query.get("per_page"), 30)))
        page = max(1, _int(req.query.get("page"), 1))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page:page * per_page]

        def link(number: int, rel: str) -> str:
            query = {**req.query, "per_page": str(per_page), "page": str(number)}
            return f'<{self.url}{req.path}?{urlencode(query)}>; rel="{rel}"'

        links = ([link(page - 1, "prev")] if page > 1 else []) + \
                ([link(page + 1, "next"), link(last, "last")] if page < last else []) + \
                ([link(1, "first")] if page > 1 else [])
        return Answer(200, chunk, {"Link": ", ".join(links)} if links else {})


# -- routes ------------------------------------------------------------------------------------------------

Handler = Callable[[GitHubEmulator, Request, dict[str, str]], Answer]
_ROUTES: list[tuple[str, str, re.Pattern[str], Handler]] = []
_REPO = "/repos/{owner}/{repo}"


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``template`` (``{name}`` matches one segment, ``{name+}`` the rest)."""
    pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", template)
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, template, re.compile(pattern + "/?"), handler))
        return handler
    return register


def _route(method: str, path: str) -> tuple[str, Handler, dict[str, str]]:
    for verb, template, pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match and verb == method:
            return f"{verb} {template}", handler, {k: unquote(v) for k, v in match.groupdict().items() if v}
    return f"{method} (unknown)", _unknown, {}


def _unknown(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    raise _not_found()


@route("GET", "/rate_limit")
def _rate_limit(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    return Answer(200, emu._rate_json(emu.bucket(req.user.login if req.user else None)))  # served before routing


@route("GET", "/user")
def _get_user(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    if req.user is None:
        raise HttpError(401, "Requires authentication")
    data = emu.user_json(req.user.login)
    owned = [r for r in emu._repos.values() if r.owner == req.user.login]
    data |= {"name": req.user.name, "email": req.user.email, "company": None, "blog": "", "location": None,
             "bio": None, "public_repos": sum(not r.private for r in owned), "public_gists": 0, "followers": 0,
             "following": 0, "created_at": "2020-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z",
             "private_gists": 0, "total_private_repos": sum(r.private for r in owned),
             "owned_private_repos": sum(r.private for r in owned), "two_factor_authentication": True,
             "plan": {"name": "pro", "space": 976562499, "private_repos": 9999, "collaborators": 0}}
    return Answer(200, data)


@route("GET", "/users/{login}")
def _get_named_user(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    if params["login"] not in emu._users:
        raise _not_found()
    return Answer(200, emu.user_json(params["login"]))


@route("GET", "/user/repos")
def _list_user_repos(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    user, token = req.user, req.token
    if user is None or token is None:
        raise HttpError(401, "Requires authentication")
    affiliation = req.query.get("affiliation", "owner,collaborator,organization_member").split(",")
    visibility = req.query.get("visibility", "all")
    repos = []
    for repo in emu._repos.values():
        relation = "owner" if repo.owner == user.login else "collaborator" if user.login in repo.collaborators else ""
        if relation not in affiliation or visibility not in ("all", "private" if repo.private else "public"):
            continue
        if token.kind == "classic" and repo.private and "repo" not in token.scopes:
            continue
        if token.kind == "fine-grained" and repo.full_name not in token.repositories:
            continue
        repos.append(repo)
    sort = req.query.get("sort", "full_name")
    descending = req.query.get("direction", "asc" if sort == "full_name" else "desc") == "desc"
    key: Callable[[Repository], Any] = {
        "created": lambda r: (r.created_at, r.id), "updated": lambda r: r.pushed_at, "pushed": lambda r: r.pushed_at,
    }.get(sort, lambda r: r.full_name.lower())
    repos.sort(key=key, reverse=descending)
    return emu.page(req, [emu.repo_json(r, user) for r in repos])


@route("GET", _REPO)
def _get_repo(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"])
    return Answer(200, emu.repo_json(repo, req.user))


@route("GET", _REPO + "/contents")
@route("GET", _REPO + "/contents/{path+}")
def _get_contents(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    ref = req.query.get("ref") or repo.default_branch
    sha = repo.resolve(ref)
    if sha is None:
        raise HttpError(404, f"No commit found for the ref {ref}")
    path = params.get("path", "").strip("/")
    entry = repo.store.lookup(repo.store.commits[sha].tree, path)
    if entry is None:
        raise _not_found()
    if entry.type == "tree":
        listing = [emu.content_json(repo, f"{path}/{e.name}".lstrip("/"), e, ref, sha)
                   for e in repo.store.trees[entry.sha]]
        return Answer(200, listing)
    data = repo.store.blobs[entry.sha]
    body = emu.content_json(repo, path, entry, ref, sha)
    too_big = len(data) > 1024 * 1024
    body |= {"content": "" if too_big else _b64(data), "encoding": "none" if too_big else "base64"}
    return Answer(200, body)


@route("GET", _REPO + "/git/ref/{ref+}")
def _get_ref(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    branch = params["ref"].removeprefix("refs/").removeprefix("heads/")
    if not params["ref"].removeprefix("refs/").startswith("heads/") or branch not in repo.branches:
        raise _not_found()
    return Answer(200, emu.ref_json(repo, branch))


@route("GET", _REPO + "/git/refs")
@route("GET", _REPO + "/git/refs/{ref+}")
@route("GET", _REPO + "/git/matching-refs/{ref+}")
def _list_refs(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    wanted = "refs/" + params.get("ref", "").removeprefix("refs/")
    refs = [emu.ref_json(repo, b) for b in sorted(repo.branches)]
    exact = [r for r in refs if r["ref"] == wanted]
    if exact and "/matching-refs/" not in req.path:
        return Answer(200, exact[0])
    found = [r for r in refs if r["ref"].startswith(wanted)]
    if not found and "/git/refs/" in req.path:
        raise _not_found()
    return emu.page(req, found)


@route("GET", _REPO + "/git/commits/{sha}")
def _get_git_commit(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    if params["sha"] not in repo.store.commits:
        raise _not_found()
    return Answer(200, emu.git_commit_json(repo, params["sha"]))


@route("GET", _REPO + "/git/trees/{sha}")
def _get_tree(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    tree = params["sha"] if params["sha"] in repo.store.trees else None
    commit = repo.resolve(params["sha"]) if tree is None else None
    tree = tree or (repo.store.commits[commit].tree if commit else None)
    if tree is None:
        raise _not_found()
    api = emu.repo_url(repo)
    walked = repo.store.walk(tree) if "recursive" in req.query else ((e.name, e) for e in repo.store.trees[tree])
    entries = list(itertools.islice(walked, emu.max_tree_entries + 1))
    listing = []
    for path, e in entries[:emu.max_tree_entries]:
        item: Json = {"path": path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item["size"] = len(repo.store.blobs[e.sha])
        listing.append(item | {"url": f"{api}/git/{e.type}s/{e.sha}"})
    return Answer(200, {"sha": tree, "url": f"{api}/git/trees/{tree}", "tree": listing,
                        "truncated": len(entries) > emu.max_tree_entries})


@route("GET", _REPO + "/git/blobs/{sha}")
def _get_blob(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    data = repo.store.blobs.get(params["sha"])
    if data is None:
        raise _not_found()
    sha = params["sha"]
    return Answer(200, {"sha": sha, "node_id": _node("B", int(sha[:8], 16)), "size": len(data),
                        "url": f"{emu.repo_url(repo)}/git/blobs/{sha}", "content": _b64(data), "encoding": "base64"})


@route("GET", _REPO + "/branches")
def _list_branches(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    return emu.page(req, [{"name": b, "commit": {"sha": s, "url": f"{emu.repo_url(repo)}/commits/{s}"},
                           "protected": False} for b, s in sorted(repo.branches.items())])


@route("GET", _REPO + "/branches/{branch+}")
def _get_branch(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    name = params["branch"]
    if name not in repo.branches:
        raise HttpError(404, "Branch not found")
    api, web = emu.repo_url(repo), f"{emu.web_url}/{repo.full_name}"
    return Answer(200, {"name": name, "commit": emu.commit_json(repo, repo.branches[name], with_files=False),
                        "_links": {"self": f"{api}/branches/{quote(name)}", "html": f"{web}/tree/{quote(name)}"},
                        "protected": False,
                        "protection": {"enabled": False, "required_status_checks": {
                            "enforcement_level": "off", "contexts": [], "checks": []}},
                        "protection_url": f"{api}/branches/{quote(name)}/protection"})


@route("GET", _REPO + "/commits")
def _list_commits(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    head = repo.resolve(req.query.get("sha") or repo.default_branch)
    if head is None:
        raise HttpError(404, "Not Found")
    path = req.query.get("path", "").strip("/")
    shas = [s for s in repo.store.ancestors(head) if not path or _touches(repo, s, path)]
    return emu.page(req, [emu.commit_json(repo, s, with_files=False) for s in shas])


@route("GET", _REPO + "/commits/{ref+}")
def _get_commit(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    sha = repo.resolve(params["ref"])
    if sha is None:
        raise HttpError(422, f"No commit found for SHA: {params['ref']}")
    return Answer(200, emu.commit_json(repo, sha))


@route("GET", _REPO + "/pulls")
def _list_pulls(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "pull_requests")
    state = req.query.get("state", "open")
    head, base = req.query.get("head", ""), req.query.get("base", "")
    pulls = [p for p in sorted(repo.pulls.values(), key=lambda p: p.number, reverse=True)
             if state in ("all", p.state) and head.split(":")[-1] in ("", p.head) and base in ("", p.base)]
    return emu.page(req, [emu.pull_json(repo, p, full=False) for p in pulls])


@route("POST", _REPO + "/pulls")
def _create_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "pull_requests", write=True)
    assert req.user is not None
    body = req.body if isinstance(req.body, dict) else {}
    head, base = str(body.get("head", "")).split(":")[-1], str(body.get("base", ""))
    for name, value in (("title", body.get("title")), ("head", head), ("base", base)):
        if not value or (name != "title" and value not in repo.branches):
            raise HttpError(422, "Validation Failed", errors=[{"resource": "PullRequest", "field": name,
                                                              "code": "missing_field" if not value else "invalid"}])
    if not [s for s in repo.store.ancestors(repo.branches[head]) if s not in repo.store.ancestors(repo.branches[base])]:
        raise HttpError(422, "Validation Failed",
                        errors=[{"resource": "PullRequest", "code": "custom",
                                 "message": f"No commits between {base} and {head}"}])
    if any(p.head == head and p.base == base and p.state == "open" for p in repo.pulls.values()):
        raise HttpError(422, "Validation Failed",
                        errors=[{"resource": "PullRequest", "code": "custom",
                                 "message": f"A pull request already exists for {repo.owner}:{head}."}])
    number = len(repo.pulls) + 1
    pr = PullRequest(number, 9_000_000 + repo.id % 1000 * 1000 + number, str(body["title"]), body.get("body"), head,
                     base, req.user.login, repo.now(), bool(body.get("draft", False)))
    repo.pulls[number] = pr
    return Answer(201, emu.pull_json(repo, pr))


def _pull(emu: GitHubEmulator, req: Request, params: dict[str, str], write: bool = False,
          need: str = "pull_requests") -> tuple[Repository, PullRequest]:
    repo = emu.access(req, params["owner"], params["repo"], need, write=write)
    pr = repo.pulls.get(int(params["number"]))
    if pr is None:
        raise _not_found()
    return repo, pr


@route("GET", _REPO + "/pulls/{number}")
def _get_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo, pr = _pull(emu, req, params)
    return Answer(200, emu.pull_json(repo, pr))


@route("PATCH", _REPO + "/pulls/{number}")
def _update_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo, pr = _pull(emu, req, params, write=True)
    body = req.body if isinstance(req.body, dict) else {}
    if body.get("state") not in (None, "open", "closed") or (body.get("base") and body["base"] not in repo.branches):
        raise HttpError(422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "invalid",
                                                          "field": "state" if "state" in body else "base"}])
    pr.title, pr.body, pr.base = body.get("title", pr.title), body.get("body", pr.body), body.get("base", pr.base)
    now = repo.now()
    if body.get("state") == "closed" and pr.state == "open":
        pr.state, pr.closed_at, pr.head_sha = "closed", now, repo.branches.get(pr.head)
    elif body.get("state") == "open" and pr.state == "closed" and pr.merged_at is None:
        pr.state, pr.closed_at, pr.head_sha = "open", None, None
    pr.updated_at = now
    return Answer(200, emu.pull_json(repo, pr))


@route("GET", _REPO + "/pulls/{number}/merge")
def _is_merged(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    _, pr = _pull(emu, req, params)
    if pr.merged_at is None:
        raise _not_found()
    return Answer(204, raw=b"")


@route("PUT", _REPO + "/pulls/{number}/merge")
def _merge_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo, pr = _pull(emu, req, params, write=True, need="contents")
    assert req.user is not None
    body = req.body if isinstance(req.body, dict) else {}
    method = body.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise HttpError(422, "Invalid merge_method")
    head_sha = repo.branches.get(pr.head)
    if pr.state != "open" or head_sha is None:
        raise HttpError(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != head_sha:
        raise HttpError(409, "Head branch was modified. Review and try the merge again.")
    base_sha = repo.branches[pr.base]
    files = _merge_tree(repo, base_sha, head_sha)
    if files is None:
        raise HttpError(405, "Pull Request is not mergeable")
    title = body.get("commit_title") or (f"{pr.title} (#{pr.number})" if method != "merge" else
                                         f"Merge pull request #{pr.number} from {repo.owner}/{pr.head}")
    message = f"{title}\n\n{body.get('commit_message') or (pr.title if method == 'merge' else pr.body or '')}"
    who = Signature(req.user.name, req.user.email, repo.now())
    parents = (base_sha, head_sha) if method == "merge" else (base_sha,)
    sha = repo.store.put_commit(repo.store.put_files(files), parents, message, who, who)
    repo.branches[pr.base] = sha
    pr.state, pr.merged_at, pr.closed_at, pr.updated_at = "closed", who.when, who.when, who.when
    pr.merged_by, pr.merge_commit_sha, pr.head_sha = req.user.login, sha, head_sha
    return Answer(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


# -- helpers -------------------------------------------------------------------------------------------------

def _merge_base(repo: Repository, a: str, b: str) -> str | None:
    seen = set(repo.store.ancestors(a))
    return next((s for s in repo.store.ancestors(b) if s in seen), None)


def _merge_tree(repo: Repository, base_sha: str, head_sha: str) -> dict[str, tuple[str, str]] | None:
    """The merged ``{path: (mode, sha)}`` of a file-level three-way merge, or None on a conflict."""
    mb = _merge_base(repo, base_sha, head_sha)
    if mb is None:
        return None
    store = repo.store

    def flat(sha: str) -> dict[str, tuple[str, str]]:
        return {p: (e.mode, e.sha) for p, e in store.files(store.commits[sha].tree).items()}

    ancestor, base, head = flat(mb), flat(base_sha), flat(head_sha)
    merged = dict(base)
    for path in set(ancestor) | set(head):
        if head.get(path) == ancestor.get(path):
            continue
        if base.get(path) not in (ancestor.get(path), head.get(path)):
            return None
        if path in head:
            merged[path] = head[path]
        else:
            merged.pop(path, None)
    return merged


def _touches(repo: Repository, sha: str, path: str) -> bool:
    """Whether commit ``sha`` changed anything at or below ``path`` compared with its first parent."""
    commit = repo.store.commits[sha]
    now = repo.store.lookup(commit.tree, path)
    before = repo.store.lookup(repo.store.commits[commit.parents[0]].tree, path) if commit.parents else None
    return now != before


def _token_value(authorization: str) -> str:
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else ""


def _expired(token: Token) -> bool:
    return token.expires_at is not None and token.expires_at.timestamp() <= time.time()


def _etag_matches(header: str, etag: str) -> bool:
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


def _fault_answer(fault: _Fault, request_id: str) -> Answer:
    if fault.status == 403:
        message = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you "
                   f"reach out to GitHub Support for help, please include the request ID {request_id}.")
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return Answer(403, {"message": message, "documentation_url": SECONDARY_DOCS, "status": "403"}, headers)
    messages = {500: "Server Error", 502: "Server Error", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return Answer(fault.status, {"message": messages.get(fault.status, "Server Error"), "documentation_url": DOCS,
                                 "status": str(fault.status)})


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default


def _node(kind: str, number: int) -> str:
    return base64.b64encode(f"0{kind}{number}".encode()).decode().rstrip("=")


# -- HTTP plumbing -------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        emulator: GitHubEmulator = self.server.emulator  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = emulator.respond(self.command, self.path, headers, raw)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.status != 304:
            self.send_header("Content-Length", str(len(answer.raw or b"")))
        self.end_headers()
        if answer.status not in (204, 304):
            self.wfile.write(answer.raw or b"")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded calls instead."""


@contextmanager
def running(port: int = 0, **options: Any) -> Iterator[GitHubEmulator]:
    """A started emulator, stopped on exit."""
    emulator = GitHubEmulator(port=port, **options).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the GitHub REST API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", default="", help='"/api/v3" to look like GitHub Enterprise Server')
    parser.add_argument("--user", default="octo-partner", help="the login that owns the token and repositories")
    parser.add_argument("--token", action="append", default=[], help="a classic token with repo scope (repeatable)")
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=FOLDER",
                        help="a private repository holding FOLDER's files, --user an admin of it (repeatable)")
    args = parser.parse_args(argv)
    emulator = GitHubEmulator(host=args.host, port=args.port, prefix=args.prefix).start()
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
