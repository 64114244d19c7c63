"""Waking the loops that wait on a queue: PostgreSQL's ``LISTEN``, on a connection of its own, reconnected.

One :class:`Waker` per process listens on every queue's channel; each loop waits on the queue it serves and
wakes when a notification for it arrives, when the listener (re)connects (what was queued while it was away
is looked at then), when its poll interval is over, or when it is told to stop. On SQLite there is nothing to
listen to: a wait is the poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from core.queue import QUEUES, Queue
from storage.db import Database

log = logging.getLogger(__name__)

RETRY_MAX_SECONDS = 5.0
"""The longest pause between two attempts to reconnect the listener."""
SLICE_SECONDS = 0.5
"""How often the listener and a waiting loop look at the stop event."""


class Waker:
    """Listens for the queues' notifications and wakes the loops waiting on them."""

    def __init__(self, db: Database, queues: Sequence[Queue] = QUEUES) -> None:
        self.db, self.queues = db, tuple(queues)
        self.connected = threading.Event()
        """Set while the listener's connection is up and listening."""
        self.connections = 0
        """How many times the listener connected (a reconnection counts)."""
        self.backend_pid: int | None = None
        """The PostgreSQL backend of the listener's current connection."""
        self._changed = threading.Condition()
        self._marks = {queue.channel: 0 for queue in self.queues}
        self._waiting = {queue.channel: 0 for queue in self.queues}

    @property
    def listens(self) -> bool:
        """Whether the database can notify (PostgreSQL); on SQLite every wait is the poll."""
        return self.db.is_postgres

    def start(self, stop: threading.Event) -> Waker:
        """Start listening in a daemon thread until ``stop`` is set (nothing on SQLite); returns the waker."""
        if self.listens:
            threading.Thread(target=self._listen, args=(stop,), name="rad-queue-listener", daemon=True).start()
        return self

    def mark(self, queue: Queue) -> int:
        """Where ``queue``'s wake-ups are now: take it before looking at the queue, pass it to :meth:`wait`."""
        with self._changed:
            return self._marks[queue.channel]

    def waiting(self, queue: Queue) -> int:
        """How many loops wait on ``queue`` right now."""
        with self._changed:
            return self._waiting[queue.channel]

    def wait(self, queue: Queue, mark: int, timeout: float, stop: threading.Event) -> bool:
        """Wait until ``queue`` is woken after ``mark``, ``timeout`` seconds pass or ``stop`` is set.

        True when woken (also by a wake-up that came after ``mark`` but before this call), else False.
        """
        channel = queue.channel
        with self._changed:
            self._waiting[channel] += 1
        try:
            if not self.listens:
                stop.wait(timeout)
                return False
            deadline = time.monotonic() + timeout
            with self._changed:
                while self._marks[channel] == mark and not stop.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._changed.wait(min(left, SLICE_SECONDS))
                return self._marks[channel] != mark
        finally:
            with self._changed:
                self._waiting[channel] -= 1

    def _wake(self, channels: Sequence[str]) -> None:
        with self._changed:
            for channel in channels:
                if channel in self._marks:
                    self._marks[channel] += 1
            self._changed.notify_all()

    def _connect(self) -> psycopg.Connection[Any]:
        """A connection of its own, outside the pool, in autocommit: ``LISTEN`` takes effect at once."""
        engine = self.db.engine
        args, params = engine.dialect.create_connect_args(engine.url)
        params.setdefault("connect_timeout", 5)
        params.update(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
        return psycopg.connect(*args, **params, autocommit=True)

    def _listen(self, stop: threading.Event) -> None:
        """Listen until ``stop``; a lost connection is reconnected with backoff and every queue woken then."""
        channels = [queue.channel for queue in self.queues]
        failures = 0
        while not stop.is_set():
            try:
                with self._connect() as connection:
                    for channel in channels:
                        connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.backend_pid = connection.info.backend_pid
                    self.connections += 1
                    failures = 0
                    self.connected.set()
                    self._wake(channels)  # what was queued while nobody listened is looked at now
                    while not stop.is_set():
                        for notification in connection.notifies(timeout=SLICE_SECONDS):
                            self._wake([notification.channel])
            except psycopg.Error as error:
                self.connected.clear()
                failures += 1
                pause = min(RETRY_MAX_SECONDS, 0.1 * 2 ** (failures - 1))
                log.warning("queue listener lost its database connection; reconnecting", extra={
                    "error": type(error).__name__, "attempt": failures, "retry_in": pause})
                stop.wait(pause)
        self.connected.clear()
        self._wake(channels)  # the waiting loops see the stop at once
