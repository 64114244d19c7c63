"""A typed client for the Jules REST API (v1alpha), see shared/reference/jules_api.md.

Every field of an answer is optional (the API omits defaults) and unknown activity kinds are kept,
not rejected. 429 and 5xx answers are retried with bounded exponential backoff, as is a 404 for a
session this client created moments ago (eventual consistency). Errors come out as ``RadError``s;
the API key never appears in a message, a log line or a repr. HTTP is ``httpx`` with explicit timeouts
(connect, read, write and pool each bounded), never a request without one.
"""

from __future__ import annotations

import functools
import logging
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from core.config import DEFAULT_JULES_API_URL, Config
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound, RadError, Unavailable
from core.network import assert_no_transaction

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ACTIVITY_KINDS = ("agentMessaged", "userMessaged", "planGenerated", "planApproved", "progressUpdated",
                  "sessionCompleted", "sessionFailed")
NEW_KEY_HINT = "Create a new key in Jules (jules.google.com → Settings → API keys) and save it again."
_KEY = re.compile(r"[\x21-\x7e]{1,512}")
CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection to Jules (the read timeout is the client's ``timeout``)."""
Json = Mapping[str, Any]


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client, made as httpx makes its own (certifi, or ``SSL_CERT_FILE``/``_DIR``).

    Loading the CA bundle takes tens of milliseconds; a client is made per call site (the relay makes one
    per session each turn), so building a context each time was most of a relay turn.
    """
    return httpx.create_ssl_context()


class JulesUnavailable(Unavailable):
    """Jules did not answer, or limited our requests, even after retries."""


@dataclass(frozen=True)
class Source:
    """A GitHub repository Jules can work on."""

    name: str
    id: str
    owner: str = ""
    repo: str = ""
    private: bool = False
    default_branch: str = ""
    branches: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Json) -> Source:
        """A source from the API's JSON."""
        repo = data.get("githubRepo") or {}
        return cls(name=str(data.get("name", "")), id=str(data.get("id", "")), owner=str(repo.get("owner", "")),
                   repo=str(repo.get("repo", "")), private=bool(repo.get("isPrivate", False)),
                   default_branch=str((repo.get("defaultBranch") or {}).get("displayName", "")),
                   branches=tuple(str(b.get("displayName", "")) for b in repo.get("branches") or ()))


@dataclass(frozen=True)
class PullRequest:
    """A pull request a session opened."""
    url: str
    title: str = ""
    description: str = ""
    base_ref: str = ""
    head_ref: str = ""


@dataclass(frozen=True)
class Session:
    """A Jules session; ``state`` is one of QUEUED, PLANNING, AWAITING_PLAN_APPROVAL, ... COMPLETED."""

    name: str
    id: str
    state: str = "STATE_UNSPECIFIED"
    title: str = ""
    prompt: str = ""
    url: str = ""
    source: str = ""
    starting_branch: str = ""
    create_time: str = ""
    update_time: str = ""
    pull_requests: tuple[PullRequest, ...] = ()
    archived: bool = False

    @classmethod
    def from_json(cls, data: Json) -> Session:
        """A session from the API's JSON, with the pull requests among its outputs."""
        context = data.get("sourceContext") or {}
        pulls = tuple(PullRequest(url=str(pr.get("url", "")), title=str(pr.get("title", "")),
                                  description=str(pr.get("description", "")), base_ref=str(pr.get("baseRef", "")),
                                  head_ref=str(pr.get("headRef", "")))
                      for out in data.get("outputs") or () if (pr := out.get("pullRequest")))
        return cls(name=str(data.get("name", "")), id=str(data.get("id", "")),
                   state=str(data.get("state", "STATE_UNSPECIFIED")), title=str(data.get("title", "")),
                   prompt=str(data.get("prompt", "")), url=str(data.get("url", "")),
                   source=str(context.get("source", "")),
                   starting_branch=str((context.get("githubRepoContext") or {}).get("startingBranch", "")),
                   create_time=str(data.get("createTime", "")), update_time=str(data.get("updateTime", "")),
                   pull_requests=pulls, archived=bool(data.get("archived", False)))


@dataclass(frozen=True)
class PlanStep:
    """One step of a plan the agent proposes."""
    id: str
    title: str
    description: str = ""
    index: int = 0


@dataclass(frozen=True)
class Activity:
    """One event of a session. ``kind`` is one of ``ACTIVITY_KINDS``, or ``""`` for a kind unknown here."""

    name: str
    id: str
    create_time: str = ""
    originator: str = ""
    kind: str = ""
    description: str = ""
    message: str = ""
    plan_id: str = ""
    plan_steps: tuple[PlanStep, ...] = ()
    progress_title: str = ""
    progress_description: str = ""
    failure_reason: str = ""
    artifacts: tuple[Json, ...] = ()

    @classmethod
    def from_json(cls, data: Json) -> Activity:
        """An activity from the API's JSON; its kind is the first known kind key present."""
        kind = next((k for k in ACTIVITY_KINDS if k in data), "")
        body = data.get(kind) or {}
        plan = body.get("plan") or {}
        steps = tuple(PlanStep(id=str(s.get("id", "")), title=str(s.get("title", "")),
                               description=str(s.get("description", "")), index=int(s.get("index", 0)))
                      for s in plan.get("steps") or ())
        return cls(name=str(data.get("name", "")), id=str(data.get("id", "")),
                   create_time=str(data.get("createTime", "")), originator=str(data.get("originator", "")),
                   kind=kind, description=str(data.get("description", "")),
                   message=str(body.get("agentMessage") or body.get("userMessage") or ""),
                   plan_id=str(plan.get("id") or body.get("planId") or ""), plan_steps=steps,
                   progress_title=str(body.get("title", "")) if kind == "progressUpdated" else "",
                   progress_description=str(body.get("description", "")) if kind == "progressUpdated" else "",
                   failure_reason=str(body.get("reason", "")), artifacts=tuple(data.get("artifacts") or ()))


class JulesClient:
    """Calls the Jules API with one API key (sent as ``X-Goog-Api-Key``, never in a URL)."""

    def __init__(self, api_key: str, base_url: str = DEFAULT_JULES_API_URL, *, retries: int = 4,
                 backoff: float = 1.0, max_backoff: float = 30.0, timeout: float = 30.0,
                 fresh_window: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        if not isinstance(api_key, str) or not _KEY.fullmatch(api_key.strip()):
            raise InvalidInput("That does not look like a Jules API key.", hint=NEW_KEY_HINT)
        self.base_url = base_url.rstrip("/")
        self.retries, self.backoff, self.max_backoff, self.timeout = retries, backoff, max_backoff, timeout
        self.fresh_window, self._sleep = fresh_window, sleep
        self._created: dict[str, float] = {}
        self._secret = api_key.strip()
        self._http = httpx.Client(headers={"X-Goog-Api-Key": self._secret, "User-Agent": "rad-chatops"},
                                  timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
                                  follow_redirects=False, verify=_tls())

    @classmethod
    def from_config(cls, config: Config, api_key: str, **options: Any) -> JulesClient:
        """A client for ``JULES_API_URL``."""
        return cls(api_key, config.jules_api_url, **options)

    def __repr__(self) -> str:
        return f"JulesClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._http.close()

    def __enter__(self) -> JulesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sources ------------------------------------------------------------------------------------

    def list_sources(self) -> list[Source]:
        """Every source (repository) the key's account connected to Jules, across all pages."""
        pages = self._pages("sources", "sources", {"pageSize": 100}, "list sources", "sources")
        return [Source.from_json(s) for s in pages]

    def get_source(self, name: str) -> Source:
        """One source by name (``sources/github/<owner>/<repo>``) or by ``owner/repo``."""
        name = name if name.startswith("sources/") else f"sources/github/{name.strip('/')}"
        return Source.from_json(self._call("GET", name, doing="read the source", what=f"source {name}"))

    # -- sessions -----------------------------------------------------------------------------------

    def create_session(self, prompt: str, source: str, *, branch: str = "main", title: str = "",
                       require_plan_approval: bool = True, auto_create_pr: bool = True) -> Session:
        """Start a session on ``source``; by default its plan waits for approval and it ends in a pull request."""
        body: dict[str, Any] = {"prompt": prompt,
                                "sourceContext": {"source": source, "githubRepoContext": {"startingBranch": branch}},
                                "requirePlanApproval": require_plan_approval}
        if title:
            body["title"] = title
        if auto_create_pr:
            body["automationMode"] = "AUTO_CREATE_PR"
        session = Session.from_json(self._call("POST", "sessions", body=body, doing="start a session",
                                               what=f"source {source} (is the Jules GitHub app installed on it?)"))
        now = time.monotonic()
        self._created = {k: t for k, t in self._created.items() if now - t < self.fresh_window}
        self._created[session.id] = now
        return session

    def get_session(self, session: str, *, just_created: bool = False) -> Session:
        """The session (its id or ``sessions/<id>``).

        A 404 is retried while the session is new (created by this client moments ago, or ``just_created``).
        """
        name = _session_name(session)
        return Session.from_json(self._call("GET", name, doing="read the session", what=f"session {name}",
                                            fresh=just_created or self._fresh(name)))

    def delete_session(self, session: str) -> None:
        """Delete the session."""
        name = _session_name(session)
        self._call("DELETE", name, doing="delete the session", what=f"session {name}")

    def archive_session(self, session: str) -> None:
        """Archive the session: it leaves the default session list (the end of a refine thread)."""
        name = _session_name(session)
        self._call("POST", f"{name}:archive", body={}, doing="archive the session", what=f"session {name}",
                   fresh=self._fresh(name))

    def send_message(self, session: str, prompt: str) -> None:
        """Send a message to the agent; its answer arrives later as an activity."""
        name = _session_name(session)
        self._call("POST", f"{name}:sendMessage", body={"prompt": prompt}, doing="send the message",
                   what=f"session {name}", fresh=self._fresh(name))

    def approve_plan(self, session: str) -> None:
        """Approve the session's pending plan."""
        name = _session_name(session)
        self._call("POST", f"{name}:approvePlan", body={}, doing="approve the plan", what=f"session {name}",
                   fresh=self._fresh(name))

    def list_activities(self, session: str, after: str = "", *, just_created: bool = False) -> list[Activity]:
        """The session's activities, oldest first; only those created after ``after`` (an RFC 3339 cursor)."""
        name = _session_name(session)
        params: dict[str, Any] = {"pageSize": 100}
        if after:
            params["filter"] = f'create_time>"{after}"'
        items = self._pages(f"{name}/activities", "activities", params, "read the activities", f"session {name}",
                            just_created or self._fresh(name))
        unique = {str(a.get("id", "")): a for a in items}
        return [Activity.from_json(a) for a in unique.values()]

    # -- plumbing -----------------------------------------------------------------------------------

    def _fresh(self, name: str) -> bool:
        created = self._created.get(name.removeprefix("sessions/"))
        return created is not None and time.monotonic() - created < self.fresh_window

    def _pages(self, path: str, key: str, params: dict[str, Any], doing: str, what: str,
               fresh: bool = False) -> list[Json]:
        """Every item under ``key`` across the pages (``nextPageToken`` is absent on the last one)."""
        items: list[Json] = []
        token = ""
        while True:
            page = self._call("GET", path, params={**params, **({"pageToken": token} if token else {})},
                              doing=doing, what=what, fresh=fresh)
            items += page.get(key) or []
            token = str(page.get("nextPageToken") or "")
            if not token:
                return items

    def _call(self, method: str, path: str, *, doing: str, what: str, params: Mapping[str, Any] | None = None,
              body: Any = None, fresh: bool = False) -> Json:
        url = f"{self.base_url}/{path}"
        for attempt in range(self.retries + 1):
            assert_no_transaction(f"JulesClient ({doing})")
            try:
                response = self._http.request(method, url, params=params, json=body)
            except httpx.HTTPError as exc:
                log.info("Jules did not answer", extra={"jules_path": path, "error": type(exc).__name__})
                if attempt < self.retries:
                    self._sleep(self._backoff(attempt))
                    continue
                raise self._unavailable(0) from None
            log.debug("jules %s %s -> %s", method, path, response.status_code)
            retry = response.status_code in RETRY_STATUSES or (response.status_code == 404 and fresh)
            delay = self._delay(attempt, response) if retry and attempt < self.retries else None
            if delay is None:
                break
            self._sleep(delay)
        if response.status_code == 200:
            try:
                data = response.json() if response.content else {}
            except ValueError:
                data = None
            if isinstance(data, dict):
                return data
            raise RadError(f"Jules sent an answer this bot cannot read while trying to {doing}.")
        raise self._error(response, doing, what)

    def _delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next try, or None when the server asks for longer than ``max_backoff``."""
        asked = _retry_delay(response) if response is not None else None
        if asked is not None and asked > self.max_backoff:
            return None
        return max(asked or 0.0, self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff: ``backoff``, twice that, ... at most ``max_backoff``."""
        return float(min(self.max_backoff, self.backoff * (1 << attempt)))

    def _error(self, response: httpx.Response, doing: str, what: str) -> RadError:
        code = response.status_code
        error = _envelope(response)
        status = str(error.get("status", ""))
        message = str(error.get("message", "")).replace(self._secret, "***")[:300]
        reasons = {str(d.get("reason", "")) for d in error.get("details") or () if isinstance(d, Mapping)}
        log.info("Jules refused to %s", doing, extra={"jules_status": code, "jules_error": status})
        if code == 401 or reasons & {"API_KEY_INVALID", "CREDENTIALS_MISSING", "API_KEY_EXPIRED"}:
            return InvalidInput("Jules refused the API key: it is wrong, revoked or not a Jules key.",
                                hint=NEW_KEY_HINT)
        if code == 403:
            return NotAllowed(f"Jules did not allow the key to {doing}.",
                              hint="Check that the key's account has Jules access to this repository.")
        if code == 404:
            return NotFound(f"Jules has no {what}.")
        if code == 400 and status == "FAILED_PRECONDITION":
            return Conflict(f"Jules cannot {doing} now: {message or 'the session is not in the right state'}")
        if code == 400:
            return InvalidInput(f"Jules rejected the request to {doing}: {message or 'invalid argument'}")
        return self._unavailable(code) if code in RETRY_STATUSES else RadError(
            f"Jules could not {doing} (HTTP {code}).")

    @staticmethod
    def _unavailable(code: int) -> JulesUnavailable:
        if code == 429:
            return JulesUnavailable("Jules is limiting requests, or the account's daily task quota is used up.",
                                    hint="Try again later.")
        return JulesUnavailable("Jules is not answering right now.", hint="Try again in a few minutes.")


def _session_name(session: str) -> str:
    name = session if session.startswith("sessions/") else f"sessions/{session}"
    if not re.fullmatch(r"sessions/[A-Za-z0-9_-]+", name):
        raise InvalidInput("That is not a Jules session id.")
    return name


def _envelope(response: httpx.Response) -> Json:
    """The ``error`` object of a ``google.rpc.Status`` answer ({} for HTML or other bodies)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_delay(response: httpx.Response) -> float | None:
    """The wait the server asked for: ``RetryInfo.retryDelay`` ("1.5s") or a ``Retry-After`` header."""
    for detail in _envelope(response).get("details") or ():
        if isinstance(detail, Mapping) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    header = response.headers.get("Retry-After", "")
    return float(header) if header.isdigit() else None
