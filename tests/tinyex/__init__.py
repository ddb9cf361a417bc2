"""Tinyex: a venue that exists only in the tests, to prove what adding a venue takes.

Its whole description is this folder: the decoder (below), the raw table schema
(``NATIVE_SCHEMA``), the mapping into trades_unified (``tinyex_trades.yaml``) and the registry
line (:data:`SPEC`). It has no native spec and no msgspec grammar, so its bursts decode frame
by frame; no websocket or REST client, so it is fed from captures and bursts.

Frames: ``{"ch":"trades","data":[{"pair":"BTC-USD","id":7,"px":"100.5","sz":"0.25",
"side":"buy","ts":"2026-12-07T06:00:00.000001Z"}, ...]}``; ``{"ch":"heartbeat"}`` is CONTROL.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from schemahub.decode.base import DecodedFrame, FrameKind, control, decode_envelope, malformed
from schemahub.decode.fields import decimal_text, decode_trades, int_id, iso_time, one_of, spec
from schemahub.decode.fields import text as text_field
from schemahub.registry import VenueSpec

VENUE = "tinyex"
RAW_TABLE = "raw_tinyex_trades"
NATIVE_SCHEMA = pa.schema(
    [
        pa.field("pair", pa.string(), nullable=False),
        pa.field("trade_id", pa.int64(), nullable=False),
        pa.field("price", pa.string(), nullable=False),
        pa.field("size", pa.string(), nullable=False),
        pa.field("side", pa.string(), nullable=False),  # the taker: buy | sell
        pa.field("ts", pa.string(), nullable=False),
    ]
)
_FIELDS = (
    spec("pair", "pair", text_field),
    spec("trade_id", "id", int_id),
    spec("price", "px", decimal_text),
    spec("size", "sz", decimal_text),
    spec("side", "side", one_of("buy", "sell")),
    spec("ts", "ts", iso_time),
)
SPEC = VenueSpec(VENUE, decoder_path=__name__, stream_field="pair", time_field="ts")


def decode_frame(frame: str | bytes, keep_payload: bool = True) -> DecodedFrame:
    """One websocket frame of tinyex."""
    return decode_envelope(frame, lambda value, raw: _dispatch(value, raw, keep_payload))


def decode_rest_trades(body: str | bytes, symbol: str, keep_payload: bool = True) -> DecodedFrame:
    """Tinyex has no REST history: any body is refused."""
    return malformed(body, "tinyex has no REST history")


def _dispatch(value: Any, raw: str | bytes, keep_payload: bool) -> DecodedFrame:
    if not isinstance(value, dict) or "ch" not in value:
        return malformed(raw, "expected an object with a channel (ch)")
    if value["ch"] != "trades":
        return control(str(value["ch"]))
    if not isinstance(value.get("data"), list):
        return malformed(raw, "data: expected a list of trades")
    trades, rejects = decode_trades(value["data"], _FIELDS, {}, keep_payload)
    return DecodedFrame(FrameKind.TRADES, trades, rejects)
