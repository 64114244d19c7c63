"""A Jules REST API (v1alpha) emulator on 127.0.0.1, following shared/reference/jules_api.md.

Sources and API keys are set up from Python; sessions follow a scripted lifecycle that tests advance
step by step (``advance``/``run``): QUEUED -> PLANNING -> AWAITING_PLAN_APPROVAL -> IN_PROGRESS ->
[AWAITING_USER_FEEDBACK] -> COMPLETED with a pull request. JSON follows the proto3 mapping (defaults
omitted), errors the ``google.rpc.Status`` envelope; faults: 429 with retry info, 5xx, 404 right after
create, revoked keys. Outside pytest: ``python -m tests.emulators.jules --port 8903 --key AIza-demo``.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

PREFIX = "/v1alpha"
Json = dict[str, Any]
WAITING = ("AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK", "PAUSED", "FAILED", "COMPLETED")
SESSION_INPUT = {"prompt", "title", "sourceContext", "requirePlanApproval", "automationMode"}
SESSION_OUTPUT = {"name", "id", "state", "createTime", "updateTime", "url", "outputs", "archived"}
LIST_PARAMS = {"pageSize", "pageToken", "filter"}
GLOBAL_PARAMS = {"key", "alt", "prettyPrint", "fields", "$.xgafv"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
NOT_FOUND = "Requested entity was not found."
BAD_KEY = "API key not valid. Please pass a valid API key."
NO_KEY = ("API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials "
          "that assert a principal. See https://cloud.google.com/docs/authentication")
PATCH = """diff --git a/modules/vpc/variables.tf b/modules/vpc/variables.tf
--- a/modules/vpc/variables.tf
+++ b/modules/vpc/variables.tf
@@ -10,3 +10,9 @@ variable "azs" {
   description = "Availability zones"
 }
+
+variable "enable_nat_gateway" {
+  type        = bool
+  default     = false
+  description = "Create NAT gateways for private subnets"
+}
"""


@dataclass(frozen=True)
class Script:
    """What the agent does in a session; the default is a small Terraform change ending in a pull request."""

    greeting: str = "I'm reading the repository to understand the module and its variables."
    plan: tuple[tuple[str, str], ...] = (
        ("Add variable enable_nat_gateway to modules/vpc/variables.tf", "A bool, default false, with a description."),
        ("Create aws_nat_gateway with count in modules/vpc/nat.tf", "count = var.enable_nat_gateway ? 1 : 0"),
        ("Run terraform fmt and terraform validate", "Validate examples/complete."),
    )
    progress: tuple[tuple[str, str, int], ...] = (
        ("terraform fmt -recursive", "modules/vpc/nat.tf\n", 0),
        ("terraform validate", "Success! The configuration is valid.\n", 0),
    )
    question: str | None = None
    reply: str = "Thanks, I'll take that into account."
    pr_title: str = "feat(vpc): optional NAT gateway"
    pr_description: str = "Adds enable_nat_gateway (default false) and creates aws_nat_gateway only when true."
    patch: str = PATCH
    commit_message: str = "feat(vpc): add optional NAT gateway"
    fail_reason: str | None = None
    stuck: bool = False
    completed_while_plan_pending: bool = False


@dataclass
class Source:
    owner: str
    repo: str
    private: bool = True
    default_branch: str = "main"
    branches: tuple[str, ...] = ("main",)

    @property
    def name(self) -> str:
        return f"sources/github/{self.owner}/{self.repo}"

    def json(self) -> Json:
        branches = [{"displayName": b} for b in dict.fromkeys((self.default_branch, *self.branches))]
        repo: Json = {"owner": self.owner, "repo": self.repo, "defaultBranch": {"displayName": self.default_branch},
                      "branches": branches}
        if self.private:
            repo["isPrivate"] = True
        return {"name": self.name, "id": self.name.removeprefix("sources/"), "githubRepo": repo}


@dataclass
class Session:
    """One session's state; ``json()`` is what the API shows."""

    id: str
    prompt: str
    title: str
    source: str
    branch: str
    require_approval: bool
    auto_pr: bool
    script: Script
    create_time: str
    update_time: str
    state: str = "QUEUED"
    archived: bool = False
    activities: list[Json] = field(default_factory=list)
    outputs: list[Json] = field(default_factory=list)
    plan_id: str | None = None
    plan_pending: bool = False
    step: int = 0
    asked: bool = False
    pending_messages: list[str] = field(default_factory=list)
    hidden_reads: int = 0
    plans: int = 0

    @property
    def name(self) -> str:
        return f"sessions/{self.id}"

    def json(self) -> Json:
        context: Json = {"source": self.source}
        if self.branch:
            context["githubRepoContext"] = {"startingBranch": self.branch}
        data: Json = {"name": self.name, "id": self.id, "title": self.title, "prompt": self.prompt,
                      "sourceContext": context, "state": self.state, "createTime": self.create_time,
                      "updateTime": self.update_time, "url": f"https://jules.google.com/session/{self.id}"}
        if self.outputs:
            data["outputs"] = self.outputs
        if self.archived:
            data["archived"] = True
        return data


