"""Top-of-book frames: decoded as quotes beside the trades, never as rejects."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from schemahub.decode import FrameKind, binance, coinbase, kraken
from schemahub.decode.batch import decode_batch

RECORDED = Path(__file__).parents[1] / "data" / "recorded"


def _recorded_book_tickers() -> list[str]:
    frames = []
    for line in (RECORDED / "binance_ws.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["dir"] == "recv" and "@bookTicker" in record["data"]:
            frames.append(record["data"])
    return frames


def test_recorded_binance_book_tickers_become_quotes_with_the_sent_prices():
    frames = _recorded_book_tickers()
    assert len(frames) > 10
    for frame in frames:
        data = orjson.loads(frame)["data"]
        decoded = binance.decode_frame(frame)
        assert decoded.kind is FrameKind.CONTROL and not decoded.rejects
        assert decoded.label == "bookTicker"
        [quote] = decoded.quotes
        assert (quote.symbol, quote.bid, quote.ask) == (
            data["s"],
            float(data["b"]),
            float(data["a"]),
        )


def test_a_plain_binance_book_ticker_is_a_quote_too():
    frame = (
        '{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21","a":"25.36520000","A":"40.66"}'
    )
    [quote] = binance.decode_frame(frame).quotes
    assert (quote.symbol, quote.bid, quote.ask) == ("BNBUSDT", 25.3519, 25.3652)


COINBASE_TICKER = {
    "channel": "ticker",
    "client_id": "",
    "timestamp": "2023-02-09T20:30:37.167359596Z",
    "sequence_num": 7,
    "events": [
        {
            "type": "snapshot",
            "tickers": [
                {
                    "type": "ticker",
                    "product_id": "BTC-USD",
                    "price": "21932.98",
                    "volume_24_h": "16038.28770938",
                    "best_bid": "21931.98",
                    "best_bid_quantity": "8.00000000",
                    "best_ask": "21933.98",
                    "best_ask_quantity": "0.10000000",
                }
            ],
        }
    ],
}
KRAKEN_TICKER = {
    "channel": "ticker",
    "type": "update",
    "data": [
        {
            "symbol": "BTC/USD",
            "bid": 63000.1,
            "bid_qty": 1.25,
            "ask": 63000.2,
            "ask_qty": 0.5,
            "last": 63000.2,
            "volume": 1234.5,
            "vwap": 62950.0,
            "low": 62000.0,
            "high": 63500.0,
            "change": 100.0,
            "change_pct": 0.16,
        }
    ],
}


def test_coinbase_ticker_frames_carry_quotes_and_keep_the_frame_counter():
    decoded = coinbase.decode_frame(orjson.dumps(COINBASE_TICKER))
    assert decoded.kind is FrameKind.CONTROL and decoded.label == "ticker"
    assert decoded.sequence_num == 7  # a ticker frame still counts in sequence_num
    [quote] = decoded.quotes
    assert (quote.symbol, quote.bid, quote.ask) == ("BTC-USD", 21931.98, 21933.98)


def test_kraken_v2_ticker_frames_carry_quotes():
    decoded = kraken.decode_frame(orjson.dumps(KRAKEN_TICKER))
    assert decoded.kind is FrameKind.CONTROL and decoded.label == "ticker"
    [quote] = decoded.quotes
    assert (quote.symbol, quote.bid, quote.ask) == ("BTC/USD", 63000.1, 63000.2)


@pytest.mark.parametrize("bad", [None, "NaN", "-1", "", "abc", 0])
def test_a_quote_with_a_bad_price_is_a_control_frame_without_quotes(bad):
    frames = {
        binance: {
            "stream": "btcusdt@bookTicker",
            "data": {"u": 1, "s": "BTCUSDT", "b": bad, "a": "2"},
        },
        kraken: {**KRAKEN_TICKER, "data": [{**KRAKEN_TICKER["data"][0], "ask": bad}]},
    }
    for module, frame in frames.items():
        decoded = module.decode_frame(orjson.dumps(frame))
        assert decoded.kind is FrameKind.CONTROL, module
        assert decoded.quotes == [] and decoded.rejects == []


def test_a_crossed_book_gives_no_quote():
    ticker = {**KRAKEN_TICKER["data"][0], "bid": 2.0, "ask": 1.0}
    assert kraken.decode_frame(orjson.dumps({**KRAKEN_TICKER, "data": [ticker]})).quotes == []


def test_quote_frames_in_a_burst_take_the_per_frame_path_and_keep_their_quotes():
    trade = (
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,'
        '"p":"1.05","q":"1","T":1,"m":true,"M":true}}'
    )
    book = _recorded_book_tickers()[0]
    for native in (True, False):
        batch = decode_batch("binance", [book, trade, book], native=native)
        assert batch.trades.num_rows == 1
        assert sorted(batch.slow) == [0, 2]
        assert all(frame.quotes for frame in batch.slow.values())


def test_trade_ticks_follow_each_venues_side_convention():
    tick = binance.trade_tick(
        {"symbol": "BTCUSDT", "trade_id": 9, "price": "10.5", "qty": "2", "trade_time": 1_000,
         "is_buyer_maker": True}
    )  # fmt: skip
    assert (tick.side, tick.trade_id, tick.trade_ts_us) == ("SELL", "9", 1_000_000)
    tick = coinbase.trade_tick(
        {"product_id": "BTC-USD", "trade_id": "7", "price": "10", "size": "1", "side": "BUY",
         "time": "2024-02-08T15:12:04.123456789Z"}
    )  # fmt: skip
    assert tick.side == "SELL"  # Coinbase labels the maker
    assert tick.trade_ts_us == 1_707_405_124_123_456
    tick = kraken.trade_tick(
        {"symbol": "BTC/USD", "trade_id": 3, "price": 10.0, "qty": 1.0, "side": "buy",
         "timestamp": "2024-02-08T15:12:04.5Z"}
    )  # fmt: skip
    assert (tick.side, tick.trade_ts_us) == ("BUY", 1_707_405_124_500_000)
