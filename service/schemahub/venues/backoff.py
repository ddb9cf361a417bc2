"""When to try again, and after how long: one pure function for sessions and REST clients.

Every reconnect and every REST retry asks :func:`decide_retry`. It knows which failures pass
with time (a dropped socket, a 5xx, a silent connection, a 429) and which never will (a rejected
subscription, a region block, a bug in our code; a session reconnects after a bug instead, see
:func:`is_internal`), and spaces attempts with exponential backoff
and *full jitter* (a uniform delay between 0 and the exponential bound), so many clients that
failed together do not come back together.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from schemahub.errors import (
    HandshakeError,
    IpBannedError,
    RateLimitedError,
    SchemaHubError,
    StaleConnectionError,
    TransientRestError,
    WebSocketClosed,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: the backoff bound is ``min(cap, base * 2**attempt)``."""

    base_seconds: float = 0.5
    cap_seconds: float = 60.0
    # None: try forever (websocket sessions); REST calls give up after a few attempts.
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether to try again, after how many seconds, and a short reason for the logs."""

    retry: bool
    delay: float
    reason: str


def full_jitter(attempt: int, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """A uniform delay in ``[0, min(cap, base * 2**attempt))``."""
    bound = min(policy.cap_seconds, policy.base_seconds * 2 ** min(attempt, 62))
    return rand() * bound


def decide_retry(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
) -> RetryDecision:
    """Decide whether the failure ``error`` of attempt number ``attempt`` (0-based) is worth
    another try, and when. Pure: no clock, no I/O (``rand`` is injected for tests)."""
    reason = _transient_reason(error)
    if reason is None:
        return RetryDecision(False, 0.0, f"not retryable: {type(error).__name__}: {error}")
    if policy.max_attempts is not None and attempt + 1 >= policy.max_attempts:
        return RetryDecision(False, 0.0, f"gave up after {attempt + 1} attempts: {reason}")
    delay = full_jitter(attempt, policy, rand)
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        # The venue said how long; waiting less only earns another 429 (or a ban).
        delay = max(delay, error.retry_after)
    return RetryDecision(True, delay, reason)


def restart_decision(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
) -> RetryDecision:
    """When to restart a supervised task that failed with ``error``: always, at the pace of
    :func:`decide_retry`. A failure that does not pass with time (a region block, a bug) is
    still retried, at the same pace, so a venue that lifts its block or a fault that was
    momentary comes back without a restart of the daemon."""
    unlimited = RetryPolicy(policy.base_seconds, policy.cap_seconds, None)
    decision = decide_retry(error, attempt, unlimited, rand)
    if decision.retry:
        return decision
    return RetryDecision(True, full_jitter(attempt, unlimited, rand), decision.reason)


def is_internal(error: BaseException) -> bool:
    """Whether ``error`` comes from our own code rather than the venue or the network: not
    one of our classified errors, not a websocket or socket error. A session reconnects
    after such an error (logged with its traceback) instead of giving the venue up."""
    venue_side = (SchemaHubError, OSError, TimeoutError)
    return isinstance(error, Exception) and not isinstance(error, venue_side)


def _transient_reason(error: BaseException) -> str | None:
    """A short reason when ``error`` may pass with time, else None."""
    if isinstance(error, IpBannedError):
        return None
    if isinstance(error, RateLimitedError):
        return "rate limited"
    if isinstance(error, TransientRestError | StaleConnectionError):
        return str(error)
    if isinstance(error, WebSocketClosed):
        return f"connection closed ({error})"
    if isinstance(error, HandshakeError):
        if error.status is None:
            return f"handshake failed ({error})"
        status = error.status
        return f"handshake refused with HTTP {status}" if _status_is_transient(status) else None
    if isinstance(error, TimeoutError | OSError):
        return f"{type(error).__name__}: {error}"
    return None


def _status_is_transient(status: int) -> bool:
    return status == 429 or status >= 500
