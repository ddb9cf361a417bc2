"""The harness's own check: the owed trades start where the simulator says, not where the
daemon's output happens to start."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from schemahub.sim import GROUND_TRUTH_SCHEMA
from schemahub.sim.server import FIRST_OWED_KEY
from tests.daemon.harness import assert_same_trades


def _truth(first_owed: dict[str, int]) -> pa.Table:
    rows = [
        {
            "exchange": venue,
            "symbol": symbol,
            "trade_id": trade_id,
            "side": "BUY",
            "price": 100.0,
            "quantity": 1.0,
            "trade_ts": 1_700_000_000_000_000 + trade_id,
        }
        for venue, symbol in (("binance", "BTCUSDT"), ("kraken", "BTC/USD"))
        for trade_id in range(1, 11)
    ]
    table = pa.Table.from_pylist(rows, schema=GROUND_TRUTH_SCHEMA)
    return table.replace_schema_metadata({FIRST_OWED_KEY: orjson.dumps(first_owed)})


def _rows(truth: pa.Table, exchange: str, first: int) -> pa.Table:
    keep = pa.compute.or_(
        pa.compute.not_equal(truth["exchange"], exchange),
        pa.compute.greater_equal(truth["trade_id"], first),
    )
    return truth.filter(keep)


OWED = {"binance:BTCUSDT": 4, "kraken:BTC/USD": 1}


def test_the_owed_trades_from_the_first_after_subscription_pass():
    truth = _truth(OWED)
    assert_same_trades(_rows(truth, "binance", 4), truth)
    # a snapshot at subscription may start a stream earlier: still every trade from there on
    assert_same_trades(_rows(truth, "binance", 2), truth)


def test_a_daemon_that_dropped_a_streams_first_trades_fails():
    truth = _truth(OWED)
    with pytest.raises(AssertionError, match="3 trades missing"):
        assert_same_trades(_rows(truth, "binance", 7), truth)


def test_a_daemon_that_dropped_a_whole_stream_fails():
    truth = _truth(OWED)
    without_kraken = truth.filter(pa.compute.equal(truth["exchange"], "binance"))
    with pytest.raises(AssertionError, match="10 trades missing"):
        assert_same_trades(_rows(without_kraken, "binance", 4), truth)


def test_a_truth_without_the_simulators_record_is_refused():
    truth = _truth(OWED)
    with pytest.raises(AssertionError, match=r"sim\.ground_truth"):
        assert_same_trades(truth, truth.replace_schema_metadata(None))
