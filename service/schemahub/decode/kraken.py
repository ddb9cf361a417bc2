"""Kraken websocket v2 trade frames and REST pages -> native records (raw_kraken_trades).

How each websocket frame is classified:

- ``{"channel":"trade","type":"snapshot"|"update","data":[..]}``: TRADES (``is_snapshot`` for
  snapshots); prices and quantities are JSON numbers on v2, stored as floats. Another ``type`` on
  the trade channel is CONTROL ``unknown:<type>``.
- ``status``, ``heartbeat`` and the other public/private v2 channels: CONTROL, label = channel;
  a channel we do not know is CONTROL ``unknown:<channel>``.
- method replies (``{"method":"subscribe"|"unsubscribe"|"pong",..}``): CONTROL with the method as
  label, or ``error`` (``detail`` = the venue's error, with the symbol) when ``success`` is false.
- v1 traffic (arrays ``[channelID, payload, "trade", "XBT/USD"]`` and ``{"event":..}`` objects):
  CONTROL ``kraken_v1``, ``detail`` = the v1 event or channel name. v1 is legacy and not decoded.
- anything else (not JSON, a scalar, an object of no known shape): MALFORMED with a reason.

REST ``/0/public/Trades``: ``{"error":[],"result":{"<PAIR>":[[price, volume, time_s, "b"|"s",
"m"|"l", misc, trade_id], ..], "last":"<ns>"}}``. Records get ``symbol`` = the argument (the
websocket name), side buy/sell, ord_type market/limit, price/qty floats, and ``timestamp`` in ISO
8601 with microseconds and ``Z``. ``cursor`` = ``last``. A non-empty ``error`` list is MALFORMED
with label ``error`` and the venue's strings (e.g. ``EGeneral:Too many requests``) in ``detail``;
the HTTP client decides whether that means back off.
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
    require_list,
    require_symbol,
    shape_of,
    venue_error,
)
from schemahub.decode.fields import (
    INT64_MAX,
    decode_trades,
    epoch_seconds_iso,
    int_id,
    is_iso_time,
    is_positive_number,
    iso_time,
    one_of,
    positive_float,
    spec,
    text,
    translated,
)
from schemahub.decode.quotes import iso_to_micros, quotes_frame, quotes_in, tick_of
from schemahub.errors import DecodeError

VENUE = "kraken"
RAW_TABLE = "raw_kraken_trades"
NATIVE_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),  # websocket v2 name, e.g. BTC/USD
        pa.field("trade_id", pa.int64(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),  # JSON number on v2
        pa.field("qty", pa.float64(), nullable=False),
        pa.field("side", pa.string(), nullable=False),  # the TAKER side: buy | sell
        pa.field("ord_type", pa.string(), nullable=True),  # market | limit
        pa.field("timestamp", pa.string(), nullable=False),  # ISO 8601, as sent
    ]
)

# ord_type is informational (not in the unified table): an unknown value is kept, not refused.
_WS_FIELDS = (
    spec("symbol", "symbol", text),
    spec("trade_id", "trade_id", int_id),
    spec("price", "price", positive_float),
    spec("qty", "qty", positive_float),
    spec("side", "side", one_of("buy", "sell")),
    spec("ord_type", "ord_type", text, required=False),
    spec("timestamp", "timestamp", iso_time),
)
# A REST trade is an array; its positions are named so the same Field machinery applies.
_REST_POSITIONS = ("price", "volume", "time", "side", "ord_type", "misc", "trade_id")
_REST_FIELDS = (
    spec("trade_id", "trade_id", int_id),
    spec("price", "price", positive_float),
    spec("qty", "volume", positive_float),
    spec("side", "side", translated({"b": "buy", "s": "sell"})),
    spec("ord_type", "ord_type", translated({"m": "market", "l": "limit"}, keep_unknown=True)),
    spec("timestamp", "time", epoch_seconds_iso),
)

_V2_CHANNELS = frozenset(
    {"status", "heartbeat", "book", "ticker", "ohlc", "instrument", "level3", "executions",
     "balances"}
)  # fmt: skip
_TRADE_TYPES = frozenset({"snapshot", "update"})
_TRADES = FrameKind.TRADES


def decode_frame(frame: str | bytes, keep_payload: bool = True) -> DecodedFrame:
    """Decode one Kraken websocket frame (v2 decoded; v1 recognized as CONTROL)."""
    return decode_fast_or_full(frame, _fast_trades, _dispatch, keep_payload)


def decode_rest_trades(body: str | bytes, symbol: str, keep_payload: bool = True) -> DecodedFrame:
    """Decode one ``/0/public/Trades`` page; ``symbol`` is the websocket v2 name (BTC/USD)."""
    extras = {"symbol": require_symbol(symbol)}
    return decode_envelope(body, lambda value, raw: _rest_page(value, raw, extras, keep_payload))


def _dispatch(value: Any, _raw: str | bytes, keep_payload: bool) -> DecodedFrame:
    if isinstance(value, dict):
        if "channel" in value:
            return _channel(value, keep_payload)
        if "method" in value:
            return _method_reply(value)
        if isinstance(value.get("event"), str):
            return control("kraken_v1", detail=value["event"])
        if "error" in value:
            return control("error", detail=str(value["error"]))
    elif _is_v1_array(value):
        return control("kraken_v1", detail=value[-2])
    raise DecodeError(f"no Kraken frame has this shape: {shape_of(value)}")


def _channel(value: dict[str, Any], keep_payload: bool) -> DecodedFrame:
    channel = value["channel"]
    if not isinstance(channel, str) or not channel:
        raise DecodeError(f"channel: {channel!r} is not a channel name")
    if channel == "ticker":
        # {"channel":"ticker","type":"snapshot"|"update","data":[{"symbol","bid","ask",..}]}
        return quotes_frame("ticker", quotes_in(value.get("data"), "symbol", "bid", "ask"))
    if channel != "trade":
        return control(channel if channel in _V2_CHANNELS else f"unknown:{channel}")
    kind = value.get("type")
    if not isinstance(kind, str):
        raise DecodeError(f"type: {kind!r} is not a message type of the trade channel")
    if kind not in _TRADE_TYPES:
        return control(f"unknown:{kind}")
    items = require_list(value.get("data"), "data")
    trades, rejects = decode_trades(items, _WS_FIELDS, {}, keep_payload)
    return DecodedFrame(
        FrameKind.TRADES, trades=trades, rejects=rejects, is_snapshot=kind == "snapshot"
    )


def _fast_trades(value: Any, _raw: str | bytes, keep_payload: bool) -> DecodedFrame | None:
    """The usual v2 trade frame decoded directly; None for anything else (another channel or
    type, any trade a check might refuse)."""
    if type(value) is not dict or value.get("channel") != "trade":
        return None
    kind, items = value.get("type"), value.get("data")
    if (kind != "update" and kind != "snapshot") or type(items) is not list:
        return None
    trades: list[NativeRecord] = []
    for item in items:
        record = _fast_record(item)
        if record is None:
            return None
        if keep_payload:
            record[PAYLOAD_KEY] = dump(item)
        trades.append(record)
    return DecodedFrame(_TRADES, trades, [], None, None, kind == "snapshot")


def _fast_record(item: Any) -> NativeRecord | None:
    """The record _WS_FIELDS would build, when every value is of the usual kind."""
    if type(item) is not dict:
        return None
    try:
        symbol, trade_id, price, qty = item["symbol"], item["trade_id"], item["price"], item["qty"]
        side, stamp = item["side"], item["timestamp"]
    except KeyError:
        return None
    ord_type = item.get("ord_type")
    if not (
        type(symbol) is str
        and symbol
        and type(trade_id) is int
        and 0 <= trade_id <= INT64_MAX
        and (side == "buy" or side == "sell")
        and (ord_type is None or (type(ord_type) is str and ord_type))
        and is_positive_number(price)
        and is_positive_number(qty)
        and is_iso_time(stamp)
    ):
        return None
    return {
        "symbol": symbol,
        "trade_id": trade_id,
        "price": float(price),
        "qty": float(qty),
        "side": side,
        "ord_type": ord_type,
        "timestamp": stamp,
    }


def trade_tick(record: NativeRecord) -> TradeTick:
    """A native record (raw_kraken_trades columns) as the live feed shows it."""
    ts_us = iso_to_micros(record["timestamp"])
    return tick_of(record, "symbol", "qty", record["side"].upper(), ts_us)


def _method_reply(value: dict[str, Any]) -> DecodedFrame:
    method = value["method"]
    if not isinstance(method, str) or not method:
        raise DecodeError(f"method: {method!r} is not a method name")
    if value.get("success") is False or "error" in value:
        error = value.get("error", "(no error text)")
        result = value.get("result")
        symbol = result.get("symbol") if isinstance(result, dict) else value.get("symbol")
        where = f" (symbol {symbol})" if symbol else ""
        return control("error", detail=f"{method}: {error}{where}")
    return control(method)


def _is_v1_array(value: Any) -> bool:
    """``[channelID, payload.., channelName, pair]``, the v1 data frame layout."""
    return (
        isinstance(value, list)
        and len(value) >= 4
        and isinstance(value[0], int)
        and isinstance(value[-2], str)
        and isinstance(value[-1], str)
    )


def _rest_page(
    value: Any, raw: str | bytes, extras: dict[str, Any], keep_payload: bool
) -> DecodedFrame:
    if not isinstance(value, dict):
        raise DecodeError(f"expected a JSON object with error and result, got {shape_of(value)}")
    errors = value.get("error")
    if errors:
        words = "; ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
        return venue_error(raw, words)
    result = value.get("result")
    if not isinstance(result, dict):
        raise DecodeError(f"result: expected an object, got {shape_of(result)}")
    pairs = [key for key in result if key != "last"]
    if len(pairs) != 1:
        raise DecodeError(f"result: expected one pair's trade list, got keys {sorted(result)}")
    entries = require_list(result[pairs[0]], f"result.{pairs[0]}")
    trades, rejects = decode_trades(entries, _REST_FIELDS, extras, keep_payload, adapt=_named)
    last = result.get("last")
    cursor = None if last is None else str(last)
    return DecodedFrame(FrameKind.TRADES, trades=trades, rejects=rejects, cursor=cursor)


def _named(entry: Any) -> Any:
    """A REST trade array as an object keyed by position name (other values pass unchanged)."""
    return dict(zip(_REST_POSITIONS, entry, strict=False)) if isinstance(entry, list) else entry
