"""The request pacer: a per-minute budget, a shared pause, and a stop that wakes every waiting thread."""

from __future__ import annotations

import threading

import pytest

from core.repos.pacing import PacerStopped, RequestPacer


def waiting_acquire(pacer: RequestPacer) -> tuple[threading.Thread, list[str]]:
    """``acquire`` in a thread; the list gets "started" or "stopped" when it returns."""
    outcome: list[str] = []

    def run() -> None:
        try:
            pacer.acquire()
            outcome.append("started")
        except PacerStopped:
            outcome.append("stopped")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_the_minute_budget_holds_the_next_request_until_stopped() -> None:
    pacer = RequestPacer(per_minute=3)
    for _ in range(3):
        pacer.acquire()  # within the budget: at once
    thread, outcome = waiting_acquire(pacer)
    thread.join(0.3)
    assert outcome == []  # the fourth waits for the minute to pass
    pacer.stop()
    thread.join(5)
    assert outcome == ["stopped"]
    with pytest.raises(PacerStopped):
        pacer.acquire()


def test_a_pause_holds_every_request_and_a_longer_one_wins() -> None:
    pacer = RequestPacer(per_minute=100)
    pacer.pause(60)
    pacer.pause(1)  # a shorter pause does not shorten the first
    thread, outcome = waiting_acquire(pacer)
    thread.join(1.5)
    assert outcome == []
    pacer.stop()
    thread.join(5)
    assert outcome == ["stopped"]


def test_a_short_pause_ends() -> None:
    pacer = RequestPacer(per_minute=100)
    pacer.pause(0.1)
    thread, outcome = waiting_acquire(pacer)
    thread.join(10)
    assert outcome == ["started"]


def test_a_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        RequestPacer(per_minute=0)
