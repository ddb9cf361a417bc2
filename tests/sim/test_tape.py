"""The tape alone: deterministic, sequential ids, ms timestamps, ticks, lags, pause."""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemahub.schemas import UNIFIED_SCHEMA
from schemahub.sim.fmt import UNITS, fixed, iso_micros, iso_trimmed, trimmed
from schemahub.sim.markets import VENUES, market
from schemahub.sim.tape import Tape

START = 1_786_000_000_000
LAGS = {"binance": 0, "coinbase": 80, "kraken": 150}


def _tape(seed: int = 7, rate: float = 200.0) -> Tape:
    markets = [market(v, b) for v in VENUES for b in ("BTC", "ETH")]
    return Tape(markets, seed, START, rate, LAGS)


def _run(tape: Tape, seconds: float, step_ms: int = 37) -> None:
    for now in range(START, START + int(seconds * 1000), step_ms):
        tape.advance_to(now)


def test_same_seed_same_trades_whatever_the_tick_pattern() -> None:
    a, b = _tape(), _tape()
    _run(a, 3, step_ms=10)
    _run(b, 3, step_ms=250)
    a.advance_to(START + 3000)
    b.advance_to(START + 3000)
    assert a.ground_truth().equals(b.ground_truth())
    assert a.ground_truth().num_rows > 6 * 200 * 2  # about 200 a second a stream


def test_other_seed_other_trades() -> None:
    a, b = _tape(seed=1), _tape(seed=2)
    _run(a, 1)
    _run(b, 1)
    assert not a.ground_truth().equals(b.ground_truth())


def test_ids_sequential_times_ms_and_prices_on_tick() -> None:
    tape = _tape()
    _run(tape, 2)
    for stream in tape.streams():
        trades = stream.trades(0, len(stream))
        ids = [t.trade_id for t in trades]
        assert ids == list(range(stream.first_id, stream.first_id + len(ids)))
        assert stream.first_id > 10_000_000
        assert all(t.ts_ms >= START for t in trades)
        assert [t.ts_ms for t in trades] == sorted(t.ts_ms for t in trades)
        assert all(t.price_units % stream.market.tick_units == 0 for t in trades)
        assert all(t.qty_units > 0 and t.qty_units % stream.market.lot_units == 0 for t in trades)
        assert {t.side for t in trades} == {"BUY", "SELL"}


def test_ground_truth_has_the_unified_columns() -> None:
    tape = _tape()
    _run(tape, 1)
    truth = tape.ground_truth()
    assert truth.schema == pa.schema(list(UNIFIED_SCHEMA)[:7])
    row = truth.slice(0, 1).to_pylist()[0]
    stream = tape.stream(row["exchange"], row["symbol"])
    assert stream is not None
    first = stream.trade(0)
    assert row["trade_id"] == first.trade_id
    assert row["price"] == float(fixed(first.price_units, 8))
    assert row["trade_ts"].timestamp() * 1000 == first.ts_ms


def test_each_venue_sees_the_shared_path_with_its_lag() -> None:
    tape = _tape()
    _run(tape, 2)
    for stream in tape.streams():
        tick = stream.market.tick_units
        for t in stream.trades(0, len(stream)):
            mid = tape.mid_price(stream.market.base, t.ts_ms - LAGS[stream.market.venue])
            expected = round(mid * UNITS / tick) * tick + (tick if t.side == "BUY" else 0)
            assert t.price_units == expected


def test_pause_generates_nothing_and_resume_does_not_burst() -> None:
    tape = _tape(rate=100)
    _run(tape, 1)
    before = tape.ground_truth().num_rows
    tape.pause(START + 1000)
    assert tape.advance_to(START + 11_000) == []
    tape.resume(START + 11_000)
    burst = tape.advance_to(START + 11_050)
    assert len(burst) < 6 * 100  # 50 ms worth, not ten seconds' backlog
    assert all(t.ts_ms >= START + 11_000 for t in burst)
    assert tape.ground_truth().num_rows == before + len(burst)


def test_kraken_cursor_pages_exactly_through_same_ms_trades() -> None:
    tape = _tape(rate=3000)  # several trades share each millisecond
    _run(tape, 1)
    stream = tape.stream("kraken", "BTC/USD")
    assert stream is not None
    assert len(set(stream.ts)) < len(stream)
    seen, since = [], 0
    while True:
        start = stream.index_after_ns(since)
        page = list(range(start, min(len(stream), start + 97)))
        if not page:
            break
        seen.extend(page)
        since = stream.virtual_ns(page[-1])
    assert seen == list(range(len(stream)))


@pytest.mark.parametrize(
    ("units", "dec", "text"),
    [(6508367000000, 8, "65083.67000000"), (100, 8, "0.00000100"), (6508360000000, 1, "65083.6")],
)
def test_fixed(units: int, dec: int, text: str) -> None:
    assert fixed(units, dec) == text


def test_trimmed_and_times() -> None:
    assert trimmed(6509100000000) == "65091"
    assert trimmed(191970000000) == "1919.7"
    assert iso_micros(1_618_677_810_244) == "2021-04-17T16:43:30.244000Z"
    assert iso_trimmed(1_618_677_810_240) == "2021-04-17T16:43:30.24Z"
    assert iso_trimmed(1_618_677_810_000) == "2021-04-17T16:43:30Z"
