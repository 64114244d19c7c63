"""The worker: claims queued jobs from the database and runs their registered handlers."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.runtime import Runtime
from bot.slack import queued as slack_jobs
from commands.framework.context import JobContext
from commands.framework.messenger import Messenger
from commands.handlers import notify
from core.jobs import queue as jobs
from core.queue import JOBS
from core.queue.loop import serve
from core.queue.wake import Waker
from storage.db import again_if_lost
from storage.models import Job, utcnow

log = logging.getLogger(__name__)


def worker_name(index: int = 0) -> str:
    """A worker's name, unique across hosts and processes: ``host:pid:index``."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class Worker:
    """One claiming loop; start several (threads or processes) to share the queue."""

    def __init__(self, runtime: Runtime, messengers: dict[str, Messenger] | None = None, *, name: str = "",
                 poll_seconds: float = 1.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.messengers = messengers or {}
        self.name = name or worker_name()
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.front_door_jobs = slack_jobs.job_handlers(runtime, self.messengers)  # Slack requests queued at ack

    def run_once(self) -> bool:
        """Claim and run one due job; False when none was due."""
        db = self.runtime.db
        with db.unit_of_work() as session:
            job = jobs.claim(session, self.name, self.clock())
            if job is None:
                return False
            job_id, kind, payload = job.id, job.kind, dict(job.payload)
        if kind == notify.POST_KIND:
            return self._deliver(job_id, payload)
        handler = self.runtime.registry.jobs.get(kind) or self.front_door_jobs.get(kind)
        error = "" if handler is not None else f"no handler for job kind {kind!r}"
        if handler is not None:
            try:
                with db.unit_of_work() as session:
                    after = handler(JobContext(session, self.runtime.config, self.messengers, self.clock()), payload)
                if after is not None:
                    after()  # committed, no transaction open: the job's network call (a Slack publish...)
            except Exception as exc:  # a job's failure must never stop the worker
                log.exception("job failed", extra={"job_id": job_id, "kind": kind})
                error = f"{type(exc).__name__}: {exc}"
        def record() -> None:
            with db.unit_of_work() as session:
                claimed = session.get_one(Job, job_id)
                if error:
                    jobs.fail(session, claimed, error, self.clock())
                else:
                    jobs.finish(session, claimed, self.clock())

        again_if_lost(record, "job end")  # a job done but left running would be run again
        return True

    def _deliver(self, job_id: int, payload: dict[str, Any]) -> bool:
        """Post an outbox row with no transaction open, then record the message posted (or retry later)."""
        error = ""
        try:
            payload = notify.deliver(self.messengers, payload)
        except Exception as exc:  # the chat platform failed: the row is retried with the queue's backoff
            log.warning("chat post failed", extra={"job_id": job_id, "error": type(exc).__name__})
            error = f"{type(exc).__name__}: {exc}"
        def record() -> None:
            with self.runtime.db.unit_of_work() as session:
                claimed = session.get_one(Job, job_id)
                if error:
                    if not jobs.fail(session, claimed, error, self.clock()):
                        notify.failed_for_good(session, payload, error)  # e.g. a digest channel marked broken
                else:
                    claimed.payload = payload
                    jobs.finish(session, claimed, self.clock())

        again_if_lost(record, "chat post end")  # a post made but left running would be posted again
        return True

    def run_forever(self, stop: threading.Event, waker: Waker | None = None) -> None:
        """Run due jobs until ``stop`` is set; when none is due, wait for ``waker`` or ``poll_seconds``.

        A failure never stops it. With a ``waker`` (PostgreSQL), a job queued meanwhile wakes it at once.
        """
        log.info("worker started", extra={"worker": self.name})
        serve(self.run_once, JOBS, waker, stop, self.poll_seconds, name=self.name)
        log.info("worker stopped", extra={"worker": self.name})


def start_workers(runtime: Runtime, messengers: dict[str, Messenger], stop: threading.Event,
                  count: int = 1, waker: Waker | None = None) -> list[threading.Thread]:
    """Run ``count`` workers in daemon threads until ``stop`` is set, woken by ``waker`` (else a new one)."""
    waker = waker or Waker(runtime.db).start(stop)
    threads = []
    for index in range(count):
        worker = Worker(runtime, messengers, name=worker_name(index))
        thread = threading.Thread(target=worker.run_forever, args=(stop, waker), name=f"rad-worker-{index}",
                                  daemon=True)
        thread.start()
        threads.append(thread)
    return threads
