"""decode_batch against decode_frame: real recordings, simulator frames, hand-made edge cases."""

from __future__ import annotations

import json

import pytest

from schemahub.benchmark.capture_gen import venue_frames
from schemahub.decode import VENUES, FrameKind
from schemahub.decode.batch import decode_batch
from schemahub.errors import UsageError
from tests.decode import frames as F
from tests.decode.batch_check import check_batch
from tests.decode.test_recorded import FILES, received


@pytest.mark.parametrize(("name", "venue"), sorted(FILES.items()))
def test_every_recorded_frame_decodes_as_frame_by_frame(recorded, name, venue):
    frames = received(recorded / name)
    check_batch(venue, frames)
    for start in range(0, len(frames), 7):  # small batches too: other boundaries, same answer
        check_batch(venue, frames[start : start + 7])


def test_recorded_advanced_trades_take_the_columnar_path(recorded):
    frames = received(recorded / "coinbase_advanced_ws.jsonl")
    batch = check_batch("coinbase", frames)
    trade_frames = [
        i for i, f in enumerate(frames) if json.loads(f).get("channel") == "market_trades"
    ]
    assert trade_frames and not set(trade_frames) & set(batch.slow)
    assert batch.trades.num_rows > 0
    # every other frame (heartbeats, subscriptions) went to the per-frame path, numbered
    assert set(batch.slow) == set(range(len(frames))) - set(trade_frames)


@pytest.mark.parametrize("venue", VENUES)
def test_simulator_frames_all_take_the_columnar_path(venue):
    frames = [text for _ts, text in venue_frames(venue, 3000)]
    batch = check_batch(venue, frames)
    assert batch.slow == {}
    assert batch.trades.num_rows == batch.trade_count == 3000


@pytest.mark.parametrize("venue", VENUES)
def test_empty_batch(venue):
    batch = check_batch(venue, [])
    assert batch.trades.num_rows == 0 and batch.slow == {}
    assert batch.sequence_nums == ([] if venue == "coinbase" else None)


def test_unknown_venue_is_a_usage_error():
    with pytest.raises(UsageError, match="binance, coinbase, kraken"):
        decode_batch("bitstamp", [])


def test_frame_column_counts_rows_per_frame_around_slow_frames():
    good = [F.coinbase_trade(trade_id=str(n)) for n in range(1, 4)]
    frames = [
        F.coinbase_advanced(good[:2], sequence_num=10),
        '{"channel":"heartbeats","sequence_num":11}',
        F.coinbase_advanced([F.coinbase_trade(price="NaN"), good[2]], sequence_num=12),
        F.coinbase_advanced(good, kind="snapshot", sequence_num=13),
    ]
    batch = check_batch("coinbase", frames)
    assert batch.trades.column("_frame").to_pylist() == [0, 0, 3, 3, 3]
    assert set(batch.slow) == {1, 2}
    assert batch.slow[2].kind is FrameKind.TRADES and len(batch.slow[2].rejects) == 1
    assert batch.sequence_nums == [10, 11, 12, 13]
    assert batch.trade_count == 6


BINANCE_PLAIN = F.text(F.binance_trade())
BINANCE_ODD = [
    F.binance_wrapped(F.binance_trade(E=F.MISSING)),  # no event time: null column
    F.binance_wrapped(F.binance_trade(E=None)),
    F.binance_wrapped(F.binance_trade(p="1e5")),  # accepted by the per-frame path, kept as sent
    F.binance_wrapped(F.binance_trade(p=".5", q="7.")),
    F.binance_wrapped(F.binance_trade(p="0.00000000")),
    F.binance_wrapped(F.binance_trade(q="1" * 400)),  # overflows a float
    F.binance_wrapped(F.binance_trade(q="0." + "0" * 400 + "1")),  # underflows to 0
    F.binance_wrapped(F.binance_trade(q="0." + "0" * 30 + "1")),  # long, tiny, positive
    F.binance_wrapped(F.binance_trade(), stream="btcusdt-trade"),  # no '@' in the stream
    F.binance_wrapped(F.binance_trade(e=F.MISSING)),  # trade stream whose data lost "e"
    F.binance_wrapped(F.binance_trade(M=F.MISSING, extra=1)),
    F.binance_wrapped(F.binance_trade(t=2**63), stream="x@trade"),
    F.binance_wrapped(F.binance_trade(t=2**63 - 1)),
    F.text({"stream": "btcusdt@trade", **F.binance_trade()}),  # plain, with a stream key
    F.text({"result": None, "id": 1}),
    BINANCE_PLAIN,
    BINANCE_PLAIN.encode(),
    BINANCE_PLAIN.replace('"t":12345', '"t":12345,"t":"x"'),  # duplicate key, last wins
    BINANCE_PLAIN.replace('"t":12345', '"t":"x","t":12345'),
    BINANCE_PLAIN.replace('"s":"BTCUSDT"', '"s":"BTC\\u0055SDT"'),  # escapes read as text
    BINANCE_PLAIN.replace('"s":"BTCUSDT"', '"s":"BTC\ud800"'),  # lone surrogate: not UTF-8
    BINANCE_PLAIN + " \n",
    "\t" + BINANCE_PLAIN,
    "",
    "null",
]


