"""The token bucket, on a fake clock: no request waits in vain, no window is exceeded."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.errors import UsageError
from schemahub.venues.ratelimit import TokenBucket


class FakeClock:
    """A clock that only moves when a waiter sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def _times(bucket: TokenBucket, clock: FakeClock, costs: list[float]) -> list[float]:
    out = []
    for cost in costs:
        await bucket.acquire(cost)
        out.append(clock.now)
    return out


async def test_a_full_bucket_lets_a_burst_through_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, capacity=3.0, clock=clock, sleep=clock.sleep)
    times = await _times(bucket, clock, [1.0] * 6)
    assert times[:3] == [100.0, 100.0, 100.0]
    assert times[3:] == pytest.approx([100.5, 101.0, 101.5])


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.5, 50.0),
    capacity=st.floats(1.0, 20.0),
    costs=st.lists(st.floats(0.1, 1.0), min_size=1, max_size=60),
    window=st.floats(0.1, 5.0),
)
def test_no_window_ever_carries_more_than_capacity_plus_rate_times_width(
    rate: float, capacity: float, costs: list[float], window: float
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=rate, capacity=capacity, clock=clock, sleep=clock.sleep)
    times = asyncio.run(_times(bucket, clock, costs))
    for i, start in enumerate(times):
        spent = sum(c for t, c in zip(times[i:], costs[i:], strict=True) if t <= start + window)
        assert spent <= capacity + rate * window + 1e-6


async def test_pause_until_holds_everything_then_resumes_without_a_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, capacity=5.0, clock=clock, sleep=clock.sleep)
    bucket.pause_until(clock.now + 30.0)
    times = await _times(bucket, clock, [1.0, 1.0])
    assert times == pytest.approx([131.0, 132.0])


async def test_a_cost_above_capacity_is_refused_rather_than_waiting_forever() -> None:
    bucket = TokenBucket(rate=1.0, capacity=2.0)
    with pytest.raises(UsageError, match=r"never fit"):
        await bucket.acquire(3.0)
