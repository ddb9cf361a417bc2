"""Arrow schemas of the tables SchemaHub writes.

Arrow is the lingua franca between modules: decoders fill raw-table columns, mappings produce
``UNIFIED_SCHEMA`` rows, and the lake converts to Iceberg schemas when it creates tables.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

# Appended to every raw table: where a row came from and its original text.
RAW_METADATA_FIELDS: tuple[pa.Field, ...] = (
    pa.field("_source", pa.string(), nullable=False),
    pa.field("_source_ingest_ts", TS, nullable=False),
    pa.field("_raw_payload", pa.string(), nullable=True),
)

# The seed's unified schema, in the seed's order. ``side`` is the TAKER side, BUY or SELL.
UNIFIED_SCHEMA = pa.schema(
    [
        pa.field("exchange", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("trade_id", pa.int64(), nullable=False),
        pa.field("side", pa.string(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("quantity", pa.float64(), nullable=False),
        pa.field("trade_ts", TS, nullable=False),
        pa.field("ingest_ts", TS, nullable=False),
    ]
)
UNIFIED_KEY = ("exchange", "symbol", "trade_id")

# Optional enrichment columns a mapping may add after the seed columns; `tables init` evolves
# trades_unified to hold the ones the mappings use.
ENRICHMENT_FIELDS: dict[str, pa.Field] = {
    f.name: f
    for f in (
        pa.field("base_asset", pa.string(), nullable=True),
        pa.field("quote_asset", pa.string(), nullable=True),
    )
}

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("exchange", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_payload", pa.string(), nullable=True),
        pa.field("quarantined_at", TS, nullable=False),
    ]
)


def raw_table_schema(native: pa.Schema) -> pa.Schema:
    """A venue's raw table schema: its native columns plus the metadata columns."""
    return pa.schema([*native, *RAW_METADATA_FIELDS])


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with each dictionary-encoded field given its value type: the table schema a
    batch with dictionary columns (a drained raw buffer) is rows of."""
    fields = [
        f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema
    ]
    return pa.schema(fields, schema.metadata)


def decoded(data: pa.Table, names: Collection[str] | None = None) -> pa.Table:
    """``data`` with its dictionary columns (those of ``names`` only, when given) decoded to
    their value types."""
    wanted = [
        pa.types.is_dictionary(f.type) and (names is None or f.name in names) for f in data.schema
    ]
    if not any(wanted):
        return data
    columns, fields = [], []
    for column, field, decode in zip(data.columns, data.schema, wanted, strict=True):
        columns.append(column.cast(field.type.value_type) if decode else column)
        fields.append(field.with_type(field.type.value_type) if decode else field)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, data.schema.metadata))


def concat_alike(tables: Sequence[pa.Table]) -> pa.Table:
    """``tables`` (the same columns, each maybe dictionary-encoded or not, with any index
    type) as one table: a column encoded in all of them with different index types takes the
    widest (each table keeps its own dictionary, so no union is needed); a column encoded in
    some and plain in others is decoded in all of them."""
    first = tables[0].schema
    differing = {
        f.name for t in tables[1:] for f in t.schema if not f.type.equals(first.field(f.name).type)
    }
    if not differing:
        return pa.concat_tables(tables)
    types = {name: _common_type([t.schema.field(name).type for t in tables]) for name in differing}
    return pa.concat_tables([_with_types(t, types) for t in tables])


def _common_type(types: Sequence[pa.DataType]) -> pa.DataType:
    """The widest dictionary type when every one is a dictionary of the same values, else the
    plain value type."""
    values = {t.value_type if pa.types.is_dictionary(t) else t for t in types}
    if len(values) == 1 and all(pa.types.is_dictionary(t) for t in types):
        widest = max((t.index_type for t in types), key=lambda t: t.bit_width)
        return pa.dictionary(widest, values.pop())
    return types[0].value_type if pa.types.is_dictionary(types[0]) else types[0]


def _with_types(data: pa.Table, types: dict[str, pa.DataType]) -> pa.Table:
    columns, fields = [], []
    for column, field in zip(data.columns, data.schema, strict=True):
        wanted = types.get(field.name, field.type)
        columns.append(column if column.type.equals(wanted) else column.cast(wanted))
        fields.append(field.with_type(wanted))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, data.schema.metadata))
