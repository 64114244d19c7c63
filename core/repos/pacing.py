"""Pace a burst of concurrent requests to one API within its documented limits.

GitHub's secondary rate limits allow at most 100 concurrent requests and 900 points a minute per REST endpoint
(a GET costs one point), and ask a client that got a 403 or 429 with ``Retry-After`` to wait that long before
its next request. A :class:`RequestPacer` is shared by the threads of one burst (a scan's blob reads): each
request first calls :meth:`RequestPacer.acquire`, which waits while the last minute already holds
``per_minute`` requests or while a rate limit asked everyone to wait (:meth:`RequestPacer.pause`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class PacerStopped(Exception):
    """The burst was stopped (another request failed): no further request starts."""


class RequestPacer:
    """At most ``per_minute`` request starts in any 60 seconds, none while paused; thread-safe.

    ``clock`` is a monotonic clock in seconds (tests may pass their own).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._clock = clock
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._stopped = False
        self._changed = threading.Condition()
        self.waited = 0.0

    def acquire(self) -> None:
        """Wait until a request may start and count it; raises :class:`PacerStopped` once :meth:`stop` is called."""
        with self._changed:
            began = self._clock()
            while True:
                if self._stopped:
                    raise PacerStopped
                now = self._clock()
                while self._starts and self._starts[0] <= now - WINDOW_SECONDS:
                    self._starts.popleft()
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif len(self._starts) >= self.per_minute:
                    wait = self._starts[0] + WINDOW_SECONDS - now
                else:
                    self._starts.append(now)
                    self.waited += now - began
                    return
                self._changed.wait(wait)

    def pause(self, seconds: float) -> None:
        """No request starts for ``seconds`` from now (a rate limit's ``Retry-After``); a longer pause is kept."""
        with self._changed:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
            self._changed.notify_all()

    def stop(self) -> None:
        """Refuse every further :meth:`acquire`, waking the threads that wait in it."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
