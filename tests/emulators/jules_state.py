"""The state behind the Jules emulator: sources, sessions, their activities and the scripted lifecycle.

A session follows its ``Script`` one ``advance`` at a time: QUEUED -> PLANNING -> AWAITING_PLAN_APPROVAL
-> IN_PROGRESS -> [AWAITING_USER_FEEDBACK] -> COMPLETED (with a pull request or a change set) or FAILED.
``SessionLifecycle`` is a mixin of ``JulesEmulator``; activities are stored in their proto3 JSON shape.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.emulators.http_base import Json

WAITING = ("AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK", "PAUSED", "FAILED", "COMPLETED")
"""The states ``run`` stops at (the agent waits for the user, or is done)."""
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
    """A GitHub repository the Jules app is installed on."""

    owner: str
    repo: str
    private: bool = True
    default_branch: str = "main"
    branches: tuple[str, ...] = ("main",)

    @property
    def name(self) -> str:
        """``sources/github/<owner>/<repo>``."""
        return f"sources/github/{self.owner}/{self.repo}"

    def json(self) -> Json:
        """The API shape of the source."""
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
        """``sessions/<id>``."""
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


def clean(data: Json) -> Json:
    """Drop proto3 default values (0, "", False, empty lists), as the JSON mapping does."""
    return {k: v for k, v in data.items() if v not in (0, "", False, None, [], {})}


class SessionLifecycle:
    """Session look-up and the scripted agent; the emulator provides the state and the lock."""

    on_pull_request: Callable[[Session, Json], Json] | None
    clock: Callable[[], datetime]
    _lock: threading.RLock
    _sources: dict[str, Source]
    _sessions: dict[str, Session]
    _last_time: datetime
    _random: random.Random

    def session(self, session_id: str) -> Session:
        """The session ``session_id`` (or ``sessions/<id>``)."""
        with self._lock:
            return self._sessions[session_id.removeprefix("sessions/")]

    def sessions(self) -> list[Session]:
        """All sessions, oldest first."""
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
        """End the session in FAILED with ``reason``."""
        with self._lock:
            self._set(self.session(session_id), "FAILED", "agent", sessionFailed={"reason": reason})

    def _generate_plan(self, s: Session) -> None:
        """Post a (revised) plan; approve it at once unless the session requires approval."""
        s.plans += 1
        s.plan_id = uuid.UUID(int=self._random.getrandbits(128)).hex
        revised = "" if s.plans == 1 else " (revised)"
        steps = [clean({"id": self._hex(), "title": t + revised, "description": d, "index": i})
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
        """The next progress step, the script's question, its failure, or completion."""
        script = s.script
        if s.step < len(script.progress):
            command, output, code = script.progress[s.step]
            s.step += 1
            description = f"Command: \n{command}\nOutput: {output.rstrip()}\nExit Code: {code}"
            artifact = {"bashOutput": clean({"command": f"\n{command}", "output": output, "exitCode": code})}
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
        """COMPLETED with the patch, as a pull request output (AUTO_CREATE_PR) or a change set."""
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
        """Reply to a user message; re-plan if a plan is pending, else resume work."""
        self._set(s, s.state, "agent", agentMessaged={"agentMessage": s.script.reply})
        if s.plan_pending:
            self._generate_plan(s)
        elif s.state in ("AWAITING_USER_FEEDBACK", "COMPLETED", "PAUSED"):
            if s.state == "COMPLETED":
                s.step = max(0, len(s.script.progress) - 1)
            s.state = "IN_PROGRESS"

    def _set(self, s: Session, state: str, originator: str, artifacts: list[Json] | None = None,
             **kind: Json) -> None:
        """Append an activity of ``kind`` by ``originator`` and move the session to ``state``."""
        activity_id = self._hex()
        activity: Json = {"name": f"{s.name}/activities/{activity_id}", "id": activity_id,
                          "createTime": self._now(), "originator": originator, **kind}
        if artifacts:
            activity["artifacts"] = artifacts
        s.activities.append(activity)
        s.state, s.update_time = state, activity["createTime"]

    def _hex(self) -> str:
        """A random 32-digit hex id."""
        return f"{self._random.getrandbits(128):032x}"

    def _now(self) -> str:
        """Strictly increasing RFC 3339 timestamps, so ``create_time>`` cursors are exact."""
        now = self.clock()
        self._last_time = max(now, self._last_time + timedelta(microseconds=1))
        return self._last_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

