"""Each venue's usual trade frame, as msgspec structs, for the columnar decoder.

Every struct forbids unknown keys and types each key it knows, so msgspec only accepts a frame
whose every value is one the per-frame fast path (``_fast_trade`` / ``_fast_market_trades`` /
``_fast_trades`` in the venue modules) also accepts; the value rules msgspec cannot express
(decimal texts, digit ids, ISO times, stream names) are column rules. A new key from a venue
sends its frames to the per-frame path until the struct learns it: slower, never wrong.
"""

from __future__ import annotations

import sys
from operator import attrgetter
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


def _columns(items: list[Any], fields: dict[str, str]) -> dict[str, list[Any]]:
    """Output column -> the ``fields[column]`` attribute of every item, in order."""
    return {column: list(map(attrgetter(name), items)) for column, name in fields.items()}


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


_BINANCE_COLUMNS = {
    "symbol": "s",
    "trade_id": "t",
    "price": "p",
    "qty": "q",
    "trade_time": "T",
    "is_buyer_maker": "m",
    "event_time": "E",
}


def _binance_rows(values: list[Any]) -> Rows:
    trades = [v.data if type(v) is BinanceCombined else v for v in values]
    streams = [v.stream if type(v) is BinanceCombined else "@" for v in values]
    return Rows(_columns(trades, _BINANCE_COLUMNS), checked={"stream": streams})


BINANCE = ColumnarVenue(
    schema=binance.NATIVE_SCHEMA,
    decoders=(msgspec.json.Decoder(BinanceCombined), msgspec.json.Decoder(BinanceTrade)),
    explode=_binance_rows,
    rules=(("price", DECIMAL_TEXT), ("qty", DECIMAL_TEXT), ("stream", STREAM_NAME)),
    decode_frame=binance.decode_frame,
    wire=(BinanceTrade, tuple(_BINANCE_COLUMNS.items())),
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


# The struct fields are named as the raw table's columns.
_COINBASE_COLUMNS = {name: name for name in CoinbaseTrade.__struct_fields__}


def _coinbase_rows(values: list[Any]) -> Rows:
    trades = [t for v in values for event in v.events for t in event.trades]
    counts = [sum(len(event.trades) for event in v.events) for v in values]
    per_frame = {"sequence_num": [v.sequence_num for v in values]}
    return Rows(_columns(trades, _COINBASE_COLUMNS), counts, per_frame)


COINBASE = ColumnarVenue(
    schema=coinbase.NATIVE_SCHEMA,
    decoders=(msgspec.json.Decoder(CoinbaseFrame),),
    explode=_coinbase_rows,
    rules=(
        ("trade_id", DIGITS_ID),
        ("price", DECIMAL_TEXT),
        ("size", DECIMAL_TEXT),
        ("time", ISO_TIME),
    ),
    decode_frame=coinbase.decode_frame,
    constants=(("feed", "advanced"),),
    sequence_num=attrgetter("sequence_num"),
    wire=(CoinbaseTrade, tuple(_COINBASE_COLUMNS.items())),
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


_KRAKEN_COLUMNS = {name: name for name in KrakenTrade.__struct_fields__}


def _kraken_rows(values: list[Any]) -> Rows:
    trades = [t for v in values for t in v.data]
    return Rows(_columns(trades, _KRAKEN_COLUMNS), [len(v.data) for v in values])


KRAKEN = ColumnarVenue(
    schema=kraken.NATIVE_SCHEMA,
    decoders=(msgspec.json.Decoder(KrakenFrame),),
    explode=_kraken_rows,
    rules=(("timestamp", ISO_TIME),),
    decode_frame=kraken.decode_frame,
    wire=(KrakenTrade, tuple(_KRAKEN_COLUMNS.items())),
)
