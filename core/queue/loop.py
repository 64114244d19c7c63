"""The claiming loop every worker runs: look at its queue, and when it is empty wait to be woken or to poll."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.queue import Queue
from core.queue.wake import Waker

log = logging.getLogger(__name__)


def serve(look: Callable[[], bool], queue: Queue, waker: Waker | None, stop: threading.Event,
          poll_seconds: float, *, name: str) -> None:
    """Call ``look`` until ``stop`` is set: again at once after it found work, else once woken or polled.

    ``look`` claims and runs one item of ``queue`` and says whether there was one; its failure is logged and
    never stops the loop. Without a ``waker`` (or on SQLite) an idle loop waits ``poll_seconds``.
    """
    while not stop.is_set():
        mark = waker.mark(queue) if waker is not None else 0
        try:
            busy = look()
        except Exception:
            log.exception("worker loop error", extra={"worker": name, "queue": queue.name})
            busy = False
        if busy:
            continue
        if waker is None:
            stop.wait(poll_seconds)
        else:
            waker.wait(queue, mark, poll_seconds, stop)