@dataclass(frozen=True)
class Call:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    api_key: str = field(repr=False)
    at: float


@dataclass
class _Fault:
    status: int
    remaining: int
    path: str
    retry_delay: float | None = None
    retry_after_header: bool = False


class RpcError(Exception):
    """An error answer in the ``google.rpc.Status`` envelope."""

    def __init__(self, code: int, message: str, status: str | None = None, reason: str | None = None,
                 details: list[Json] | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        error: Json = {"code": code, "message": message, "status": status or STATUS.get(code, "UNKNOWN")}
        extra = list(details or [])
        if reason:
            extra.insert(0, {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                             "domain": "googleapis.com", "metadata": {"service": "jules.googleapis.com"}})
        if extra:
            error["details"] = extra
        self.code, self.body, self.headers = code, {"error": error}, dict(headers or {})


@dataclass
class JulesEmulator:
    """The emulator; ``start()`` serves in a daemon thread, ``stop()`` shuts it down.

    ``lag_after_create`` makes each new session answer 404 to its first N reads (eventual consistency);
    ``script`` is the default script of new sessions; ``on_pull_request`` may rewrite the pull request
    output of a completing session (e.g. to open a real one in the GitHub emulator).
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int | None = None
    lag_after_create: int = 0
    script: Script = field(default_factory=Script)
    on_pull_request: Callable[[Session, Json], Json] | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _keys: dict[str, bool] = field(default_factory=dict, init=False, repr=False)
    _sources: dict[str, Source] = field(default_factory=dict, init=False, repr=False)
    _sessions: dict[str, Session] = field(default_factory=dict, init=False, repr=False)
    _calls: list[Call] = field(default_factory=list, init=False, repr=False)
    _faults: list[_Fault] = field(default_factory=list, init=False, repr=False)
    _last_time: datetime = field(default_factory=lambda: datetime.fromtimestamp(0, UTC), init=False, repr=False)
    _random: random.Random = field(default_factory=random.Random, init=False, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._random.seed(self.seed)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> JulesEmulator:
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.emulator = self  # type: ignore[attr-defined]
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="jules-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> JulesEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base URL, for ``JULES_API_URL``."""
        return f"http://{self.host}:{self.port}{PREFIX}"

    # -- state --------------------------------------------------------------------------------------

    def add_key(self, key: str | None = None) -> str:
        """A valid API key (generated in Google's ``AIza...`` shape unless given)."""
        with self._lock:
            value = key or "AIza" + "".join(self._random.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk0123456789_-",
                                                                 k=35))
            self._keys[value] = True
            return value

    def revoke_key(self, key: str) -> None:
        """From now on ``key`` gets 401 UNAUTHENTICATED."""
        with self._lock:
            self._keys[key] = False

    def add_source(self, full_name: str, *, private: bool = True, default_branch: str = "main",
                   branches: tuple[str, ...] = ()) -> Source:
        """A GitHub repository the Jules app is installed on (``owner/repo``)."""
        owner, repo = full_name.split("/")
        with self._lock:
            source = Source(owner, repo, private, default_branch, branches or (default_branch,))
            self._sources[source.name] = source
            return source

    def session(self, session_id: str) -> Session:
        with self._lock:
            return self._sessions[session_id.removeprefix("sessions/")]

    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    # -- scripted lifecycle -------------------------------------------------------------------------

    def advance(self, session_id: str) -> str:
        """One step of the agent's work; returns the new state (unchanged while waiting for the user)."""
        with self._lock:
            s = self.session(session_id)
            if s.pending_messages:
                self._answer_message(s, s.pending_messages.pop(0))
            elif s.state == "QUEUED":
                self._set(s, "PLANNING", "agent", agentMessaged={"agentMessage": s.script.greeting})
            elif s.state == "PLANNING":
                self._generate_plan(s)
            elif s.state == "IN_PROGRESS" and not s.script.stuck:
                self._work(s)
            return s.state

    def run(self, session_id: str, until: str | None = None, max_steps: int = 100) -> str:
        """Advance until ``until`` (or any waiting state) is reached; returns the state."""
        session = self.session(session_id)
        state = session.state
        for _ in range(max_steps):
            if state == until or (until is None and state in WAITING):
                break
            before = len(session.activities)
            state = self.advance(session_id)
            if len(session.activities) == before:
                break
        return state

    def fail_session(self, session_id: str, reason: str = "Unable to clone repository") -> None:
        with self._lock:
            self._set(self.session(session_id), "FAILED", "agent", sessionFailed={"reason": reason})

    def _generate_plan(self, s: Session) -> None:
        s.plans += 1
        s.plan_id = uuid.UUID(int=self._random.getrandbits(128)).hex
        revised = "" if s.plans == 1 else " (revised)"
        steps = [_clean({"id": self._hex(), "title": t + revised, "description": d, "index": i})
                 for i, (t, d) in enumerate(s.script.plan)]
        s.plan_pending = s.require_approval
        state = "AWAITING_PLAN_APPROVAL" if s.require_approval else "IN_PROGRESS"
        if s.require_approval and s.script.completed_while_plan_pending:
            state = "COMPLETED"
        plan = {"id": s.plan_id, "steps": steps, "createTime": self._now()}
        self._set(s, state, "agent", planGenerated={"plan": plan})
        if not s.require_approval:
            self._set(s, state, "user", planApproved={"planId": s.plan_id})

    def _work(self, s: Session) -> None:
        script = s.script
        if s.step < len(script.progress):
            command, output, code = script.progress[s.step]
            s.step += 1
            description = f"Command: \n{command}\nOutput: {output.rstrip()}\nExit Code: {code}"
            artifact = {"bashOutput": _clean({"command": f"\n{command}", "output": output, "exitCode": code})}
            self._set(s, "IN_PROGRESS", "agent", [artifact],
                      progressUpdated={"title": "Ran bash command", "description": description})
        elif script.question and not s.asked:
            s.asked = True
            self._set(s, "AWAITING_USER_FEEDBACK", "agent", agentMessaged={"agentMessage": script.question})
        elif script.fail_reason:
            self._set(s, "FAILED", "agent", sessionFailed={"reason": script.fail_reason})
        else:
            self._complete(s)

    def _complete(self, s: Session) -> None:
        source = self._sources.get(s.source)
        patch = {"unidiffPatch": s.script.patch, "baseCommitId": f"{self._random.getrandbits(160):040x}",
                 "suggestedCommitMessage": s.script.commit_message}
        change_set = {"source": s.source, "gitPatch": patch}
        if s.auto_pr and source is not None and not s.outputs:
            number = sum(1 for other in self._sessions.values() if other.outputs and other.source == s.source) + 1
            pr: Json = {"url": f"https://github.com/{source.owner}/{source.repo}/pull/{number}",
                        "title": s.script.pr_title, "description": s.script.pr_description,
                        "baseRef": s.branch or source.default_branch, "headRef": f"jules/session-{s.id}"}
            s.outputs = [{"pullRequest": self.on_pull_request(s, pr) if self.on_pull_request else pr}]
        elif not s.auto_pr:
            s.outputs = [{"changeSet": change_set}]
        self._set(s, "COMPLETED", "agent", [{"changeSet": change_set}], sessionCompleted={})

    def _answer_message(self, s: Session, message: str) -> None:
        self._set(s, s.state, "agent", agentMessaged={"agentMessage": s.script.reply})
        if s.plan_pending:
            self._generate_plan(s)
        elif s.state in ("AWAITING_USER_FEEDBACK", "COMPLETED", "PAUSED"):
            if s.state == "COMPLETED":
                s.step = max(0, len(s.script.progress) - 1)
            s.state = "IN_PROGRESS"

    def _set(self, s: Session, state: str, originator: str, artifacts: list[Json] | None = None,
             **kind: Json) -> None:
        activity_id = self._hex()
        activity: Json = {"name": f"{s.name}/activities/{activity_id}", "id": activity_id,
                          "createTime": self._now(), "originator": originator, **kind}
        if artifacts:
            activity["artifacts"] = artifacts
        s.activities.append(activity)
        s.state, s.update_time = state, activity["createTime"]

    def _hex(self) -> str:
        return f"{self._random.getrandbits(128):032x}"

    def _now(self) -> str:
        """Strictly increasing RFC 3339 timestamps, so ``create_time>`` cursors are exact."""
        now = datetime.now(UTC)
        self._last_time = max(now, self._last_time + timedelta(microseconds=1))
        return self._last_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    # -- fault switches -----------------------------------------------------------------------------

    def rate_limit(self, times: int = 1, retry_delay: float | None = 1.0, retry_after_header: bool = False,
                   path: str = "") -> None:
        """Answer the next ``times`` requests with 429 RESOURCE_EXHAUSTED (with a ``RetryInfo`` detail)."""
        with self._lock:
            self._faults.append(_Fault(429, times, path, retry_delay, retry_after_header))

    def fail(self, times: int = 1, status: int = 503, path: str = "") -> None:
        """Answer the next ``times`` requests (whose path starts with ``path``) with a 5xx status."""
        with self._lock:
            self._faults.append(_Fault(status, times, path))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- recorded calls -----------------------------------------------------------------------------

    def calls(self, path: str | None = None, method: str | None = None) -> list[Call]:
        """Recorded calls, optionally only those whose path (after ``/v1alpha``) starts with ``path``."""
        with self._lock:
            return [c for c in self._calls
                    if (path is None or c.path.startswith(path)) and (method is None or c.method == method)]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- request handling ---------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, Json, bytes]:
        """Answer one HTTP request (``headers`` with lower-case names) and record it."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        path = parts.path.removeprefix(PREFIX)
        key = headers.get("x-goog-api-key") or query.get("key", "")
        with self._lock:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                body = None
            try:
                status, out, data = 200, {}, self._dispatch(method, parts.path, path, query, key, body)
                payload = json.dumps(data).encode()
            except RpcError as error:
                status, out, payload = error.code, error.headers, json.dumps(error.body).encode()
            except _HtmlNotFound:
                status, out = 404, {"Content-Type": "text/html; charset=UTF-8"}
                payload = (f"<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> "
                           f"<ins>That's an error.</ins><p>The requested URL <code>{parts.path}</code> was not found "
                           "on this server.  <ins>That's all we know.</ins>").encode()
            self._calls.append(Call(method, path, query, body, status, key, time.monotonic()))
            return status, out, payload

    def _dispatch(self, method: str, full_path: str, path: str, query: dict[str, str], key: str, body: Any) -> Json:
        if not full_path.startswith(PREFIX + "/"):
            raise _HtmlNotFound
        if not key:
            raise RpcError(401, NO_KEY, reason="CREDENTIALS_MISSING")
        if key not in self._keys:
            raise RpcError(400, BAD_KEY, reason="API_KEY_INVALID")
        if not self._keys[key]:
            raise RpcError(401, NO_KEY, reason="CREDENTIALS_MISSING")
        fault = self._take_fault(path)
        if fault is not None:
            raise _fault_error(fault)
        if body is None:
            raise RpcError(400, "Invalid JSON payload received. Unexpected token.")
        handler, args, allowed = _route(method, path)
        if handler is None:
            raise _HtmlNotFound
        unknown = sorted(set(query) - allowed - GLOBAL_PARAMS)
        if unknown:
            raise RpcError(400, f"Invalid JSON payload received. Unknown name \"{unknown[0]}\": Cannot bind query "
                                f"parameter. Field '{unknown[0]}' could not be found in request message.")
        return handler(self, query, body, *args)

    def _take_fault(self, path: str) -> _Fault | None:
        fault = next((f for f in self._faults if path.startswith(f.path)), None)
        if fault is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
        return fault

    def _visible(self, session_id: str) -> Session:
        """The session, unless it does not exist or is still hidden right after create."""
        s = self._sessions.get(session_id)
        if s is None:
            raise RpcError(404, NOT_FOUND)
        if s.hidden_reads > 0:
            s.hidden_reads -= 1
            raise RpcError(404, NOT_FOUND)
        return s

    # -- methods ------------------------------------------------------------------------------------

    def _list_sources(self, query: dict[str, str], body: Any) -> Json:
        sources = sorted(self._sources.values(), key=lambda s: s.name)
        wanted = _name_filter(query.get("filter", ""))
        if wanted is not None:
            sources = [s for s in sources if s.name in wanted]
        return _paged("sources", [s.json() for s in sources], query, default=30)

    def _get_source(self, query: dict[str, str], body: Any, name: str) -> Json:
        source = self._sources.get(f"sources/{name}")
        if source is None:
            raise RpcError(404, NOT_FOUND)
        return source.json()

    def _create_session(self, query: dict[str, str], body: Any) -> Json:
        if not isinstance(body, dict):
            raise RpcError(400, "Invalid JSON payload received. Expected an object.")
        _only(body, SESSION_INPUT | SESSION_OUTPUT, "session")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise RpcError(400, "prompt is required.")
        context = body.get("sourceContext") or {}
        _only(context, {"source", "githubRepoContext", "workingBranch", "environmentVariablesEnabled"},
              "session.source_context")
        source_name = str(context.get("source", ""))
        if source_name and source_name not in self._sources:
            raise RpcError(404, NOT_FOUND)
        mode = body.get("automationMode", "AUTOMATION_MODE_UNSPECIFIED")
        if mode not in ("AUTOMATION_MODE_UNSPECIFIED", "AUTO_CREATE_PR"):
            raise RpcError(400, f"Invalid value at 'session.automation_mode' (type.googleapis.com/google.labs.jules."
                                f"v1alpha.AutomationMode), \"{mode}\"")
        session_id = str(self._random.randint(10**18, 10**19 - 1))
        now = self._now()
        branch = str((context.get("githubRepoContext") or {}).get("startingBranch", ""))
        s = Session(session_id, prompt, str(body.get("title") or " ".join(prompt.split()[:6])), source_name, branch,
                    bool(body.get("requirePlanApproval", False)), mode == "AUTO_CREATE_PR", self.script, now, now,
                    hidden_reads=self.lag_after_create)
        self._sessions[session_id] = s
        return s.json()

    def _list_sessions(self, query: dict[str, str], body: Any) -> Json:
        text = query.get("filter", "").strip()
        match = re.fullmatch(r"archived\s*=\s*(true|false)", text)
        if text and match is None:
            raise RpcError(400, "Request contains an invalid argument.")
        archived = bool(match and match.group(1) == "true")
        sessions = sorted((s for s in self._sessions.values() if s.archived == archived),
                          key=lambda s: s.create_time, reverse=True)
        return _paged("sessions", [s.json() for s in sessions], query, default=30)

    def _get_session(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        return self._visible(session_id).json()

    def _delete_session(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        if self._sessions.pop(session_id, None) is None:
            raise RpcError(404, NOT_FOUND)
        return {}

    def _send_message(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        s = self._visible(session_id)
        _only(body, {"prompt"}, "")
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            raise RpcError(400, "prompt is required.")
        self._set(s, s.state, "user", userMessaged={"userMessage": body["prompt"]})
        s.pending_messages.append(body["prompt"])
        return {}

    def _approve_plan(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        s = self._visible(session_id)
        _only(body, set(), "")
        if not s.plan_pending:
            raise RpcError(400, "There is no plan awaiting approval.", "FAILED_PRECONDITION")
        s.plan_pending = False
        self._set(s, "IN_PROGRESS", "user", planApproved={"planId": s.plan_id})
        return {}

    def _archive(self, query: dict[str, str], body: Any, session_id: str, archived: bool) -> Json:
        self._visible(session_id).archived = archived
        return {}

    def _list_activities(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        s = self._visible(session_id)
        items = s.activities
        text = query.get("filter", "").strip()
        if text:
            match = re.fullmatch(r'(?:create_time|createTime)\s*>\s*"([^"]+)"', text)
            after = _parse_time(match.group(1)) if match else None
            if after is None:
                raise RpcError(400, "Request contains an invalid argument.")
            items = [a for a in items if _parse_time(a["createTime"]) > after]  # type: ignore[operator]
        return _paged("activities", items, query, default=50)

    def _get_activity(self, query: dict[str, str], body: Any, session_id: str, activity_id: str) -> Json:
        s = self._visible(session_id)
        found = next((a for a in s.activities if a["id"] == activity_id), None)
        if found is None:
            raise RpcError(404, NOT_FOUND)
        return found


class _HtmlNotFound(Exception):
    """Google's front end answers unknown URLs with an HTML 404 page."""


