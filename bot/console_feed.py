"""What a console follows in the database: its user's deployments as they move, and the messages for it.

Any worker process may claim a deployment's run (the console's own, or a ``python -m bot worker`` elsewhere),
so the console does not wait for the run's messages: it polls the deployments its user owns and prints one
line per change of status, and the run's result (outputs, or what went wrong, and the log as a file) when it
ends. It also delivers the outbox posts (``chat.post`` rows) addressed to its user, or to its console channel,
that no worker could: a worker without this console cannot print them. Another user's deployments and messages
are never read.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.console import Console
from commands.handlers import notify
from commands.ui.model import Button, Reply
from commands.views.deployment import ACTION_WORDS, result_reply, status_line
from core.accounts.identity import find_user
from core.jobs import queue as jobs
from storage.db import Database
from storage.models import Deployment, DeploymentRun, DeploymentStatus, Job, JobStatus, utcnow

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
LOG_TAIL_LINES = 40
KEEP_MESSAGES = timedelta(days=7)
"""Messages for this console older than this, never delivered, are not shown any more."""


@dataclass(frozen=True)
class Seen:
    """What the console last knew of one deployment."""

    status: str
    run_id: int | None


class ConsoleFeed:
    """Polls the database for one console's user and prints what changed through the console."""

    def __init__(self, console: Console, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.console, self.db, self.clock = console, db, clock
        self.name = f"console-{os.getpid()}-{console.caller.key}"[:100]
        self.since = clock()
        self._user_id: int | None = None
        self._seen: dict[int, Seen] | None = None
        self._reported: set[int] = set()

    def poll(self) -> None:
        """Print what changed since the last poll (the first poll only notes how things are)."""
        for item in self._deployment_changes():
            if isinstance(item, Reply):
                self.console.tell(item)
            else:
                self.console.progress(item[0], item[1])
        self._deliver_messages()

    def run_forever(self, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> None:
        """Poll until ``stop`` is set; a failing poll (the database away) is logged and tried again."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception as error:  # the console must outlive a database hiccup
                log.warning("the console could not read its updates", extra={"error": type(error).__name__})
            stop.wait(poll_seconds)

    def start(self, stop: threading.Event) -> threading.Thread:
        """Poll in a daemon thread until ``stop`` is set."""
        thread = threading.Thread(target=self.run_forever, args=(stop,), name="rad-console-feed", daemon=True)
        thread.start()
        return thread

    # -- deployments --------------------------------------------------------------------------------

    def _user(self, session: Session) -> int | None:
        if self._user_id is None:
            user = find_user(session, self.console.caller.key)
            self._user_id = user.id if user is not None else None
        return self._user_id

    def _deployment_changes(self) -> list[Reply | tuple[str, str]]:
        changes: list[Reply | tuple[str, str]] = []
        with self.db.unit_of_work() as session:
            user_id = self._user(session)
            if user_id is None:
                return changes  # not a user yet: nothing of theirs can move
            owned = session.scalars(select(Deployment).where(
                Deployment.owner_id == user_id,
                or_(Deployment.deleted_at.is_(None), Deployment.deleted_at >= self.since),
            ).order_by(Deployment.id)).all()
            latest = self._latest_runs(session, [d.id for d in owned])
            first, before = self._seen is None, self._seen or {}
            seen: dict[int, Seen] = {}
            for deployment in owned:
                run = latest.get(deployment.id)
                now = seen[deployment.id] = Seen(str(deployment.status), run.id if run is not None else None)
                ended = run is not None and run.finished_at is not None
                if first or now == before.get(deployment.id):
                    if ended and run is not None:
                        self._reported.add(run.id)
                    continue
                if ended and run is not None and run.id not in self._reported:
                    self._reported.add(run.id)
                    changes.append(self._result(deployment, run))
                elif deployment.id in before or deployment.status != "QUEUED":
                    changes.append(_status_change(deployment))
            self._seen = seen
        return changes

    @staticmethod
    def _latest_runs(session: Session, deployment_ids: list[int]) -> dict[int, DeploymentRun]:
        if not deployment_ids:
            return {}
        runs = session.scalars(select(DeploymentRun).where(DeploymentRun.deployment_id.in_(deployment_ids))
                               .order_by(DeploymentRun.id)).all()
        return {run.deployment_id: run for run in runs}  # the last one of each wins

    def _result(self, deployment: Deployment, run: DeploymentRun) -> Reply:
        tail = "\n".join(run.log.splitlines()[-LOG_TAIL_LINES:])
        mention = f"@{self.console.caller.key.external_id}"
        return result_reply(deployment, mention, run.error, tail, run.log)

    # -- messages -----------------------------------------------------------------------------------

    def _deliver_messages(self) -> None:
        """Print the outbox posts addressed to this console that nobody delivered, and mark them sent."""
        for job_id, payload in self._addressed_to_me():
            with self.db.unit_of_work() as session:
                claimed = jobs.claim_id(session, job_id, self.name, self.clock(),
                                        statuses=(JobStatus.QUEUED, JobStatus.FAILED))
                if claimed is None:
                    continue  # a worker of this process took it: it prints it itself
            lead = f"📬 To @{self.console.caller.key.external_id}:" if "user" in payload else ""
            buttons = tuple(Button(str(b.get("label", "")), str(b.get("action_id", "")), str(b.get("value", "")))
                            for b in payload.get("buttons") or ())  # listed: pressed from the command they name
            self.console.tell(Reply(text=str(payload.get("text", "")), actions=buttons, ephemeral=False), lead=lead)
            with self.db.unit_of_work() as session:
                row = session.get_one(Job, job_id)
                row.payload = {**payload, "sent": {"platform": "console", "console": self.name}}
                jobs.finish(session, row, self.clock())

    def _addressed_to_me(self) -> list[tuple[int, dict[str, Any]]]:
        key = self.console.caller.key
        mine_user = asdict(key) if key.platform == "console" else None
        channel = self.console.here.channel
        with self.db.unit_of_work() as session:
            rows = session.execute(select(Job.id, Job.payload).where(
                Job.kind == notify.POST_KIND, Job.status.in_((JobStatus.QUEUED, JobStatus.FAILED)),
                Job.created_at >= self.clock() - KEEP_MESSAGES,
            ).order_by(Job.id)).all()
        found = []
        for job_id, payload in rows:
            if not isinstance(payload, dict) or payload.get("sent"):
                continue
            to_user = payload.get("user")
            where = payload.get("where")
            if (mine_user is not None and to_user == mine_user) or (
                    isinstance(where, dict) and where.get("platform") == "console"
                    and where.get("channel") == channel):
                found.append((int(job_id), dict(payload)))
        return found


def _status_change(deployment: Deployment) -> tuple[str, str]:
    title = f"{ACTION_WORDS.get(deployment.action, deployment.action.title())} {deployment.module_name} · " \
            f"{deployment.short_id}"
    waiting = deployment.status == DeploymentStatus.AWAITING_REVIEW
    hint = f" (its plan: `deployment {deployment.short_id}`, then Apply or Discard)" if waiting else ""
    return title, f"{title}: {status_line(deployment)}{hint}"
