"""Column-level helpers of the raw buffers: python values -> compact Arrow, and back to plain.

Pending rows are converted column by column with Arrow's own strict conversion (a str where an
int belongs fails), so appends never check values one by one. When a column fails, or a
required column holds nulls, the offending rows are found here and reported, so that one bad
record is quarantined instead of poisoning its whole chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from schemahub.arrowutil import repeats_a_lot

# What pa.array raises on a value that does not fit the column's type.
CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)

_INDEX_TYPES = (pa.int8(), pa.int16(), pa.int32(), pa.int64())


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One native column of a raw table."""

    name: str
    type: pa.DataType
    nullable: bool

    @classmethod
    def of(cls, field: pa.Field) -> ColumnSpec:
        """The spec of a schema field."""
        return cls(field.name, field.type, field.nullable)


def convert(spec: ColumnSpec, values: Sequence[object], bad: dict[int, str]) -> pa.Array | None:
    """``values`` as an Arrow array of the column's type, or None when some do not fit.

    Rows that cannot land (wrong type, null in a required column) are added to ``bad`` with
    the reason; the caller drops them and converts again.
    """
    try:
        array = pa.array(values, type=spec.type)
    except CONVERSION_ERRORS:
        bad.update(_misfits(spec, values))
        return None
    if not spec.nullable and array.null_count:
        for i in pc.indices_nonzero(array.is_null()).to_pylist():
            bad[i] = f"column {spec.name} is required but missing or null"
    return array


def _misfits(spec: ColumnSpec, values: Sequence[object]) -> dict[int, str]:
    """Row by row (slow, only after a failed conversion): which values do not fit, and why."""
    found: dict[int, str] = {}
    for i, value in enumerate(values):
        if value is None:
            if not spec.nullable:
                found[i] = f"column {spec.name} is required but missing or null"
            continue
        try:
            pa.array([value], type=spec.type)
        except CONVERSION_ERRORS:
            found[i] = (
                f"column {spec.name} expects {spec.type}, got {type(value).__name__} {value!r:.60}"
            )
    return found


def compact(array: pa.Array) -> pa.Array:
    """A smaller equivalent of a string array: dictionary-encoded when values repeat a lot
    (one already encoded gets the narrowest indices)."""
    if isinstance(array, pa.DictionaryArray):
        return narrow(array)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    if not repeats_a_lot(array):
        return array
    encoded = narrow(array.dictionary_encode())
    return encoded if encoded.get_total_buffer_size() < array.get_total_buffer_size() else array


def narrow(array: pa.DictionaryArray) -> pa.DictionaryArray:
    """The same dictionary array with the smallest index type that holds its dictionary."""
    return _with_index_type(array, index_type_for(len(array.dictionary)))


def index_type_for(entries: int) -> pa.DataType:
    """The narrowest signed index type for a dictionary of ``entries`` values (Arrow refuses
    a dictionary longer than the index type's maximum, so int8 holds up to 127)."""
    for index_type in _INDEX_TYPES:
        if entries <= _largest(index_type):
            return index_type
    raise OverflowError(f"a dictionary of {entries} values has no index type")


def concat(parts: list[pa.Array]) -> pa.Array:
    """The parts of one column as one array; dictionary-encoded parts stay encoded (their
    dictionaries are unified, into a wider index type when the union needs one) unless some
    part is plain."""
    if len(parts) == 1:
        return parts[0]
    encoded = [isinstance(p, pa.DictionaryArray) for p in parts]
    if any(encoded) and not all(encoded):
        parts = [p.dictionary_decode() if e else p for p, e in zip(parts, encoded, strict=True)]
    elif all(encoded):
        index_type = common_index_type(parts)
        parts = [_with_index_type(p, index_type) for p in parts]
    return pa.concat_arrays(parts)


def common_index_type(parts: Sequence[pa.DictionaryArray]) -> pa.DataType:
    """An index type that every part's indices fit and that counts the union of their
    dictionaries: the widest one in use unless the union may outgrow it. Past that cheap bound
    (the dictionaries' lengths added up) the union is counted, on the dictionaries only."""
    widest = max((p.indices.type for p in parts), key=lambda t: t.bit_width)
    if sum(len(p.dictionary) for p in parts) <= _largest(widest):
        return widest
    union = pc.count_distinct(pa.concat_arrays([p.dictionary for p in parts]), mode="all")
    needed = index_type_for(union.as_py())
    return needed if needed.bit_width > widest.bit_width else widest


def _largest(index_type: pa.DataType) -> int:
    return 2 ** (index_type.bit_width - 1) - 1


def _with_index_type(array: pa.DictionaryArray, index_type: pa.DataType) -> pa.DictionaryArray:
    if array.indices.type == index_type:
        return array
    return pa.DictionaryArray.from_arrays(array.indices.cast(index_type), array.dictionary)


def plain(array: pa.Array, type_: pa.DataType) -> pa.Array:
    """Undo :func:`compact`: the array with exactly the column's type."""
    if isinstance(array, pa.DictionaryArray):
        return array.dictionary_decode()
    return array if array.type == type_ else array.cast(type_)


def repeat_runs(run_ends: list[int], values: pa.Array) -> pa.Array:
    """``values[i]`` repeated up to row ``run_ends[i]`` (exclusive ends, ascending)."""
    ends = pa.array(run_ends, type=pa.int32())
    return pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, values))