Method = Callable[..., Json]


def _route(method: str, path: str) -> tuple[Method | None, tuple[Any, ...], set[str]]:
    """The handler, its path arguments and its allowed query parameters."""
    e = JulesEmulator
    parts = [unquote(p) for p in path.strip("/").split("/")]
    head, verb = parts[-1].partition(":")[0], parts[-1].partition(":")[2]
    parts[-1] = head
    if parts[0] == "sources" and method == "GET" and not verb:
        if len(parts) == 1:
            return e._list_sources, (), LIST_PARAMS
        return e._get_source, ("/".join(parts[1:]),), set()
    if parts[0] != "sessions":
        return None, (), set()
    if len(parts) == 1 and not verb:
        return {"GET": (e._list_sessions, (), LIST_PARAMS), "POST": (e._create_session, (), set())}.get(
            method, (None, (), set()))
    if len(parts) == 2 and verb and method == "POST":
        verbs: dict[str, tuple[Method, tuple[Any, ...]]] = {
            "sendMessage": (e._send_message, ()), "approvePlan": (e._approve_plan, ()),
            "archive": (e._archive, (True,)), "unarchive": (e._archive, (False,))}
        if verb not in verbs:
            return None, (), set()
        handler, extra = verbs[verb]
        return handler, (parts[1], *extra), set()
    if len(parts) == 2 and not verb:
        return {"GET": (e._get_session, (parts[1],), set()), "DELETE": (e._delete_session, (parts[1],), set())}.get(
            method, (None, (), set()))
    if len(parts) >= 3 and parts[2] == "activities" and method == "GET" and not verb:
        if len(parts) == 3:
            return e._list_activities, (parts[1],), LIST_PARAMS
        if len(parts) == 4:
            return e._get_activity, (parts[1], parts[3]), set()
    return None, (), set()


