"""Server-side rate limits as the venues apply them (times in seconds, passed in: pure)."""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """``rate`` requests a second sustained, ``burst`` at once (Coinbase, Kraken public REST)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at: float | None = None

    def take(self, now: float) -> float:
        """Spend one token: 0.0 if allowed, else the seconds until one is available."""
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class WeightWindow:
    """Request weight per calendar minute (Binance ``X-MBX-USED-WEIGHT-1M``)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._window = -1
        self.used = 0

    def _roll(self, now: float) -> None:
        window = int(now // self.window_s)
        if window != self._window:
            self._window, self.used = window, 0

    def add(self, weight: int, now: float) -> float:
        """Count ``weight``: 0.0 if within the limit, else seconds until the window resets
        (the refused request's weight is not counted)."""
        self._roll(now)
        if self.used + weight > self.limit:
            return (self._window + 1) * self.window_s - now
        self.used += weight
        return 0.0

    def current(self, now: float) -> int:
        """Weight used in the current window."""
        self._roll(now)
        return self.used


class MessageRate:
    """Incoming messages within the last second (Binance allows 5 a second a connection)."""

    def __init__(self, limit: int, window_s: float = 1.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def add(self, now: float) -> bool:
        """Count one message; False when the limit is now exceeded."""
        self._times.append(now)
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        return len(self._times) <= self.limit
