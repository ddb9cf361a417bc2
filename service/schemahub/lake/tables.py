"""The tables of the design, created and evolved idempotently (``schemahub tables init``)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.table import Table, Transaction
from pyiceberg.transforms import DayTransform, IdentityTransform
from sqlalchemy.exc import IntegrityError

from schemahub.decode import binance, coinbase, kraken
from schemahub.errors import LakeError
from schemahub.lake.schemas import (
    QUARANTINE_SCHEMA,
    TS,
    UNIFIED_KEY,
    UNIFIED_SCHEMA,
    raw_table_schema,
)

UNIFIED_TABLE = "trades_unified"
WATERMARKS_TABLE = "schemahub_watermarks"
QUARANTINE_TABLE = "quarantine"
RAW_TABLES = {m.VENUE: m.RAW_TABLE for m in (binance, coinbase, kraken)}
RAW_TABLE_VENUES = {table: venue for venue, table in RAW_TABLES.items()}


def raw_schemas() -> dict[str, pa.Schema]:
    """Each raw table's Arrow schema, by table name (what the mappings compile against)."""
    return {m.RAW_TABLE: raw_table_schema(m.NATIVE_SCHEMA) for m in (binance, coinbase, kraken)}


# Streaming writers commit often: keep the number of metadata files bounded.
_COMMON_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    # A column whose dictionary outgrows this falls back to plain encoding early: ids, prices and
    # timestamps are near-unique, and dictionary-encoding them first cost ~30% of the Parquet
    # CPU and made files ~25% bigger (bench/commit_cost.py); symbols and sides still fit.
    "write.parquet.dict-size-bytes": "32768",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    # Each append adds a manifest; unmerged, every commit rewrites a manifest list naming all
    # of them (+0.05 ms per manifest: 66 ms for a 100-row commit at 1,000 appends, even with
    # old snapshots expired, 22 ms merged; bench/retention_cost.py). Merging keeps it bounded.
    "commit.manifest-merge.enabled": "true",
}
TARGET_FILE_BYTES = 128 * 1024 * 1024  # what compaction writes (lake/compaction.py)
ROW_GROUP_ROWS = 131_072

# Raw tables are archives, read by ingest time (their partition), stream and trade id. Bounds
# on their other columns (prices, sizes, sides, the venue's own time text, the source) prune
# nothing, since every file holds every symbol's prices, yet computing them took ~12 % of a
# raw file's Parquet CPU, and they fill the manifests. Those columns keep no metrics.
_RAW_BOUNDED_COLUMNS = frozenset(
    {
        "symbol",
        "product_id",
        "trade_id",
        "trade_time",
        "event_time",
        "sequence_num",
        "_source_ingest_ts",
    }
)


def _raw_metrics(schema: pa.Schema) -> dict[str, str]:
    return {
        f"write.metadata.metrics.column.{f.name}": "none"
        for f in schema
        if f.name not in _RAW_BOUNDED_COLUMNS
    }


# pyiceberg would otherwise rebase a conflicting append onto the new head on its own, without
# letting us drop the keys the other writer just committed: that could double trades. Our
# writer (lake.writer.commit_append) retries instead, re-checking the keys each time.
_WRITER_RETRIES_ITSELF = {"commit.retry.num-retries": "0"}

WATERMARKS_SCHEMA = pa.schema(
    [
        pa.field("exchange", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("high_water", pa.int64(), nullable=True),
        pa.field("open_gaps", pa.int64(), nullable=False),
        pa.field("missing_ids", pa.int64(), nullable=False),
        pa.field("lost_ids", pa.int64(), nullable=False),
        pa.field("gaps", pa.string(), nullable=True),  # JSON [[first, last], ...]
        pa.field("updated_at", TS, nullable=False),
    ]
)


@dataclass(frozen=True)
class TableDef:
    """What one table should look like."""

    name: str
    schema: pa.Schema
    day_partition_on: str | None = None
    identifier: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)
    # The order compaction sorts a partition's rows in (readers then prune by symbol and time).
    sort_on: tuple[str, ...] = ()


class TableChange(enum.Enum):
    """What ``init_tables`` did to a table."""

    CREATED = "created"
    EVOLVED = "evolved"
    UNCHANGED = "unchanged"


# Each raw table's symbol column and venue time, in that order: its compaction sort order.
_RAW_SORT = {
    binance.RAW_TABLE: ("symbol", "trade_time"),
    coinbase.RAW_TABLE: ("product_id", "time"),
    kraken.RAW_TABLE: ("symbol", "timestamp"),
}