def _paged(key: str, items: list[Json], query: dict[str, str], default: int) -> Json:
    """``items`` cut by ``pageSize``/``pageToken``; ``nextPageToken`` only when more follow; empty lists omitted."""
    size_text = query.get("pageSize", "")
    if size_text and not re.fullmatch(r"-?\d+", size_text):
        raise RpcError(400, f"Invalid value at 'page_size' (TYPE_INT32), \"{size_text}\"")
    size = int(size_text or 0)
    if size < 0:
        raise RpcError(400, "page_size must not be negative.")
    size = min(100, size or default)
    start = 0
    if query.get("pageToken"):
        try:
            start = int(base64.urlsafe_b64decode(query["pageToken"] + "==").decode().removeprefix("o:"))
        except ValueError:
            raise RpcError(400, "Invalid page token.") from None
    page: Json = {}
    if items[start:start + size]:
        page[key] = items[start:start + size]
    if start + size < len(items):
        page["nextPageToken"] = base64.urlsafe_b64encode(f"o:{start + size}".encode()).decode().rstrip("=")
    return page


def _name_filter(text: str) -> set[str] | None:
    """The names of an AIP-160 ``name=a OR name=b`` filter (None without a filter)."""
    if not text.strip():
        return None
    names = [re.fullmatch(r'\s*name\s*=\s*"?([^"\s]+)"?\s*', part) for part in re.split(r"\bOR\b", text)]
    if not all(names):
        raise RpcError(400, "Request contains an invalid argument.")
    return {m.group(1) for m in names if m}


