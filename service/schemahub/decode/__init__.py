"""Pure frame decoders, one module per venue, found by name through :func:`decoder_for`.

Each venue module has ``VENUE``, ``RAW_TABLE``, ``NATIVE_SCHEMA``, ``decode_frame(frame,
keep_payload=True)`` and ``decode_rest_trades(body, symbol, keep_payload=True)``; see
:mod:`schemahub.decode.base` for what they return.
"""

from __future__ import annotations

import importlib
from typing import cast

from schemahub.decode.base import DecodedFrame, FrameKind, NativeRecord, Reject, VenueDecoder
from schemahub.errors import UsageError

VENUES: tuple[str, ...] = ("binance", "coinbase", "kraken")

__all__ = [
    "VENUES",
    "DecodedFrame",
    "FrameKind",
    "NativeRecord",
    "Reject",
    "VenueDecoder",
    "decoder_for",
]


def decoder_for(venue: str) -> VenueDecoder:
    """The decoder module of ``venue``; raises :class:`UsageError` naming the valid venues."""
    if venue not in VENUES:
        raise UsageError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")
    return cast(VenueDecoder, importlib.import_module(f"schemahub.decode.{venue}"))
