"""Coinbase Advanced Trade / Exchange trade frames and REST pages -> native records.

One :func:`decode_frame` serves both websocket feeds, told apart by shape:

- Advanced Trade (``{"channel":..,"sequence_num":..,"events":[..]}``): ``market_trades`` events
  of type snapshot/update are TRADES (``feed="advanced"``, ``is_snapshot`` when a snapshot event
  is in the frame). ``sequence_num`` counts frames per connection, so it is set on the
  DecodedFrame for EVERY Advanced frame that has one (heartbeats included) and copied into each
  record. Other channels (heartbeats, subscriptions, candles, ticker, l2_data, ...) are CONTROL
  labelled with the channel; a channel we do not know is CONTROL ``unknown:<channel>`` (Coinbase
  says new message types may appear and should be ignored); a market_trades frame whose events
  are all of an unknown type is CONTROL ``unknown:<type>``.
- Exchange (``{"type":..}``): ``match`` / ``last_match`` are TRADES (``feed="exchange"``, the
  integer ``trade_id`` stored as its digits, the record's ``sequence_num`` = ``sequence``). That
  ``sequence`` is per product, not per connection, so it is NOT put on the DecodedFrame. Other
  known types are CONTROL with the type as label, unknown ones CONTROL ``unknown:<type>``.
- ``{"type":"error","message":..}`` (both feeds): CONTROL ``error``, ``detail`` = the message
  (and ``reason`` when given).

``side`` is the MAKER side on every Coinbase source and is kept as sent: BUY/SELL on Advanced,
buy/sell on Exchange and REST; either spelling is accepted from any source.

REST ``/products/{id}/trades`` returns ``[{"time","trade_id","price","size","side"}]`` newest
first: records keep the page order, ``feed="rest"``, ``sequence_num`` None, ``product_id`` from
the argument. Paging cursors come in the CB-AFTER/CB-BEFORE headers, so ``cursor`` stays None.
A ``{"message":..}`` body is MALFORMED with label ``error``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from schemahub.decode.base import (
    PAYLOAD_KEY,
    DecodedFrame,
    FrameKind,
    NativeRecord,
    Reject,
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
    decimal_text,
    decode_trades,
    id_text,
    is_decimal_text,
    is_digits_id,
    is_int64,
    is_iso_time,
    iso_time,
    one_of,
    sequence,
    spec,
    text,
)
from schemahub.decode.quotes import iso_to_micros, quotes_frame, quotes_in, tick_of
from schemahub.errors import DecodeError

VENUE = "coinbase"
RAW_TABLE = "raw_coinbase_trades"
NATIVE_SCHEMA = pa.schema(
    [
        pa.field("product_id", pa.string(), nullable=False),
        pa.field("trade_id", pa.string(), nullable=False),  # as sent (a string of digits)
        pa.field("price", pa.string(), nullable=False),
        pa.field("size", pa.string(), nullable=False),
        pa.field("side", pa.string(), nullable=False),  # the MAKER side, as sent
        pa.field("time", pa.string(), nullable=False),  # ISO 8601, as sent
        pa.field("sequence_num", pa.int64(), nullable=True),  # frame counter / Exchange sequence
        pa.field("feed", pa.string(), nullable=False),  # advanced | exchange | rest
    ]
)

_COMMON_FIELDS = (
    spec("trade_id", "trade_id", id_text),
    spec("price", "price", decimal_text),
    spec("size", "size", decimal_text),
    spec("side", "side", one_of("BUY", "SELL", "buy", "sell")),
    spec("time", "time", iso_time),
)
_ADVANCED_FIELDS = (spec("product_id", "product_id", text), *_COMMON_FIELDS)
_EXCHANGE_FIELDS = (
    *_ADVANCED_FIELDS,
    spec("sequence_num", "sequence", sequence, required=False),
)
_REST_FIELDS = _COMMON_FIELDS

_ADVANCED_CHANNELS = frozenset(
    {"heartbeats", "subscriptions", "candles", "ticker", "ticker_batch", "l2_data", "level2",
     "status", "user", "futures_balance_summary"}
)  # fmt: skip
_EXCHANGE_TYPES = frozenset(
    {"subscriptions", "heartbeat", "ticker", "snapshot", "l2update", "received", "open", "done",
     "change", "activate", "status", "auction", "rfq_match"}
)  # fmt: skip
_TRADE_EVENTS = frozenset({"snapshot", "update"})
_SIDES = frozenset({"BUY", "SELL", "buy", "sell"})
_TRADES = FrameKind.TRADES


def decode_frame(frame: str | bytes, keep_payload: bool = True) -> DecodedFrame:
    """Decode one Coinbase websocket frame (Advanced Trade or Exchange feed)."""
    return decode_fast_or_full(frame, _fast_market_trades, _dispatch, keep_payload)


def decode_rest_trades(body: str | bytes, symbol: str, keep_payload: bool = True) -> DecodedFrame:
    """Decode one Exchange ``/products/{symbol}/trades`` page (page order kept)."""
    extras = {"product_id": require_symbol(symbol), "sequence_num": None, "feed": "rest"}
    return decode_envelope(body, lambda value, raw: _rest_page(value, raw, extras, keep_payload))


def _dispatch(value: Any, _raw: str | bytes, keep_payload: bool) -> DecodedFrame:
    if isinstance(value, dict):
        if "channel" in value:
            return _advanced(value, keep_payload)
        if "type" in value:
            return _exchange(value, keep_payload)
    raise DecodeError(f"no Coinbase frame has this shape: {shape_of(value)}")


def _advanced(value: dict[str, Any], keep_payload: bool) -> DecodedFrame:
    seq = value.get("sequence_num")
    if seq is not None:
        seq = sequence(seq, "sequence_num")
    channel = value["channel"]
    if not isinstance(channel, str) or not channel:
        raise DecodeError(f"channel: {channel!r} is not a channel name")
    if channel == "ticker":
        return _tickers(value.get("events"), seq)
    if channel != "market_trades":
        label = channel if channel in _ADVANCED_CHANNELS else f"unknown:{channel}"
        return control(label, sequence_num=seq)
    events = require_list(value.get("events"), "events")
    extras = {"sequence_num": seq, "feed": "advanced"}
    trades: list[NativeRecord] = []
    rejects: list[Reject] = []
    kinds = [_event_type(event) for event in events]
    for event, kind in zip(events, kinds, strict=True):
        if kind in _TRADE_EVENTS:
            items = require_list(event.get("trades"), f"trades of the {kind} event")
            good, bad = decode_trades(items, _ADVANCED_FIELDS, extras, keep_payload)
            trades.extend(good)
            rejects.extend(bad)
    if kinds and not _TRADE_EVENTS.intersection(kinds):
        return control(f"unknown:{kinds[0]}", sequence_num=seq)
    return DecodedFrame(
        FrameKind.TRADES,
        trades=trades,
        rejects=rejects,
        sequence_num=seq,
        is_snapshot="snapshot" in kinds,
    )


def _tickers(events: Any, seq: int | None) -> DecodedFrame:
    """The ``ticker`` channel: ``events[].tickers[]`` with ``product_id``, ``best_bid`` and
    ``best_ask`` as text."""
    quotes = []
    for event in events if isinstance(events, list) else ():
        tickers = event.get("tickers") if isinstance(event, dict) else None
        quotes.extend(quotes_in(tickers, "product_id", "best_bid", "best_ask"))
    return quotes_frame("ticker", quotes, seq)


def trade_tick(record: NativeRecord) -> TradeTick:
    """A native record (raw_coinbase_trades columns) as the live feed shows it: ``side`` is
    the maker's, so the taker is the opposite."""
    taker = "SELL" if record["side"].upper() == "BUY" else "BUY"
    return tick_of(record, "product_id", "size", taker, iso_to_micros(record["time"]))