def test_binance_edge_frames():
    batch = check_batch("binance", BINANCE_ODD)
    assert batch.trades.num_rows >= 5  # the plain and the null-event-time frames at least


KRAKEN_ODD = [
    F.kraken_v2([F.kraken_trade(price=150)]),  # a JSON integer price becomes a float
    F.kraken_v2([F.kraken_trade(price=10**30)]),
    F.kraken_v2([F.kraken_trade(ord_type=F.MISSING), F.kraken_trade(ord_type=None)]),
    F.kraken_v2([F.kraken_trade(ord_type="")]),
    F.kraken_v2([], kind="snapshot"),
    F.kraken_v2([F.kraken_trade(timestamp="2023-02-29T07:48:36.925533Z")]),  # no such day
    F.kraken_v2([F.kraken_trade(timestamp="2024-02-29T07:48:36.925533Z")]),
    F.kraken_v2([F.kraken_trade(timestamp="2023-09-25T07:48:36+05:30")]),
    F.kraken_v2([F.kraken_trade(timestamp="2023-09-25 07:48:36Z")]),
    F.kraken_v2([F.kraken_trade(qty=True)]),
    F.kraken_v2([F.kraken_trade(trade_id=1.0)]),
    F.kraken_v2([F.kraken_trade(side="BUY")]),
    F.kraken_v2([F.kraken_trade()], kind="other"),
    F.kraken_v2([F.kraken_trade()]).replace("0.5147", "1e999"),
    F.kraken_v2([F.kraken_trade()]).replace("0.5147", "-0.0"),
    F.kraken_v2([F.kraken_trade()]).replace("0.5147", "0.51470000000000000000000000000001"),
    F.kraken_v2([F.kraken_trade()]).replace("0.5147", "1" * 400),
    '{"channel":"heartbeat"}',
    '{"method":"pong"}',
]


def test_kraken_edge_frames():
    batch = check_batch("kraken", KRAKEN_ODD)
    assert batch.trades.num_rows >= 4


def test_times_sharing_a_date_are_each_checked_in_full():
    # A burst's trades share their date: each time is still refused for its own hour, second
    # or fraction, and a day that does not exist is refused whatever came before.
    def at(timestamp: str) -> str:
        return F.kraken_v2([F.kraken_trade(timestamp=timestamp)])

    frames = [
        at("2024-02-29T23:59:59.999999Z"),
        at("2024-02-29T24:00:00Z"),  # the remembered date, an hour that does not exist
        at("2024-02-29T10:00:60Z"),  # a second that does not exist
        at("2024-02-29T10:00:00.Z"),  # an empty fraction
        at("2024-02-29T10:00:00.5Z"),
        at("2023-02-29T10:00:00Z"),  # not a leap year: refused, and not remembered
        at("2023-02-29T10:00:01Z"),
        at("2023-02-28T10:00:00Z"),
    ]
    batch = check_batch("kraken", frames)
    assert batch.trades.num_rows == 3
    assert sorted(batch.slow) == [1, 2, 3, 5, 6]  # refused: the per-frame path gives reasons


COINBASE_ODD = [
    F.coinbase_advanced([F.coinbase_trade(trade_id="1" * 18)]),
    F.coinbase_advanced([F.coinbase_trade(trade_id="1" * 19)]),
    F.coinbase_advanced([F.coinbase_trade(trade_id="\u0661\u0662")]),
    F.coinbase_advanced([F.coinbase_trade(side="sell"), F.coinbase_trade(side="Sell")]),
    F.coinbase_advanced([F.coinbase_trade(time="2026-08-09T21:05:42Z")]),
    F.coinbase_advanced([F.coinbase_trade(time="2026-08-09T21:05:42.123456789Z")]),
    F.coinbase_advanced([F.coinbase_trade(time="2026-13-09T21:05:42Z")]),
    F.coinbase_advanced([F.coinbase_trade(product_id="")]),
    F.coinbase_advanced([]),
    F.text({"channel": "market_trades", "events": [], "sequence_num": 3}),
    F.text({"channel": "market_trades", "events": [{"type": "update", "trades": []}]}),
    F.text({"channel": "market_trades", "sequence_num": None, "events": [{"type": "x"}]}),
    F.text({"channel": "market_trades", "sequence_num": -1, "events": []}),
    F.text(F.coinbase_match()),
    F.text({"type": "error", "message": "bad"}),
]


def test_coinbase_edge_frames():
    batch = check_batch("coinbase", COINBASE_ODD)
    assert batch.trades.num_rows >= 3
