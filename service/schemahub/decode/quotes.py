"""Top-of-book quote frames and the live feed's view of a trade: the parts every venue shares.

Each venue module reads its own quote frame (Binance ``bookTicker``, Coinbase Advanced
``ticker``, Kraken v2 ``ticker``) with :func:`quotes_in` and returns :func:`quotes_frame`: a
CONTROL frame carrying the quotes, so the sequencer, buffers and quarantine never see them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemahub.decode.base import DecodedFrame, FrameKind, NativeRecord, Quote, TradeTick
from schemahub.decode.fields import positive_or_none

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def quotes_frame(label: str, quotes: list[Quote], sequence_num: int | None = None) -> DecodedFrame:
    """A CONTROL outcome carrying the quotes a top-of-book frame held (maybe none: a quote
    frame with an odd value is still a control frame, never a reject)."""
    return DecodedFrame(FrameKind.CONTROL, label=label, sequence_num=sequence_num, quotes=quotes)


def quote_of(item: Any, symbol_key: str, bid_key: str, ask_key: str) -> Quote | None:
    """The quote in one top-of-book object (prices as decimal text or JSON numbers), or None
    when a value is missing or not a positive finite number, or the book is crossed."""
    if not isinstance(item, dict):
        return None
    symbol = item.get(symbol_key)
    bid, ask = positive_or_none(item.get(bid_key)), positive_or_none(item.get(ask_key))
    if not isinstance(symbol, str) or not symbol or bid is None or ask is None or bid > ask:
        return None
    return Quote(symbol, bid, ask)


def quotes_in(items: Any, symbol_key: str, bid_key: str, ask_key: str) -> list[Quote]:
    """The good quotes of a list of top-of-book objects (anything else gives none)."""
    if not isinstance(items, list):
        return []
    found = (quote_of(item, symbol_key, bid_key, ask_key) for item in items)
    return [quote for quote in found if quote is not None]


def tick_of(
    record: NativeRecord, symbol_key: str, size_key: str, taker_side: str, trade_ts_us: int
) -> TradeTick:
    """A venue's native record as the live feed shows it (``trade_id`` and ``price`` are named
    so on every venue; the caller says which keys hold the rest and reads the side and time
    by its venue's conventions)."""
    return TradeTick(
        record[symbol_key],
        str(record["trade_id"]),
        float(record["price"]),
        float(record[size_key]),
        taker_side,
        trade_ts_us,
    )


def iso_to_micros(text: str) -> int:
    """An ISO 8601 UTC time with a zone (``...Z`` or ``+00:00``), any fraction digits, as
    epoch microseconds (digits past the sixth are cut, not rounded)."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - _EPOCH) // timedelta(microseconds=1)