def table_defs(
    unified_extra: Sequence[pa.Field] = (), target_file_bytes: int = TARGET_FILE_BYTES
) -> list[TableDef]:
    """Every table of the design; ``unified_extra`` are enrichment columns from the mappings,
    ``target_file_bytes`` the data file size compaction aims at."""
    size = {
        "write.target-file-size-bytes": str(target_file_bytes),
        # Row groups of a compacted file are its unit of pruning: at 128 Ki rows a day of a
        # busy table is dozens of row groups, each spanning few symbols, so a reader of one
        # symbol skips most of them by their min/max. (A flush's file is one row group anyway.)
        "write.parquet.row-group-limit": str(ROW_GROUP_ROWS),
    }
    raw = [
        TableDef(
            m.RAW_TABLE,
            schema,
            "_source_ingest_ts",
            properties={**_raw_metrics(schema), **size},
            sort_on=_RAW_SORT[m.RAW_TABLE],
        )
        for m in (binance, coinbase, kraken)
        for schema in [raw_table_schema(m.NATIVE_SCHEMA)]
    ]
    unified = TableDef(
        UNIFIED_TABLE,
        pa.schema([*UNIFIED_SCHEMA, *unified_extra]),
        "trade_ts",
        identifier=UNIFIED_KEY,
        properties={**_WRITER_RETRIES_ITSELF, **size},
        sort_on=("symbol", "trade_ts"),
    )
    return [
        *raw,
        unified,
        TableDef(WATERMARKS_TABLE, WATERMARKS_SCHEMA),
        TableDef(QUARANTINE_TABLE, QUARANTINE_SCHEMA, "quarantined_at"),
    ]


def init_tables(
    catalog: Catalog, namespace: str, defs: Iterable[TableDef]
) -> dict[str, TableChange]:
    """Create the namespace and each missing table; add new columns to existing ones.

    Idempotent: a second run reports every table UNCHANGED and writes nothing. Adding a column
    is a metadata-only change; no data file is rewritten.
    """
    _ensure_namespace(catalog, namespace)
    return {d.name: _ensure_table(catalog, namespace, d) for d in defs}


def _ensure_namespace(catalog: Catalog, namespace: str) -> None:
    try:
        catalog.create_namespace_if_not_exists(namespace)
    except IntegrityError:
        # Replicas starting together: the SQL catalog reports losing the race to create the
        # namespace as a duplicate row rather than as "already exists".
        if not catalog.namespace_exists(namespace):
            raise


def open_table(catalog: Catalog, namespace: str, name: str) -> Table:
    """Load a table, or raise a :class:`LakeError` that says how to create it."""
    try:
        return catalog.load_table((namespace, name))
    except NoSuchTableError:
        raise LakeError(
            f"table {namespace}.{name} does not exist; run `schemahub tables init` first"
        ) from None


def _ensure_table(catalog: Catalog, namespace: str, spec: TableDef) -> TableChange:
    identifier = (namespace, spec.name)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            _create_table(catalog, identifier, spec)
            return TableChange.CREATED
        except (TableAlreadyExistsError, CommitFailedException):
            # Another process created it meanwhile (replicas starting together): a create
            # transaction that loses that race fails its assert-create as a commit failure.
            table = catalog.load_table(identifier)
    return _evolve_table(table, spec)


def _create_table(catalog: Catalog, identifier: tuple[str, str], spec: TableDef) -> None:
    with catalog.create_table_transaction(
        identifier, schema=spec.schema, properties={**_COMMON_PROPERTIES, **spec.properties}
    ) as txn:
        if spec.day_partition_on:
            with txn.update_spec() as update:
                update.add_field(
                    spec.day_partition_on, DayTransform(), f"{spec.day_partition_on}_day"
                )
        if spec.identifier:
            with txn.update_schema() as update:
                update.set_identifier_fields(*spec.identifier)
        if spec.sort_on:
            _set_sort_order(txn, spec.sort_on)


def _set_sort_order(txn: Transaction, columns: Sequence[str]) -> None:
    with txn.update_sort_order() as update:
        for column in columns:
            update.asc(column, IdentityTransform())


def _sort_columns(table: Table) -> tuple[str, ...]:
    schema = table.schema()
    return tuple(schema.find_column_name(f.source_id) or "" for f in table.sort_order().fields)


def _evolve_table(table: Table, spec: TableDef) -> TableChange:
    current = {f.name for f in table.schema().fields}
    missing = [f for f in spec.schema if f.name not in current]
    wanted = {**_COMMON_PROPERTIES, **spec.properties}
    stale = {k: v for k, v in wanted.items() if table.properties.get(k) != v}
    stale.pop("format-version", None)  # upgrading the format is an explicit, separate decision
    resort = bool(spec.sort_on) and _sort_columns(table) != tuple(spec.sort_on)
    if not missing and not stale and not resort:
        return TableChange.UNCHANGED
    try:
        with table.transaction() as txn:
            if missing:
                with txn.update_schema() as update:
                    # Rows written before the column existed have no value: it must be optional.
                    update.union_by_name(pa.schema([f.with_nullable(True) for f in missing]))
            if stale:
                txn.set_properties(stale)
            if resort:
                _set_sort_order(txn, spec.sort_on)
    except ValueError as exc:
        raise LakeError(f"cannot evolve {'.'.join(table.name())}: {exc}") from exc
    return TableChange.EVOLVED
