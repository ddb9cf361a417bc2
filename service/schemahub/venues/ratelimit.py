"""A token bucket: the pace of requests to one venue (REST calls, websocket control messages).

A bucket holds at most ``capacity`` tokens and refills at ``rate`` tokens a second; a request
costing ``cost`` tokens waits until they are there. Over any window of ``w`` seconds a bucket
lets through at most ``capacity + rate * w`` tokens, which is how the venue defaults are sized.
The venue can also tell us to stop for a while (``Retry-After``, a ban): :meth:`pause_until`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from schemahub.errors import UsageError

EPSILON = 1e-9


class TokenBucket:
    """An asyncio token bucket; waiters are served in arrival order."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise UsageError(
                f"token bucket needs rate > 0 and capacity > 0, got {rate}, {capacity}"
            )
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def delay_for(self, cost: float) -> float:
        """Seconds until ``cost`` tokens would be available (0 when they are now)."""
        self._refill()
        pause = max(0.0, self._paused_until - self._clock())
        missing = cost - self._tokens
        # Refills are float sums: a shortfall below EPSILON is rounding, not a reason to sleep
        # (a sleep too short to move the clock would spin forever).
        wait = missing / self.rate if missing > EPSILON else 0.0
        return max(pause, wait)

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are available, then take them."""
        if cost > self.capacity:
            raise UsageError(f"a request of cost {cost} can never fit a bucket of {self.capacity}")
        async with self._lock:
            while (wait := self.delay_for(cost)) > 0:
                await self._sleep(wait)
            self._tokens = max(0.0, self._tokens - cost)

    def pause_until(self, monotonic_deadline: float) -> None:
        """Let nothing through before ``monotonic_deadline`` (the venue asked us to back off)."""
        self._paused_until = max(self._paused_until, monotonic_deadline)
        # Resuming with a full bucket would burst straight back into the limit.
        self._tokens = 0.0
        self._stamp = max(self._stamp, monotonic_deadline)

    def _refill(self) -> None:
        now = self._clock()
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
