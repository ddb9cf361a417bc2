"""The native (C) columnar decode path of :func:`schemahub.decode.batch.decode_batch`.

``_native.parse`` walks each frame of a burst with a strict grammar of the venue's usual trade
frame (see ``_native.c``) and writes the values straight into column buffers: no Python object
per value. A frame it is not sure about (anything unusual at all) is listed as slow and decoded
here by the venue's ``decode_frame``, so every reject and reason still come from the per-frame
path. Each buffer is a ``bytes`` object the parser sized once from the burst's text, wrote in
place and cut to length; this module wraps them zero-copy into an Arrow table of the venue's
NATIVE_SCHEMA plus ``_frame``, the same rows :func:`schemahub.decode.columnar.decode_columnar`
gives.

The string columns whose values repeat a lot (symbols, sides, order types) come
dictionary-encoded: the parser keeps the call's few distinct values in a small table and
writes an int8 index per row, so nothing downstream hashes those strings again. Such a column
with more distinct values than the table holds comes plain for that call, and a string
constant (Coinbase's ``feed``) comes as a one-entry dictionary. Both forms are accepted
downstream; the msgspec path returns plain columns.

The extension is optional at build time; :data:`AVAILABLE` says whether it was built. Without
it, ``decode_batch`` uses the msgspec path (same answers, slower).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from schemahub.decode.columnar import ColumnarVenue, DecodedBatch, output_schema
from schemahub.errors import UsageError
from schemahub.native import native_enabled

try:
    from schemahub.decode import _native
except ImportError:  # built without a C compiler: decode_batch falls back to msgspec
    _native = None
if not native_enabled():  # SCHEMAHUB_NATIVE=0: run as an install without a compiler
    _native = None

AVAILABLE = _native is not None
# Distinct values a dictionary-encoded column takes in one call before it comes plain.
DICTIONARY_BOUND: int = _native.DICT_MAX if _native is not None else 0

_ARROW_TYPES = {
    "int64": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each schema column of a venue comes from: a parse() column or a constant."""

    schema: pa.Schema  # output_schema(NATIVE_SCHEMA): the venue's columns plus _frame
    # Per NATIVE_SCHEMA column: ("parsed", position in parse()'s columns) or ("constant", value).
    sources: tuple[tuple[str, Any], ...]
    # The table schema per combination of encoded columns (which may overflow per call).
    schemas: dict[tuple[bool, ...], pa.Schema]


_LAYOUTS: dict[str, _Layout] = {}  # filled once per venue; the same answer every time


def decode_native(name: str, venue: ColumnarVenue, frames: Sequence[str | bytes]) -> DecodedBatch:
    """Decode ``frames`` of venue ``name`` with the native parser; slow frames per frame.

    Raises :class:`UsageError` when the extension is not built or its columns for ``name`` do
    not match ``venue.schema`` (a stale build); never raises on venue input.
    """
    if _native is None:
        raise UsageError("the native decoder is not built; use decode_columnar (msgspec)")
    layout = _layout(name, venue)
    texts = frames if isinstance(frames, list | tuple) else list(frames)
    rows, columns, frame_ids, per_frame, slow_idx = _native.parse(name, texts)
    arrays = [
        _array(field.type, rows, source, columns)
        for field, source in zip(venue.schema, layout.sources, strict=True)
    ]
    arrays.append(pa.Array.from_buffers(pa.int32(), rows, [None, pa.py_buffer(frame_ids)], 0))
    table = pa.Table.from_arrays(arrays, schema=_schema(layout, arrays))
    slow = {i: venue.decode_frame(texts[i], keep_payload=False) for i in slow_idx}
    sequence_nums = None
    if venue.sequence_num is not None:
        # The spec's one per-frame column is the frame counter; slow frames say their own.
        sequence_nums = per_frame[0]
        for index, decoded in slow.items():
            sequence_nums[index] = decoded.sequence_num
    return DecodedBatch(table, slow, sequence_nums)


