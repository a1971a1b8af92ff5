"""Per-platform limits inside one process: a concurrency cap and a token-bucket rate.

The executors hold the concurrency caps; the buckets pace every upstream request of a
platform, sent by whichever path (app/checks/pipeline.py ``CheckRunner``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["PlatformLimits", "TokenBucket"]


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts up to ``capacity``."""

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    @property
    def tokens(self) -> float:
        """The tokens free now (refilled to this moment)."""
        self._refill()
        return self._tokens

    def wait_s(self) -> float:
        """Seconds until a token is free (0: one is free now), taking none: what a caller
        that must not wait (check-now) tells its client to wait instead."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        """Wait until a token is free and take it. Waiters are served in order."""
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1


class PlatformLimits:
    """One semaphore and one token bucket per platform, made on first use."""

    def __init__(self, concurrency: Callable[[str], int], rate: Callable[[str], float]) -> None:
        self._concurrency = concurrency
        self._rate = rate
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._buckets: dict[str, TokenBucket] = {}

    def semaphore(self, platform: str) -> asyncio.Semaphore:
        """The concurrency cap of ``platform``."""
        if platform not in self._semaphores:
            self._semaphores[platform] = asyncio.Semaphore(self._concurrency(platform))
        return self._semaphores[platform]

    def bucket(self, platform: str) -> TokenBucket:
        """The rate limit of ``platform``."""
        if platform not in self._buckets:
            self._buckets[platform] = TokenBucket(self._rate(platform))
        return self._buckets[platform]
