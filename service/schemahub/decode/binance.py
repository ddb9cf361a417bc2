"""Binance spot trade frames and REST pages -> native records (raw_binance_trades columns).

Websocket frames come plain (``/ws``: ``{"e":"trade",...}``) or wrapped by a combined stream
(``{"stream":"btcusdt@trade","data":{...}}``). How each frame is classified:

- ``e == "trade"`` (plain or wrapped): TRADES, one record; ``_raw_payload`` is the plain frame's
  text, or the wrapped ``data`` object re-serialized.
- any other event (``e`` = aggTrade, kline, 24hrTicker, depthUpdate, ...): CONTROL, label ``e``.
  Wrapped data without ``e`` (bookTicker, partial depth) is labelled from the stream name after
  its first ``@`` (``bookTicker``, ``depth20@100ms``); array payloads (``!ticker@arr``) likewise.
- plain bookTicker (``u``, ``b``, ``a`` keys) and partial depth (``lastUpdateId``): CONTROL
  ``bookTicker`` / ``depth``.
- ``{"result":...,"id":...}`` replies to SUBSCRIBE and friends: CONTROL ``result``.
- ``{"error":{"code","msg"},"id":...}`` (or a bare ``{"code","msg"}``): CONTROL ``error``,
  ``detail`` = the venue's code and message; the session layer decides what to do.
- anything else (not JSON, a scalar, an object of no known shape): MALFORMED with a reason.

REST ``/api/v3/trades`` and ``/api/v3/historicalTrades`` return an array of
``{"id","price","qty","quoteQty","time","isBuyerMaker","isBestMatch"}``: same columns,
``event_time`` None, symbol from the argument. A ``{"code","msg"}`` body is MALFORMED, label
``error``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from schemahub.decode.base import (
    PAYLOAD_KEY,
    DecodedFrame,
    FrameKind,
    NativeRecord,
    TradeTick,
    control,
    decode_envelope,
    decode_fast_or_full,
    dump,
    frame_text,
    require_list,
    require_symbol,
    shape_of,
    venue_error,
)
from schemahub.decode.fields import (
    INT64_MAX,
    boolean,
    decimal_text,
    decode_trades,
    epoch_ms,
    int_id,
    is_decimal_text,
    is_int64,
    spec,
    text,
)
from schemahub.decode.quotes import quotes_frame, quotes_in, tick_of
from schemahub.errors import DecodeError

VENUE = "binance"
RAW_TABLE = "raw_binance_trades"
NATIVE_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),  # s
        pa.field("trade_id", pa.int64(), nullable=False),  # t / id
        pa.field("price", pa.string(), nullable=False),  # p / price, as sent
        pa.field("qty", pa.string(), nullable=False),  # q / qty, as sent
        pa.field("trade_time", pa.int64(), nullable=False),  # T / time, epoch ms
        pa.field("is_buyer_maker", pa.bool_(), nullable=False),  # m / isBuyerMaker
        pa.field("event_time", pa.int64(), nullable=True),  # E, epoch ms; null from REST
    ]
)

_WS_FIELDS = (
    spec("symbol", "s", text),
    spec("trade_id", "t", int_id),
    spec("price", "p", decimal_text),
    spec("qty", "q", decimal_text),
    spec("trade_time", "T", epoch_ms),
    spec("is_buyer_maker", "m", boolean),
    spec("event_time", "E", epoch_ms, required=False),
)
_TRADES = FrameKind.TRADES
_REST_FIELDS = (
    spec("trade_id", "id", int_id),
    spec("price", "price", decimal_text),
    spec("qty", "qty", decimal_text),
    spec("trade_time", "time", epoch_ms),
    spec("is_buyer_maker", "isBuyerMaker", boolean),
)


def decode_frame(frame: str | bytes, keep_payload: bool = True) -> DecodedFrame:
    """Decode one Binance websocket frame (plain or combined-stream)."""
    return decode_fast_or_full(frame, _fast_trade, _dispatch, keep_payload)


def decode_rest_trades(body: str | bytes, symbol: str, keep_payload: bool = True) -> DecodedFrame:
    """Decode one ``/api/v3/trades`` or ``/api/v3/historicalTrades`` page for ``symbol``."""
    extras = {"symbol": require_symbol(symbol), "event_time": None}
    return decode_envelope(body, lambda value, raw: _rest_page(value, raw, extras, keep_payload))


def _dispatch(value: Any, raw: str | bytes, keep_payload: bool) -> DecodedFrame:
    if isinstance(value, dict):
        if "stream" in value and "data" in value:
            return _combined(value, keep_payload)
        if "e" in value:
            return _event(value, frame_text(raw), keep_payload)
        return _plain_non_event(value)
    if isinstance(value, list) and value and all(_has_event(item) for item in value):
        return control(value[0]["e"])  # e.g. !miniTicker@arr on a /ws connection
    raise DecodeError(f"no Binance frame has this shape: {shape_of(value)}")


def _combined(value: dict[str, Any], keep_payload: bool) -> DecodedFrame:
    stream, data = value["stream"], value["data"]
    if not isinstance(stream, str) or "@" not in stream:
        raise DecodeError(f"stream: {stream!r} is not a '<symbol>@<channel>' stream name")
    channel = stream.split("@", 1)[1]
    if isinstance(data, dict) and "e" in data:
        return _event(data, None, keep_payload)
    if isinstance(data, dict) and channel == "bookTicker":
        return _book_ticker(data)
    if isinstance(data, dict) and channel == "trade":
        return _trade(data, None, keep_payload)  # a trade stream's data lost its "e": check it
    if isinstance(data, dict | list):
        return control(channel)
    raise DecodeError(f"data of stream {stream!r}: expected an object, got {shape_of(data)}")


def _event(data: dict[str, Any], payload: str | None, keep_payload: bool) -> DecodedFrame:
    event = data["e"]
    if not isinstance(event, str) or not event:
        raise DecodeError(f"e: {event!r} is not an event type name")
    if event != "trade":
        return control(event)
    return _trade(data, payload, keep_payload)


def _trade(data: dict[str, Any], payload: str | None, keep_payload: bool) -> DecodedFrame:
    """One trade; ``payload`` is the plain frame's text, None to re-serialize ``data``."""
    trades, rejects = decode_trades((data,), _WS_FIELDS, {}, keep_payload, payload)
    return DecodedFrame(FrameKind.TRADES, trades=trades, rejects=rejects)


