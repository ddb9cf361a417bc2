"""One trade grammar per venue: the Python description, and the checks that hold the fast
paths to it.

A venue's usual trade frame is described once, in Python: the columns of its decoder's
``NATIVE_SCHEMA`` (names, Arrow types, nullability, order), plus, in its registry entry
(:mod:`schemahub.registry`), the columns the native parser dictionary-encodes, and in its
:class:`~schemahub.decode.columnar.ColumnarVenue` the constant columns and the frame counter.
The two fast paths restate that grammar in their own terms: the spec tables in ``_native.c``
and the msgspec trade struct. :func:`native_drift` and :func:`columnar_drift` compare them to
the description field by field, so a drift fails loudly (the native path checks itself the
first time a venue uses it; ``tests/decode/test_grammar.py`` checks both for every venue).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pyarrow as pa

from schemahub.decode.columnar import ColumnarVenue
from schemahub.errors import UsageError
from schemahub.registry import VenueSpec

# The column the native parser writes once per frame: the venue's frame counter.
SEQUENCE_COLUMN = "sequence_num"
_NATIVE_TYPE_NAMES = {pa.int64(): "int64", pa.float64(): "double", pa.bool_(): "bool"}
_NATIVE_TYPE_NAMES[pa.string()] = "string"
# The msgspec type of a struct field that may give each Arrow type.
_WIRE_TYPES: dict[pa.DataType, tuple[type, ...]] = {
    pa.int64(): (msgspec.inspect.IntType,),
    pa.float64(): (msgspec.inspect.FloatType,),
    pa.bool_(): (msgspec.inspect.BoolType,),
    pa.string(): (msgspec.inspect.StrType, msgspec.inspect.LiteralType),
}

NativeColumn = tuple[str, str, bool, bool, bool]  # what _native.columns gives per column


def expected_native_columns(spec: VenueSpec, columnar: ColumnarVenue) -> list[NativeColumn]:
    """The native parser's columns as the description says they must be, in order:
    (column, type, nullable, one per frame, dictionary-encoded)."""
    constants = dict(columnar.constants)
    per_frame = {SEQUENCE_COLUMN} if columnar.sequence_num is not None else set()
    return [
        (
            field.name,
            _NATIVE_TYPE_NAMES.get(field.type, str(field.type)),
            field.nullable,
            field.name in per_frame,
            field.name in spec.dictionary_columns,
        )
        for field in columnar.schema
        if field.name not in constants
    ]


def native_drift(
    spec: VenueSpec, columnar: ColumnarVenue, actual: Sequence[NativeColumn]
) -> list[str]:
    """Where the native spec's columns ``actual`` differ from the description (empty: none)."""
    expected = expected_native_columns(spec, columnar)
    problems = [
        f"column {i}: native {tuple(got)}, described {want}"
        for i, (got, want) in enumerate(zip(actual, expected, strict=False))
        if tuple(got) != want
    ]
    if len(actual) != len(expected):
        problems.append(f"native has {len(actual)} columns, described {len(expected)}")
    return problems


def columnar_drift(columnar: ColumnarVenue) -> list[str]:
    """Where the msgspec trade struct differs from the description (empty: none)."""
    if columnar.wire is None:
        return ["the columnar spec names no trade struct (wire)"]
    struct, pairs = columnar.wire
    fields = {f.name: f for f in msgspec.inspect.type_info(struct).fields}
    sources = dict(pairs)
    skipped = {name for name, _ in columnar.constants}
    if columnar.sequence_num is not None:
        skipped.add(SEQUENCE_COLUMN)
    problems = [f"struct column {c!r} is not in the schema" for c in sources if c not in
                columnar.schema.names]  # fmt: skip
    for column in columnar.schema:
        if column.name in skipped:
            continue
        wire = fields.get(sources.get(column.name, ""))
        if wire is None:
            problems.append(f"column {column.name!r} has no field in {struct.__name__}")
            continue
        problems.extend(_field_drift(column, wire))
    return problems


def _field_drift(column: pa.Field, wire: msgspec.inspect.Field) -> list[str]:
    """How the struct field ``wire`` fails to give ``column`` (type, nullability)."""
    kinds = wire.type.types if isinstance(wire.type, msgspec.inspect.UnionType) else (wire.type,)
    nullable = any(isinstance(k, msgspec.inspect.NoneType) for k in kinds)
    values = [k for k in kinds if not isinstance(k, msgspec.inspect.NoneType)]
    problems = []
    allowed = _WIRE_TYPES.get(column.type, ())
    if len(values) != 1 or not isinstance(values[0], allowed):
        problems.append(f"column {column.name!r} ({column.type}) is {wire.type} in the struct")
    elif isinstance(values[0], msgspec.inspect.LiteralType) and not all(
        isinstance(v, str) for v in values[0].values
    ):
        problems.append(f"column {column.name!r} is a literal of non-strings in the struct")
    if nullable != column.nullable:
        problems.append(
            f"column {column.name!r} is nullable {column.nullable}, in the struct {nullable}"
        )
    return problems


def check_native(spec: VenueSpec, columnar: ColumnarVenue, actual: Sequence[NativeColumn]) -> None:
    """Raise :class:`UsageError` if the native spec of ``spec`` drifted from its description."""
    problems = native_drift(spec, columnar, actual)
    if problems:
        raise UsageError(
            f"the native {spec.name} trade grammar differs from its description: "
            f"{'; '.join(problems)} (fix _native.c, then rebuild with pip install -e .)"
        )
