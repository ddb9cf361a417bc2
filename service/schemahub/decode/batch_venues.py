"""Each venue's usual trade frame, as msgspec structs, for the columnar decoder.

Every struct forbids unknown keys and types each key it knows, so msgspec only accepts a frame
whose every value is one the per-frame fast path (``_fast_trade`` / ``_fast_market_trades`` /
``_fast_trades`` in the venue modules) also accepts; the value rules msgspec cannot express
(decimal texts, digit ids, ISO times, stream names) are column rules. A new key from a venue
sends its frames to the per-frame path until the struct learns it: slower, never wrong.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from schemahub.decode import binance, coinbase, kraken
from schemahub.decode.column_rules import DECIMAL_TEXT, DIGITS_ID, ISO_TIME, STREAM_NAME
from schemahub.decode.columnar import ColumnarVenue, Rows
from schemahub.decode.fields import INT64_MAX

Int64 = Annotated[int, Meta(ge=0, le=INT64_MAX)]  # what fields.is_int64 accepts
Text = Annotated[str, Meta(min_length=1)]  # a non-empty string
DigitsId = Annotated[str, Meta(min_length=1, max_length=18)]  # digits checked per column
# A positive finite JSON number (ints too, as float() of the fast path): the upper bound keeps
# out an integer literal too large for a float.
Positive = Annotated[float, Meta(gt=0.0, le=sys.float_info.max)]


def _decoder(kind: type) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(kind)


class _Wire(Struct, gc=False, forbid_unknown_fields=True, kw_only=True):
    """Base of the wire structs. Fields are declared in the venues' key order: msgspec tries
    the next declared field first, so frames in that order decode fastest (any order works)."""


# --- Binance: {"e":"trade",...} plain, or {"stream":"x@trade","data":{...}} combined ----------


class BinanceTrade(_Wire, kw_only=True):
    e: Literal["trade"]
    E: Int64 | None = None
    s: Text
    t: Int64
    p: str
    q: str
    T: Int64
    m: bool
    M: bool = True  # "ignore" flag of the venue; typed so nothing odd slips through


class BinanceCombined(_Wire, kw_only=True):
    stream: str
    data: BinanceTrade


def _binance_rows(values: list[Any]) -> Rows:
    trades = [v.data if type(v) is BinanceCombined else v for v in values]
    streams = [v.stream if type(v) is BinanceCombined else "@" for v in values]
    columns = {
        "symbol": [t.s for t in trades],
        "trade_id": [t.t for t in trades],
        "price": [t.p for t in trades],
        "qty": [t.q for t in trades],
        "trade_time": [t.T for t in trades],
        "is_buyer_maker": [t.m for t in trades],
        "event_time": [t.E for t in trades],
    }
    return Rows(columns, checked={"stream": streams})


BINANCE = ColumnarVenue(
    schema=binance.NATIVE_SCHEMA,
    decoders=(_decoder(BinanceCombined), _decoder(BinanceTrade)),
    explode=_binance_rows,
    rules=(("price", DECIMAL_TEXT), ("qty", DECIMAL_TEXT), ("stream", STREAM_NAME)),
    decode_frame=binance.decode_frame,
)


# --- Coinbase Advanced: {"channel":"market_trades","sequence_num":N,"events":[...]} ----------


class CoinbaseTrade(_Wire, kw_only=True):
    product_id: Text
    trade_id: DigitsId
    price: str
    size: str
    time: str
    side: Literal["BUY", "SELL", "buy", "sell"]


class CoinbaseEvent(_Wire, kw_only=True):
    type: Literal["snapshot", "update"]
    trades: list[CoinbaseTrade]


class CoinbaseFrame(_Wire, kw_only=True):
    channel: Literal["market_trades"]
    client_id: str = ""
    timestamp: str = ""
    sequence_num: Int64 | None = None
    events: Annotated[list[CoinbaseEvent], Meta(min_length=1)]


def _coinbase_rows(values: list[Any]) -> Rows:
    trades = [t for v in values for event in v.events for t in event.trades]
    counts = [sum(len(event.trades) for event in v.events) for v in values]
    columns = {
        "product_id": [t.product_id for t in trades],
        "trade_id": [t.trade_id for t in trades],
        "price": [t.price for t in trades],
        "size": [t.size for t in trades],
        "side": [t.side for t in trades],
        "time": [t.time for t in trades],
    }
    per_frame = {"sequence_num": [v.sequence_num for v in values]}
    return Rows(columns, counts, per_frame)


def _coinbase_sequence(value: Any) -> int | None:
    return value.sequence_num


COINBASE = ColumnarVenue(
    schema=coinbase.NATIVE_SCHEMA,
    decoders=(_decoder(CoinbaseFrame),),
    explode=_coinbase_rows,
    rules=(
        ("trade_id", DIGITS_ID),
        ("price", DECIMAL_TEXT),
        ("size", DECIMAL_TEXT),
        ("time", ISO_TIME),
    ),
    decode_frame=coinbase.decode_frame,
    constants=(("feed", "advanced"),),
    sequence_num=_coinbase_sequence,
)


# --- Kraken v2: {"channel":"trade","type":"snapshot"|"update","data":[...]} ------------------


class KrakenTrade(_Wire, kw_only=True):
    symbol: Text
    side: Literal["buy", "sell"]
    price: Positive
    qty: Positive
    ord_type: Text | None = None
    trade_id: Int64
    timestamp: str


class KrakenFrame(_Wire, kw_only=True):
    channel: Literal["trade"]
    type: Literal["snapshot", "update"]
    data: list[KrakenTrade]


def _kraken_rows(values: list[Any]) -> Rows:
    trades = [t for v in values for t in v.data]
    columns = {
        "symbol": [t.symbol for t in trades],
        "trade_id": [t.trade_id for t in trades],
        "price": [t.price for t in trades],
        "qty": [t.qty for t in trades],
        "side": [t.side for t in trades],
        "ord_type": [t.ord_type for t in trades],
        "timestamp": [t.timestamp for t in trades],
    }
    return Rows(columns, [len(v.data) for v in values])


KRAKEN = ColumnarVenue(
    schema=kraken.NATIVE_SCHEMA,
    decoders=(_decoder(KrakenFrame),),
    explode=_kraken_rows,
    rules=(("timestamp", ISO_TIME),),
    decode_frame=kraken.decode_frame,
)

VENUES: dict[str, ColumnarVenue] = {"binance": BINANCE, "coinbase": COINBASE, "kraken": KRAKEN}
