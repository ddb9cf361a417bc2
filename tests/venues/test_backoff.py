"""The one retry decision: what is retryable, and how long to wait."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemahub.errors import (
    ConfigError,
    HandshakeError,
    HistoryUnavailableError,
    IpBannedError,
    RateLimitedError,
    RestError,
    StaleConnectionError,
    SubscriptionError,
    TransientRestError,
    WebSocketClosed,
)
from schemahub.venues.backoff import (
    RetryPolicy,
    decide_retry,
    full_jitter,
    is_internal,
    restart_decision,
)

POLICY = RetryPolicy(base_seconds=0.5, cap_seconds=30.0)


def _refused(status: int) -> HandshakeError:
    return HandshakeError(f"the venue answered HTTP {status}", status)


@pytest.mark.parametrize(
    "error",
    [
        WebSocketClosed(1011, "internal error"),
        WebSocketClosed(1006, "connection lost without a close frame"),
        HandshakeError("connection lost during the handshake"),
        StaleConnectionError("no frame for 30s"),
        TransientRestError("HTTP 502"),
        TimeoutError("read timed out"),
        ConnectionResetError("reset by peer"),
        _refused(503),
        _refused(429),
        RateLimitedError("HTTP 429"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_failures_are_retried(error: BaseException) -> None:
    decision = decide_retry(error, 0, POLICY, rand=lambda: 0.5)
    assert decision.retry, decision.reason


@pytest.mark.parametrize(
    "error",
    [
        SubscriptionError("refused BTC-XYZ"),
        HistoryUnavailableError("pruned"),
        IpBannedError("banned", 120.0),
        RestError("HTTP 451 region"),
        _refused(404),
        ConfigError("not a websocket URL: 'nope://'"),
        KeyError("a bug of ours"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_failures_that_time_does_not_fix_are_not_retried(error: BaseException) -> None:
    assert not decide_retry(error, 0, POLICY, rand=lambda: 0.5).retry


def test_retry_after_is_a_floor_on_the_delay() -> None:
    decision = decide_retry(RateLimitedError("429", retry_after=7.0), 0, POLICY, rand=lambda: 0.0)
    assert decision.retry and decision.delay == 7.0


def test_rest_calls_give_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    error = TransientRestError("HTTP 500")
    assert decide_retry(error, 1, policy).retry
    assert not decide_retry(error, 2, policy).retry


@given(attempt=st.integers(min_value=0, max_value=10_000), r=st.floats(0.0, 0.999999))
def test_full_jitter_stays_within_the_exponential_bound(attempt: int, r: float) -> None:
    delay = full_jitter(attempt, POLICY, lambda: r)
    bound = min(POLICY.cap_seconds, POLICY.base_seconds * 2 ** min(attempt, 62))
    assert 0.0 <= delay <= bound


def test_full_jitter_spreads_delays_over_the_whole_range() -> None:
    # Full jitter: the draw maps linearly onto [0, bound), so a low draw gives a short wait.
    assert full_jitter(3, POLICY, lambda: 0.0) == 0.0
    assert full_jitter(3, POLICY, lambda: 0.5) == pytest.approx(2.0)
    assert full_jitter(20, POLICY, lambda: 0.5) == pytest.approx(15.0)


def test_a_supervised_restart_always_retries_at_the_same_pace() -> None:
    limited = RetryPolicy(base_seconds=0.5, cap_seconds=30.0, max_attempts=2)
    half = lambda: 0.5  # noqa: E731
    # A transient failure: exactly decide_retry's answer (the attempt limit does not apply).
    transient = restart_decision(TransientRestError("HTTP 503"), 3, limited, half)
    assert transient == decide_retry(TransientRestError("HTTP 503"), 3, POLICY, half)
    # A failure that never passes by itself (a region block, a bug): retried all the same.
    for error in (_refused(451), RuntimeError("a bug")):
        decision = restart_decision(error, 3, limited, half)
        assert decision.retry and decision.delay == full_jitter(3, POLICY, half)
        assert "not retryable" in decision.reason
    # A venue's Retry-After still wins over a shorter jittered delay.
    limited_429 = restart_decision(RateLimitedError("429", retry_after=40.0), 0, limited, half)
    assert limited_429.delay == 40.0


@pytest.mark.parametrize(
    ("error", "ours"),
    [
        (ValueError("a bug"), True),
        (KeyError("a bug"), True),
        (StaleConnectionError("silent"), False),
        (SubscriptionError("refused"), False),
        (WebSocketClosed(1011, "x"), False),
        (_refused(403), False),
        (OSError("reset"), False),
        (TimeoutError(), False),
    ],
)
def test_an_error_of_our_own_code_is_told_from_the_venues(error, ours):
    # a session reconnects after an error of ours instead of giving the venue up
    assert is_internal(error) is ours
    assert decide_retry(error, 0, POLICY).retry is False or not ours
