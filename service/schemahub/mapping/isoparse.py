"""The native (C) path of the ``iso8601`` transform: one pass from text to UTC microseconds.

``_iso.parse`` reads an Arrow string column's validity, offsets and data buffers in place (no
Python object per row) and writes an int64 buffer plus a bitmap of refused rows, which are wrapped
here without a copy. It accepts and refuses exactly what the Arrow path of the transform does
(a regex, a truncating replace, Arrow's cast, a year 1..9999 check); see ``_iso.c`` for the
grammar and tests/mapping/test_iso_native.py for the proof.

The extension is optional at build time; :data:`AVAILABLE` says whether it was built. Without it
the transform keeps its Arrow path (same answers, slower).
"""

from __future__ import annotations

import pyarrow as pa

from schemahub.errors import UsageError
from schemahub.mapping.kernels import TS_US
from schemahub.native import native_enabled

try:
    from schemahub.mapping import _iso
except ImportError:  # built without a C compiler: the transform keeps its Arrow path
    _iso = None
if not native_enabled():  # SCHEMAHUB_NATIVE=0: run as an install without a compiler
    _iso = None

AVAILABLE = _iso is not None


def parse_iso8601_us(
    values: pa.StringArray | pa.LargeStringArray,
) -> tuple[pa.TimestampArray, pa.BooleanArray | None]:
    """ISO 8601 texts with seconds and a zone -> (timestamp[us, UTC], refused mask or None).

    Nulls stay null and are not refused. A refused text comes out null with its mask bit set;
    the mask is None when no text was refused. Raises :class:`UsageError` when the extension is
    not built, ``values`` is not a string array, or its buffers are inconsistent.
    """
    if _iso is None:
        raise UsageError("the native ISO 8601 parser is not built; use the Arrow path")
    large = pa.types.is_large_string(values.type)
    if not (large or pa.types.is_string(values.type)):
        raise UsageError(f"parse_iso8601_us takes string or large_string, not {values.type}")
    length = len(values)
    validity, offsets, data = values.buffers()
    try:
        out, valid, nulls, refused = _iso.parse(
            length, values.offset, validity, offsets, data, large
        )
    except ValueError as exc:  # only for a broken array: Arrow validates what it builds
        raise UsageError(f"a {values.type} array with broken buffers: {exc}") from exc
    parsed = pa.Array.from_buffers(
        TS_US, length, [None if valid is None else pa.py_buffer(valid), pa.py_buffer(out)], nulls
    )
    if refused is None:
        return parsed, None
    mask = pa.Array.from_buffers(pa.bool_(), length, [None, pa.py_buffer(refused)], 0)
    return parsed, mask