def _only(body: Any, allowed: set[str], where: str) -> None:
    if not isinstance(body, dict):
        raise RpcError(400, "Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in allowed:
            at = f" at '{where}'" if where else ""
            raise RpcError(400, f"Invalid JSON payload received. Unknown name \"{name}\"{at}: Cannot find field.")


def _parse_time(text: str) -> datetime | None:
    """An RFC 3339 timestamp with 0-9 fractional digits (nanoseconds are cut to microseconds)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return None
    fraction = (match.group(2) or "").ljust(6, "0")[:6]
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{match.group(3).replace('Z', '+00:00')}")


def _clean(data: Json) -> Json:
    """Drop proto3 default values (0, "", False, empty lists), as the JSON mapping does."""
    return {k: v for k, v in data.items() if v not in (0, "", False, None, [], {})}


def _fault_error(fault: _Fault) -> RpcError:
    if fault.status == 429:
        details = [] if fault.retry_delay is None else [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{fault.retry_delay:g}s"}]
        headers = {"Retry-After": str(max(1, round(fault.retry_delay or 1)))} if fault.retry_after_header else {}
        return RpcError(429, "Resource has been exhausted (e.g. check quota).", details=details, headers=headers)
    messages = {500: "Internal error encountered.", 502: "Bad Gateway", 503: "The service is currently unavailable.",
                504: "Deadline expired before operation could complete."}
    return RpcError(fault.status, messages.get(fault.status, "Internal error encountered."))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

    def do_OPTIONS(self) -> None:
        """CORS preflight: no key needed."""
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "content-type,x-goog-api-key")
        self.send_header("Access-Control-Allow-Methods", "GET,POST,DELETE,OPTIONS")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self) -> None:
        emulator: JulesEmulator = self.server.emulator  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = emulator.respond(self.command, self.path, headers, raw)
        self.send_response(status)
        self.send_header("Content-Type", extra.pop("Content-Type", "application/json; charset=UTF-8"))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Vary", "Origin, X-Origin, Referer")
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded calls instead."""


@contextmanager
def running(port: int = 0, **options: Any) -> Iterator[JulesEmulator]:
    """A started emulator, stopped on exit."""
    emulator = JulesEmulator(port=port, **options).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Jules API emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", action="append", default=[], help="a valid API key (repeatable)")
    parser.add_argument("--source", action="append", default=[], metavar="OWNER/REPO", help="a source (repeatable)")
    parser.add_argument("--auto", type=float, default=0.0, metavar="SECONDS",
                        help="advance every live session every SECONDS (0: never)")
    args = parser.parse_args(argv)
    emulator = JulesEmulator(host=args.host, port=args.port).start()
    for key in args.key:
        emulator.add_key(key)
    for source in args.source:
        emulator.add_source(source)
    print(f"Jules emulator: JULES_API_URL={emulator.url}", flush=True)
    try:
        while True:
            time.sleep(args.auto or 3600)
            for session in emulator.sessions() if args.auto else []:
                emulator.advance(session.id)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
