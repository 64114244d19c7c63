"""The REST methods of the Jules emulator and how requests reach them.

``JulesApi`` is a mixin of ``JulesEmulator`` holding one method per endpoint (sources, sessions,
activities); ``find_method`` maps a path and HTTP method to it. Errors are ``RpcError`` in the
``google.rpc.Status`` envelope; the helpers validate bodies, filters and page tokens as Google does.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from tests.emulators.http_base import Json
from tests.emulators.jules_state import Script, Session, SessionLifecycle

SESSION_INPUT = {"prompt", "title", "sourceContext", "requirePlanApproval", "automationMode"}
SESSION_OUTPUT = {"name", "id", "state", "createTime", "updateTime", "url", "outputs", "archived"}
LIST_PARAMS = {"pageSize", "pageToken", "filter"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
NOT_FOUND = "Requested entity was not found."


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


class JulesApi(SessionLifecycle):
    """The API methods: ``(self, query, body, *path arguments) -> JSON``; they run under the lock."""

    script: Script
    lag_after_create: int

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
        """``GET /sources`` (``filter``: ``name=a OR name=b``)."""
        sources = sorted(self._sources.values(), key=lambda s: s.name)
        wanted = _name_filter(query.get("filter", ""))
        if wanted is not None:
            sources = [s for s in sources if s.name in wanted]
        return _paged("sources", [s.json() for s in sources], query, default=30)

    def _get_source(self, query: dict[str, str], body: Any, name: str) -> Json:
        """``GET /sources/{name}``."""
        source = self._sources.get(f"sources/{name}")
        if source is None:
            raise RpcError(404, NOT_FOUND)
        return source.json()

    def _create_session(self, query: dict[str, str], body: Any) -> Json:
        """``POST /sessions``: a new QUEUED session following the emulator's script."""
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
        """``GET /sessions``, newest first (``filter``: ``archived=true|false``)."""
        text = query.get("filter", "").strip()
        match = re.fullmatch(r"archived\s*=\s*(true|false)", text)
        if text and match is None:
            raise RpcError(400, "Request contains an invalid argument.")
        archived = bool(match and match.group(1) == "true")
        sessions = sorted((s for s in self._sessions.values() if s.archived == archived),
                          key=lambda s: s.create_time, reverse=True)
        return _paged("sessions", [s.json() for s in sessions], query, default=30)

    def _get_session(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        """``GET /sessions/{id}``."""
        return self._visible(session_id).json()

    def _delete_session(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        """``DELETE /sessions/{id}``."""
        if self._sessions.pop(session_id, None) is None:
            raise RpcError(404, NOT_FOUND)
        return {}

    def _send_message(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        """``POST /sessions/{id}:sendMessage``; the agent answers on the next ``advance``."""
        s = self._visible(session_id)
        _only(body, {"prompt"}, "")
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            raise RpcError(400, "prompt is required.")
        self._set(s, s.state, "user", userMessaged={"userMessage": body["prompt"]})
        s.pending_messages.append(body["prompt"])
        return {}

    def _approve_plan(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        """``POST /sessions/{id}:approvePlan``."""
        s = self._visible(session_id)
        _only(body, set(), "")
        if not s.plan_pending:
            raise RpcError(400, "There is no plan awaiting approval.", "FAILED_PRECONDITION")
        s.plan_pending = False
        self._set(s, "IN_PROGRESS", "user", planApproved={"planId": s.plan_id})
        return {}

    def _archive(self, query: dict[str, str], body: Any, session_id: str, archived: bool) -> Json:
        """``POST /sessions/{id}:archive`` and ``:unarchive``."""
        self._visible(session_id).archived = archived
        return {}

    def _list_activities(self, query: dict[str, str], body: Any, session_id: str) -> Json:
        """``GET /sessions/{id}/activities`` (``filter``: ``create_time>"<RFC 3339>"``)."""
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
        """``GET /sessions/{id}/activities/{activity}``."""
        s = self._visible(session_id)
        found = next((a for a in s.activities if a["id"] == activity_id), None)
        if found is None:
            raise RpcError(404, NOT_FOUND)
        return found


class HtmlNotFound(Exception):
    """Google's front end answers unknown URLs with an HTML 404 page."""


Method = Callable[..., Json]
"""An API method of ``JulesEmulator``: ``(self, query, body, *path arguments) -> JSON``."""


def find_method(method: str, path: str) -> tuple[Method | None, tuple[Any, ...], set[str]]:
    """The handler, its path arguments and its allowed query parameters."""
    e = JulesApi
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
    """Reject a body that is not an object or has a field outside ``allowed``, as Google's JSON parser does."""
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