def _fast_market_trades(value: Any, _raw: str | bytes, keep_payload: bool) -> DecodedFrame | None:
    """The usual Advanced ``market_trades`` frame decoded directly; None for anything else
    (another channel, an unknown event type, any trade a check might refuse)."""
    if type(value) is not dict or value.get("channel") != "market_trades":
        return None
    seq = value.get("sequence_num")
    events = value.get("events")
    if (seq is not None and not is_int64(seq)) or type(events) is not list or not events:
        return None
    trades: list[NativeRecord] = []
    snapshot = False
    for event in events:
        if type(event) is not dict:
            return None
        kind, items = event.get("type"), event.get("trades")
        if (kind != "update" and kind != "snapshot") or type(items) is not list:
            return None
        snapshot = snapshot or kind == "snapshot"
        for item in items:
            record = _fast_record(item, seq)
            if record is None:
                return None
            if keep_payload:
                record[PAYLOAD_KEY] = dump(item)
            trades.append(record)
    return DecodedFrame(_TRADES, trades, [], None, seq, snapshot)


def _fast_record(item: Any, seq: int | None) -> NativeRecord | None:
    """The record _ADVANCED_FIELDS would build, when every value is of the usual kind."""
    if type(item) is not dict:
        return None
    try:
        product, trade_id, price, size = (
            item["product_id"],
            item["trade_id"],
            item["price"],
            item["size"],
        )
        side, time = item["side"], item["time"]
    except KeyError:
        return None
    if not (
        type(product) is str
        and product
        and type(side) is str
        and side in _SIDES
        and is_digits_id(trade_id)
        and is_decimal_text(price)
        and is_decimal_text(size)
        and is_iso_time(time)
    ):
        return None
    return {
        "sequence_num": seq,
        "feed": "advanced",
        "product_id": product,
        "trade_id": trade_id,
        "price": price,
        "size": size,
        "side": side,
        "time": time,
    }


def _event_type(event: Any) -> str:
    if not isinstance(event, dict):
        raise DecodeError(f"events: expected objects, got {shape_of(event)}")
    kind = event.get("type")
    if not isinstance(kind, str):
        raise DecodeError(f"event type: {kind!r} is not a string")
    return kind


def _exchange(value: dict[str, Any], keep_payload: bool) -> DecodedFrame:
    kind = value["type"]
    if not isinstance(kind, str) or not kind:
        raise DecodeError(f"type: {kind!r} is not a message type name")
    if kind in ("match", "last_match"):
        trades, rejects = decode_trades(
            (value,), _EXCHANGE_FIELDS, {"feed": "exchange"}, keep_payload
        )
        return DecodedFrame(FrameKind.TRADES, trades=trades, rejects=rejects)
    if kind == "error":
        return control("error", detail=_error_text(value))
    return control(kind if kind in _EXCHANGE_TYPES else f"unknown:{kind}")


def _error_text(value: dict[str, Any]) -> str:
    message = str(value.get("message", "(no message)"))
    reason = value.get("reason")
    return f"{message}: {reason}" if reason else message


def _rest_page(
    value: Any, raw: str | bytes, extras: dict[str, Any], keep_payload: bool
) -> DecodedFrame:
    if isinstance(value, dict) and "message" in value:
        return venue_error(raw, _error_text(value))
    items = require_list(value, "trades page")
    trades, rejects = decode_trades(items, _REST_FIELDS, extras, keep_payload)
    return DecodedFrame(FrameKind.TRADES, trades=trades, rejects=rejects)
