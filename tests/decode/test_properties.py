"""Property tests: decoders never raise on any input, and valid trades round-trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.decode import VENUES, DecodedFrame, FrameKind, decoder_for
from tests.decode import frames

PROPERTY = settings(deadline=None, max_examples=100)

# Words of the three protocols, so generated JSON reaches deep into the dispatch code.
WORDS = [
    "trade", "aggTrade", "btcusdt@trade", "stream", "data", "e", "result", "error", "id",
    "channel", "market_trades", "heartbeats", "events", "type", "snapshot", "update", "trades",
    "sequence_num", "match", "last_match", "sequence", "method", "subscribe", "pong", "event",
    "success", "trade_id", "price", "size", "qty", "side", "time", "timestamp", "symbol",
    "product_id", "t", "p", "q", "T", "m", "s", "E", "BUY", "SELL", "buy", "sell", "b", "l",
    "last", "XXBTZUSD", "1.5", "0", "-1", "NaN", "",
]  # fmt: skip
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def json_values(integers: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    """Any JSON value, with protocol words as keys and strings."""
    leaf = (
        st.none()
        | st.booleans()
        | integers
        | st.floats(allow_nan=False, allow_infinity=False)
        | TEXT
        | st.sampled_from(WORDS)
    )
    return st.recursive(
        leaf,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.sampled_from(WORDS) | TEXT, children, max_size=6)
        ),
        max_leaves=25,
    )


JSON = json_values(st.integers(min_value=-(2**70), max_value=2**70))
# orjson reads integers beyond 64 bits as floats, so re-serialized payloads only equal the
# input within that range; the payload comparison below uses it.
JSON_64 = json_values(st.integers(min_value=-(2**63), max_value=2**64 - 1))


def check_invariants(out: DecodedFrame, venue: str) -> None:
    """What every outcome promises, whatever the input."""
    assert isinstance(out, DecodedFrame)
    if out.kind is FrameKind.MALFORMED:
        assert out.trades == [] and len(out.rejects) == 1 and out.rejects[0].reason
    if out.kind is FrameKind.CONTROL:
        assert out.trades == [] and out.rejects == [] and out.label
    schema = decoder_for(venue).NATIVE_SCHEMA
    for record in out.trades:
        assert set(record) - {"_raw_payload"} == set(schema.names)
        for column in schema:
            assert column.nullable or record[column.name] is not None


@pytest.mark.parametrize("venue", VENUES)
@PROPERTY
@given(data=st.binary(max_size=200))
def test_any_bytes_never_raise(venue, data):
    decoder = decoder_for(venue)
    check_invariants(decoder.decode_frame(data), venue)
    check_invariants(decoder.decode_rest_trades(data, "BTC-USD"), venue)


@pytest.mark.parametrize("venue", VENUES)
@PROPERTY
@given(value=JSON)
def test_any_json_value_never_raises(venue, value):
    decoder = decoder_for(venue)
    body = json.dumps(value)
    check_invariants(decoder.decode_frame(body), venue)
    check_invariants(decoder.decode_rest_trades(body, "BTC-USD"), venue)


NESTED_FRAMES = {
    "binance": ['{"stream":"btcusdt@trade","data":{"e":"trade","t":1,"x":%s}}',
                '{"e":"trade","t":1,"x":%s}', '[{"id":1,"x":%s}]'],
    "coinbase": ['{"channel":"market_trades","sequence_num":1,"events":[{"type":"update",'
                 '"trades":[{"trade_id":"1","x":%s}]}]}', '[{"trade_id":1,"x":%s}]'],
    "kraken": ['{"channel":"trade","type":"update","data":[{"trade_id":1,"x":%s}]}',
               '{"error":[],"result":{"XXBTZUSD":[%s],"last":"1"}}'],
}  # fmt: skip


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("depth", [300, 2000])
def test_deeply_nested_trade_fields_never_raise(venue, depth):
    """orjson reads 1024 levels but writes 255: payloads of deep trades cannot be re-written."""
    decoder = decoder_for(venue)
    for template in NESTED_FRAMES[venue]:
        frame = template % ("[" * depth + "]" * depth)
        for decode in (decoder.decode_frame, lambda f: decoder.decode_rest_trades(f, "BTC-USD")):
            out = decode(frame)
            check_invariants(out, venue)
            assert out.trades == []


# --- valid trades round-trip ----------------------------------------------------------------

IDS = st.integers(min_value=0, max_value=2**63 - 1)
MS = st.integers(min_value=0, max_value=4_102_444_800_000)
SYMBOLS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
DECIMALS = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("1000000000"), places=8
).map(lambda d: format(d, "f"))
FLOATS = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)
ISO = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


@PROPERTY
@given(
    trade=st.fixed_dictionaries(
        {
            "e": st.just("trade"),
            "E": MS,
            "s": SYMBOLS,
            "t": IDS,
            "p": DECIMALS,
            "q": DECIMALS,
            "T": MS,
            "m": st.booleans(),
            "M": st.booleans(),
        }
    ),
    wrapped=st.booleans(),
)
def test_binance_valid_trade_round_trips(trade, wrapped):
    frame = frames.binance_wrapped(trade) if wrapped else json.dumps(trade)
    out = decoder_for("binance").decode_frame(frame)
    assert out.rejects == []
    (record,) = out.trades
    assert record == {
        "symbol": trade["s"], "trade_id": trade["t"], "price": trade["p"], "qty": trade["q"],
        "trade_time": trade["T"], "is_buyer_maker": trade["m"], "event_time": trade["E"],
        "_raw_payload": record["_raw_payload"],
    }  # fmt: skip
    assert json.loads(record["_raw_payload"]) == trade


COINBASE_TRADE = st.fixed_dictionaries(
    {"trade_id": IDS.map(str), "product_id": SYMBOLS, "price": DECIMALS, "size": DECIMALS,
     "side": st.sampled_from(["BUY", "SELL"]), "time": ISO}
)  # fmt: skip


@PROPERTY
@given(
    trades=st.lists(COINBASE_TRADE, max_size=8),
    sequence_num=st.integers(min_value=0, max_value=2**62),
    kind=st.sampled_from(["snapshot", "update"]),
)
def test_coinbase_advanced_valid_trades_round_trip(trades, sequence_num, kind):
    out = decoder_for("coinbase").decode_frame(
        frames.coinbase_advanced(trades, kind=kind, sequence_num=sequence_num)
    )
    assert (out.rejects, out.sequence_num, out.is_snapshot) == (
        [],
        sequence_num,
        kind == "snapshot",
    )
    assert [{k: r[k] for k in frames.coinbase_trade()} for r in out.trades] == trades
    assert [json.loads(r["_raw_payload"]) for r in out.trades] == trades
    assert {(r["feed"], r["sequence_num"]) for r in out.trades} <= {("advanced", sequence_num)}


KRAKEN_TRADE = st.fixed_dictionaries(
    {"symbol": SYMBOLS, "side": st.sampled_from(["buy", "sell"]), "price": FLOATS, "qty": FLOATS,
     "ord_type": st.sampled_from(["market", "limit"]), "trade_id": IDS, "timestamp": ISO}
)  # fmt: skip


@PROPERTY
@given(trades=st.lists(KRAKEN_TRADE, max_size=8))
def test_kraken_valid_trades_round_trip(trades):
    out = decoder_for("kraken").decode_frame(frames.kraken_v2(trades), keep_payload=False)
    assert out.rejects == []
    assert out.trades == trades


@PROPERTY
@given(
    micros=st.integers(min_value=0, max_value=4_102_444_800 * 10**6),
    trade_id=IDS,
    price=DECIMALS,
)
def test_kraken_rest_time_round_trips_to_the_microsecond(micros, trade_id, price):
    seconds = f"{micros // 10**6}.{micros % 10**6:06d}"
    entry = frames.kraken_rest_trade(time=float(seconds), trade_id=trade_id, price=price)
    out = decoder_for("kraken").decode_rest_trades(frames.kraken_rest_page([entry]), "BTC/USD")
    (record,) = out.trades
    expected = datetime.fromtimestamp(micros // 10**6, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert record["timestamp"] == f"{expected}.{micros % 10**6:06d}Z"
    assert record["trade_id"] == trade_id and record["price"] == float(price)


# --- one field replaced by anything: never raises, and a refusal names the field ----------

VALID = {
    "binance": (frames.binance_trade(), ["s", "t", "p", "q", "T", "m", "E"], json.dumps,
                {"s": "symbol (s)", "t": "trade_id (t)", "p": "price (p)", "q": "qty (q)",
                 "T": "trade_time (T)", "m": "is_buyer_maker (m)", "E": "event_time (E)"}),
    "coinbase": (frames.coinbase_trade(), list(frames.coinbase_trade()),
                 lambda t: frames.coinbase_advanced([t]), {}),
    "kraken": (frames.kraken_trade(), list(frames.kraken_trade()),
               lambda t: frames.kraken_v2([t]), {}),
}  # fmt: skip


@pytest.mark.parametrize("venue", VENUES)
@PROPERTY
@given(data=st.data(), value=JSON_64)
def test_one_field_replaced_by_anything(venue, data, value):
    base, keys, build, names = VALID[venue]
    key = data.draw(st.sampled_from(keys))
    trade: dict[str, Any] = {**base, key: value}
    out = decoder_for(venue).decode_frame(build(trade))
    check_invariants(out, venue)
    assert out.kind is FrameKind.TRADES
    assert len(out.trades) + len(out.rejects) == 1
    if out.rejects:
        assert out.rejects[0].reason.startswith(names.get(key, key) + ": ")
        assert json.loads(out.rejects[0].payload) == trade
