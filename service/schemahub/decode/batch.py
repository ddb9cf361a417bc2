"""Decoding many frames of one venue at once, into Arrow columns.

The daemon reads thousands of frames a second; handing each one through Python dicts costs
more than everything after it. :func:`decode_batch` takes the frames a connection received in
one short burst and returns the trades of the usual frames as Arrow columns, validated per
column. Any frame with anything unusual in it (a control frame, a malformed one, one trade
with a bad value) is decoded by the venue's ``decode_frame`` instead and returned whole in
``slow``, so every reject and every reason is exactly what the per-frame path decides.

The columns are parsed by the native extension (:mod:`schemahub.decode.native`) when it was
built, else by msgspec structs (:mod:`schemahub.decode.columnar`); both give the same result.
A venue the registry gives no columnar spec has all its frames decoded one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemahub import registry

# The product venues' grammars are imported now, not by the first burst (which would wait).
from schemahub.decode import batch_venues  # noqa: F401
from schemahub.decode.columnar import FRAME_COLUMN, DecodedBatch, decode_columnar, decode_per_frame
from schemahub.decode.native import AVAILABLE as NATIVE_AVAILABLE
from schemahub.decode.native import decode_native

__all__ = ["FRAME_COLUMN", "NATIVE_AVAILABLE", "DecodedBatch", "decode_batch"]


def decode_batch(venue: str, frames: Sequence[str | bytes], *, native: bool = True) -> DecodedBatch:
    """Decode ``frames`` of ``venue`` together; see the module docstring.

    ``native=False`` forces the msgspec path (the native one is used only where it was built).
    Raises :class:`UsageError` for an unknown venue; never raises on venue input.
    """
    described = registry.venue(venue)
    spec = described.columnar()
    if spec is None:  # a venue without a columnar grammar: every frame takes the slow path
        return decode_per_frame(described.decoder(), frames)
    if native and NATIVE_AVAILABLE and described.native:
        return decode_native(venue, spec, frames)
    return decode_columnar(spec, frames)
