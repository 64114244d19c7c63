"""Sharding: how many shards to run, where their gateway is, and how fast they may IDENTIFY.

``DISCORD_SHARD_COUNT`` fixes the count; unset, Discord's recommendation from ``GET /gateway/bot`` is used.
The same call gives the gateway URL (``DISCORD_GATEWAY_URL`` overrides it) and the session start limit:
at most ``max_concurrency`` IDENTIFYs per :data:`IDENTIFY_WINDOW`, one per rate-limit key
(``shard_id % max_concurrency``), and ``remaining`` starts a day (when too few are left for every shard,
the start waits ``reset_after``, as Discord asks, rather than be refused). RESUMEs are not limited.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

IDENTIFY_WINDOW = 5.0
"""Seconds within which one rate-limit key may IDENTIFY once (Discord's gateway rule)."""


@dataclass(frozen=True)
class ShardPlan:
    """The shards to start, the gateway to start them at, and the wait before the first IDENTIFY."""

    count: int
    gateway: str
    max_concurrency: int
    wait_first: float


def plan_shards(configured: int | None, recommended: int, url: str, limits: dict[str, Any],
                configured_gateway: str = "") -> ShardPlan:
    """The plan from the configured count and gateway (if any) and ``GET /gateway/bot``'s answer."""
    count = configured or max(int(recommended), 1)
    remaining = int(limits.get("remaining", count))
    wait = float(limits.get("reset_after", 0)) / 1000 if remaining < count else 0.0
    if wait:
        log.warning("discord session starts used up; waiting for the reset",
                    extra={"remaining": remaining, "shards": count, "wait_seconds": wait})
    return ShardPlan(count, configured_gateway or url, max(int(limits.get("max_concurrency", 1)), 1), wait)


class IdentifyPacer:
    """Spaces IDENTIFYs: shards with the same rate-limit key identify at least ``window`` seconds apart."""

    def __init__(self, window: float = IDENTIFY_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.max_concurrency = 1
        self._clock = clock
        self._next: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def key(self, shard_id: int | None) -> int:
        """The rate-limit key of ``shard_id``."""
        return (shard_id or 0) % self.max_concurrency

    async def wait(self, shard_id: int | None) -> None:
        """Return when ``shard_id`` may IDENTIFY (and count that IDENTIFY against its key)."""
        key = self.key(shard_id)
        async with self._locks.setdefault(key, asyncio.Lock()):
            delay = self._next.get(key, 0.0) - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next[key] = self._clock() + self.window