def _fast_trade(value: Any, raw: str | bytes, keep_payload: bool) -> DecodedFrame | None:
    """The usual trade frame (combined or plain) decoded directly; None for anything else."""
    if type(value) is not dict:
        return None
    if "stream" in value and "data" in value:
        data, stream = value["data"], value["stream"]
        if type(data) is not dict or type(stream) is not str or "@" not in stream:
            return None
        payload = None
    else:
        data = value
        payload = raw if type(raw) is str else None
        if payload is None:
            return None
    if data.get("e") != "trade":
        return None
    record = _fast_record(data)
    if record is None:
        return None
    if keep_payload:
        record[PAYLOAD_KEY] = payload if payload is not None else dump(data)
    return DecodedFrame(_TRADES, [record], [])


def _fast_record(data: dict[str, Any]) -> NativeRecord | None:
    """The record _WS_FIELDS would build, when every value is of the usual kind; else None.

    The checks are written out (not looped over _WS_FIELDS) because this runs once a trade;
    each one accepts a subset of what the field's check accepts.
    """
    try:
        symbol, trade_id, price, qty = data["s"], data["t"], data["p"], data["q"]
        trade_time, maker = data["T"], data["m"]
    except KeyError:
        return None
    event_time = data.get("E")
    if not (
        type(symbol) is str
        and symbol
        and type(trade_id) is int
        and 0 <= trade_id <= INT64_MAX
        and type(trade_time) is int
        and 0 <= trade_time <= INT64_MAX
        and type(maker) is bool
        and (event_time is None or is_int64(event_time))
        and is_decimal_text(price)
        and is_decimal_text(qty)
    ):
        return None
    return {
        "symbol": symbol,
        "trade_id": trade_id,
        "price": price,
        "qty": qty,
        "trade_time": trade_time,
        "is_buyer_maker": maker,
        "event_time": event_time,
    }


def _plain_non_event(value: dict[str, Any]) -> DecodedFrame:
    if "result" in value and "id" in value:
        return control("result")
    error = _error_text(value)
    if error is not None:
        return control("error", detail=error)
    if {"u", "s", "b", "a"} <= value.keys():
        return _book_ticker(value)
    if "lastUpdateId" in value:
        return control("depth")
    raise DecodeError(f"no Binance frame has this shape: {shape_of(value)}")


def _book_ticker(data: dict[str, Any]) -> DecodedFrame:
    """``{"u","s","b","B","a","A"}``: the best bid and ask of symbol ``s``, as text."""
    return quotes_frame("bookTicker", quotes_in([data], "s", "b", "a"))


def trade_tick(record: NativeRecord) -> TradeTick:
    """A native record (raw_binance_trades columns) as the live feed shows it."""
    side = "SELL" if record["is_buyer_maker"] else "BUY"
    return tick_of(record, "symbol", "qty", side, record["trade_time"] * 1000)


def _error_text(value: dict[str, Any]) -> str | None:
    """The venue's words from ``{"error":{"code","msg"}}`` or ``{"code","msg"}``, else None."""
    error = value.get("error", value if "msg" in value and "code" in value else None)
    if error is None:
        return None
    if isinstance(error, dict):
        return f"code {error.get('code')}: {error.get('msg')}"
    return str(error)


def _has_event(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("e"), str) and bool(item["e"])


def _rest_page(
    value: Any, raw: str | bytes, extras: dict[str, Any], keep_payload: bool
) -> DecodedFrame:
    if isinstance(value, dict) and (error := _error_text(value)) is not None:
        return venue_error(raw, error)
    items = require_list(value, "trades page")
    trades, rejects = decode_trades(items, _REST_FIELDS, extras, keep_payload)
    return DecodedFrame(FrameKind.TRADES, trades=trades, rejects=rejects)
