"""Token bucket and per-platform limits."""

from __future__ import annotations

import asyncio

import pytest

from app.scheduling.limits import PlatformLimits, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, capacity=2.0, clock=clock)
    await bucket.acquire()
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done()  # empty: the third must wait for a refill
    clock.now = 0.6  # 1.2 tokens have dripped in
    await asyncio.wait_for(waiter, timeout=2)


async def test_bucket_rate_over_time() -> None:
    bucket = TokenBucket(rate=200.0, capacity=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(21):
        await bucket.acquire()
    elapsed = loop.time() - started
    assert 0.08 <= elapsed < 1.0  # 20 refills at 200/s take ~0.1 s


def test_bad_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate=0)


async def test_platform_limits_are_per_platform_and_reused() -> None:
    limits = PlatformLimits(lambda p: 3 if p == "weibo" else 1, lambda p: 5.0)
    assert limits.semaphore("weibo") is limits.semaphore("weibo")
    assert limits.semaphore("weibo")._value == 3
    assert limits.semaphore("douyin")._value == 1
    assert limits.bucket("weibo").rate == 5.0
