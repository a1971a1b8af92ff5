"""Per-platform limits inside one process: a concurrency cap and a token-bucket rate."""

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
