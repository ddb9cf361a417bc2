"""Pure frame decoders, one module per venue, found by name through :func:`decoder_for`
(which reads the venue registry, :mod:`schemahub.registry`).

Each venue module has ``VENUE``, ``RAW_TABLE``, ``NATIVE_SCHEMA``, ``decode_frame(frame,
keep_payload=True)`` and ``decode_rest_trades(body, symbol, keep_payload=True)``; see
:mod:`schemahub.decode.base` for what they return.
"""

from __future__ import annotations

from schemahub.decode.base import DecodedFrame, FrameKind, NativeRecord, Reject, VenueDecoder
from schemahub.registry import BUILTIN_NAMES, venue

VENUES: tuple[str, ...] = BUILTIN_NAMES  # the product venues

__all__ = [
    "VENUES",
    "DecodedFrame",
    "FrameKind",
    "NativeRecord",
    "Reject",
    "VenueDecoder",
    "decoder_for",
]


def decoder_for(name: str) -> VenueDecoder:
    """The decoder module of venue ``name``; raises :class:`UsageError` naming the valid venues."""
    return venue(name).decoder()