def native_columns(name: str) -> tuple[tuple[str, str, bool, bool, bool], ...]:
    """The parser's columns for spec ``name``: (column, type, nullable, one per frame,
    dictionary-encoded)."""
    if _native is None:
        raise UsageError("the native decoder is not built")
    return _native.columns(name)


def first_sizes(name: str, frames: Sequence[str | bytes]) -> tuple[int, int]:
    """What the parser reserves up front for ``frames`` of spec ``name``: (rows, string bytes
    per string column). Rows are a true bound; the text share is an estimate past which the
    buffers grow (tests check both sides)."""
    if _native is None:
        raise UsageError("the native decoder is not built")
    return _native.first_sizes(name, frames if isinstance(frames, list | tuple) else list(frames))


def _array(kind: pa.DataType, rows: int, source: tuple[str, Any], columns: list[Any]) -> pa.Array:
    """One output column: parse()'s buffers wrapped without a copy, or a repeated constant."""
    how, what = source
    if how == "constant":
        return _constant(kind, what, rows)
    nulls, validity, values, chars, entries = columns[what]
    bits = None if validity is None else pa.py_buffer(validity)
    if entries is not None:  # int8 indices into the call's distinct values
        words = pa.Array.from_buffers(
            kind, len(entries) // 4 - 1, [None, pa.py_buffer(entries), pa.py_buffer(chars)], 0
        )
        encoded = pa.dictionary(pa.int8(), kind)
        return pa.DictionaryArray.from_buffers(
            encoded, rows, [bits, pa.py_buffer(values)], words, nulls
        )
    buffers = [bits, pa.py_buffer(values)]
    if chars is not None:
        buffers.append(pa.py_buffer(chars))
    return pa.Array.from_buffers(kind, rows, buffers, nulls)


def _constant(kind: pa.DataType, value: Any, rows: int) -> pa.Array:
    """``value`` on every row; a string as a one-entry dictionary (zeroed int8 indices)."""
    if not pa.types.is_string(kind):
        return pa.repeat(pa.scalar(value, kind), rows)
    indices = pa.py_buffer(bytes(rows))
    encoded = pa.dictionary(pa.int8(), kind)
    return pa.DictionaryArray.from_buffers(
        encoded, rows, [None, indices], pa.array([value], kind), 0
    )


def _schema(layout: _Layout, arrays: list[pa.Array]) -> pa.Schema:
    """The table schema of ``arrays``: the layout's, with the encoded columns' types."""
    key = tuple(isinstance(array, pa.DictionaryArray) for array in arrays)
    schema = layout.schemas.get(key)
    if schema is None:
        fields = [f.with_type(a.type) for f, a in zip(layout.schema, arrays, strict=True)]
        schema = layout.schemas[key] = pa.schema(fields, layout.schema.metadata)
    return schema


def _layout(name: str, venue: ColumnarVenue) -> _Layout:
    layout = _LAYOUTS.get(name)
    if layout is None:
        layout = _LAYOUTS[name] = _build_layout(name, venue)
    return layout


def _build_layout(name: str, venue: ColumnarVenue) -> _Layout:
    """Match the parser's columns to the venue's schema, by name, type and nullability."""
    parsed = {
        column: (i, kind, nullable)
        for i, (column, kind, nullable, *_) in enumerate(native_columns(name))
    }
    constants = dict(venue.constants)
    sources: list[tuple[str, Any]] = []
    for field in venue.schema:
        if field.name in constants:
            sources.append(("constant", constants[field.name]))
            continue
        position, kind, nullable = parsed.pop(field.name, (None, None, None))
        if position is None or _ARROW_TYPES[kind] != field.type or nullable != field.nullable:
            raise UsageError(
                f"native {name} column {field.name!r} is {kind} (nullable {nullable}); expected"
                f" {field.type} (nullable {field.nullable}): rebuild with pip install -e ."
            )
        sources.append(("parsed", position))
    if parsed:
        raise UsageError(f"native {name} columns {sorted(parsed)} are not in the venue's schema")
    return _Layout(output_schema(venue.schema), tuple(sources), {})
