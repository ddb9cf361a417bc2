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
    type) as one table: a column typed differently across them is decoded in all of them."""
    first = tables[0].schema
    differing = {
        f.name for t in tables[1:] for f in t.schema if not f.type.equals(first.field(f.name).type)
    }
    return pa.concat_tables([decoded(t, differing) for t in tables] if differing else tables)
