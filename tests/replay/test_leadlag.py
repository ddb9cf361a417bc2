"""The lead/lag estimator recovers the simulator's venue lags from trades alone."""

from __future__ import annotations

import random

import numpy as np
import pytest

from schemahub.replay.leadlag import estimate
from schemahub.sim.markets import market
from schemahub.sim.server import DEFAULT_LAGS_MS
from schemahub.sim.tape import Tape

VENUES = ("binance", "coinbase", "kraken")
START_MS = 1_700_000_000_000


def _trades(lags: dict[str, int], seed: int, seconds: float, rate: float = 25.0) -> dict:
    """Each venue's BTC trade times and prices over ``seconds`` of the simulator's tape."""
    tape = Tape([market(v, "BTC") for v in VENUES], seed, START_MS, rate, lags)
    out: dict[str, tuple[list, list]] = {v: ([], []) for v in VENUES}
    for trade in tape.advance_to(START_MS + int(seconds * 1000)):
        out[trade.venue][0].append(trade.ts_ms)
        out[trade.venue][1].append(trade.price_units / 1e8)
    return {v: (np.array(ts), np.array(px)) for v, (ts, px) in out.items()}


def _signed_lags(lags: dict[str, int], seed: int, seconds: float = 12.0) -> list[tuple]:
    """(a, b, estimated lag of b behind a, true lag, confidence) for every pair of venues."""
    trades = _trades(lags, seed, seconds)
    out = []
    for i, a in enumerate(VENUES):
        for b in VENUES[i + 1 :]:
            found = estimate(a, *trades[a], b, *trades[b])
            assert found.lag_ms is not None, found
            signed = found.lag_ms if found.leader == a else -found.lag_ms
            out.append((a, b, signed, lags[b] - lags[a], found.confidence))
    return out


@pytest.mark.parametrize(
    "lags",
    [
        DEFAULT_LAGS_MS,
        {"binance": 40, "coinbase": 0, "kraken": 300},
        {"binance": 200, "coinbase": 210, "kraken": 0},
    ],
)
def test_lags_are_recovered_within_20_ms_on_a_12_s_window(lags):
    for a, b, found, true, confidence in _signed_lags(lags, seed=3):
        assert abs(found - true) <= 20, (a, b, found, true)
        assert 0 < confidence <= 1


def test_random_lags_are_recovered_within_20_ms():
    picker = random.Random()
    seed = picker.randrange(1_000_000)
    rng = random.Random(seed)
    for trial in range(4):
        lags = {v: rng.randrange(0, 300) for v in VENUES}
        for a, b, found, true, _ in _signed_lags(lags, seed=seed + trial):
            assert abs(found - true) <= 20, (f"seed {seed}", lags, a, b, found, true)


def test_a_thin_window_says_not_enough_data():
    trades = _trades(DEFAULT_LAGS_MS, seed=5, seconds=0.3)
    assert 0 < len(trades["binance"][0]) < 30
    found = estimate("binance", *trades["binance"], "kraken", *trades["kraken"])
    assert found.lag_ms is None and found.confidence == 0.0
    assert found.reason.startswith("not enough data")
    assert found.as_json()["lag_ms"] is None
