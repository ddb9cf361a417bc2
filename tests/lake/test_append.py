"""lake.append: the pyiceberg internals it leans on, and that it lands what pyiceberg lands."""

import inspect
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.io import pyarrow as iceberg_arrow
from pyiceberg.partitioning import PartitionKey
from pyiceberg.table import Transaction, WriteTask
from pyiceberg.table.update import update_table_metadata

from schemahub.config import LakeConfig
from schemahub.lake import QUARANTINE_TABLE, UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.lake.append import LeanTransaction, append_table, single_partition_key
from schemahub.lake.schemas import UNIFIED_SCHEMA

DAY = datetime(2026, 3, 4, tzinfo=UTC)


def rows(ids, *, spread: timedelta) -> pa.Table:
    """Unified rows whose trade times are spread evenly over ``spread`` from DAY 00:00."""
    step = spread / max(1, len(ids) - 1)
    return pa.Table.from_pylist(
        [
            {
                "exchange": "kraken",
                "symbol": f"S{i % 3}",
                "trade_id": i,
                "side": "BUY" if i % 2 else "SELL",
                "price": 10.0 + i / 7,
                "quantity": 0.25 * (i % 5 + 1),
                "trade_ts": DAY + step * n,
                "ingest_ts": DAY + timedelta(days=1),
            }
            for n, i in enumerate(ids)
        ],
        schema=UNIFIED_SCHEMA,
    )


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_pyiceberg_internals_used_keep_their_shape():
    # If one of these fails after a pyiceberg upgrade, revisit schemahub/lake/append.py.
    assert parameters(iceberg_arrow.write_file) == ["io", "table_metadata", "tasks"]
    assert parameters(iceberg_arrow.bin_pack_arrow_table) == ["tbl", "target_file_size"]
    assert parameters(iceberg_arrow._dataframe_to_data_files)[:4] == [
        "table_metadata",
        "df",
        "io",
        "write_uuid",
    ]
    assert {"provided_schema", "downcast_ns_timestamp_to_us", "format_version"} <= set(
        parameters(iceberg_arrow._check_pyarrow_schema_compatible)
    )
    assert {"name_mapping", "downcast_ns_timestamp_to_us", "format_version"} <= set(
        parameters(iceberg_arrow.pyarrow_to_schema)
    )
    assert {"write_uuid", "task_id", "schema", "record_batches", "partition_key"} <= {
        f.name for f in fields(WriteTask)
    }
    assert {"field_values", "partition_spec", "schema"} <= {f.name for f in fields(PartitionKey)}
    assert parameters(update_table_metadata)[:2] == ["base_metadata", "updates"]
    assert parameters(Transaction._append_snapshot_producer)[:2] == ["self", "snapshot_properties"]
    assert isinstance(inspect.getattr_static(Transaction, "table_metadata"), property)


def other_lake(tmp_path) -> Lake:
    lake = Lake(LakeConfig(warehouse=str(tmp_path / "reference")))
    lake.init()
    return lake


def data_file_facts(table) -> list[tuple]:
    facts = []
    for task in table.scan().plan_files():
        f = task.file
        facts.append(
            (
                tuple(f.partition),
                f.record_count,
                dict(f.null_value_counts),
                dict(f.lower_bounds),
                dict(f.upper_bounds),
                dict(f.value_counts),
            )
        )
    return sorted(facts, key=repr)


@pytest.mark.parametrize(
    ("spread", "one_partition"),
    [(timedelta(hours=23), True), (timedelta(hours=50), False)],
    ids=["one-day", "three-days"],
)
def test_append_lands_what_pyiceberg_append_lands(lake, tmp_path, spread, one_partition):
    data = rows(range(1, 301), spread=spread)
    ours, reference = lake.table(UNIFIED_TABLE), other_lake(tmp_path).table(UNIFIED_TABLE)
    assert (single_partition_key(ours.metadata, data) is not None) is one_partition

    append_table(ours, data, {"schemahub.test": "x"})
    with reference.transaction() as txn:
        txn.append(data, snapshot_properties={"schemahub.test": "x"})

    ours, reference = lake.table(UNIFIED_TABLE), reference.refresh()
    assert (
        ours.scan()
        .to_arrow()
        .sort_by("trade_id")
        .equals(reference.scan().to_arrow().sort_by("trade_id"))
    )
    assert data_file_facts(ours) == data_file_facts(reference)
    assert len(data_file_facts(ours)) == (1 if one_partition else 3)
    summary = ours.current_snapshot().summary
    assert summary["schemahub.test"] == "x"
    assert summary["added-records"] == "300"


def test_single_partition_key_is_the_day_of_the_rows(lake):
    table = lake.table(UNIFIED_TABLE)
    key = single_partition_key(table.metadata, rows([1, 2], spread=timedelta(hours=1)))
    assert key is not None
    assert key.partition[0] == (DAY.date() - datetime(1970, 1, 1).date()).days
    assert single_partition_key(table.metadata, rows([], spread=timedelta(0))) is None
    unpartitioned = lake.table(WATERMARKS_TABLE)
    assert unpartitioned.metadata.spec().is_unpartitioned()
    assert single_partition_key(unpartitioned.metadata, rows([1], spread=timedelta(0))) is None


def test_partition_column_with_nulls_takes_pyiceberg_path(lake):
    table = lake.table(QUARANTINE_TABLE)
    schema = table.schema().as_arrow()
    data = pa.Table.from_pylist(
        [{"exchange": "kraken", "source": "s", "reason": "r", "quarantined_at": None}],
        schema=schema.set(4, schema.field(4).with_nullable(True)),
    )
    assert single_partition_key(table.metadata, data) is None


def test_lean_transaction_builds_its_metadata_once_per_staged_state(lake):
    table = lake.table(UNIFIED_TABLE)
    txn = LeanTransaction(table)
    assert txn.table_metadata is table.metadata  # nothing staged: nothing to copy
    txn.set_properties({"schemahub.note": "1"})
    first = txn.table_metadata
    assert first is txn.table_metadata
    replayed = update_table_metadata(table.metadata, txn._updates)
    stamp = {"last_updated_ms": 0}  # each replay stamps the time it ran
    assert first.model_copy(update=stamp) == replayed.model_copy(update=stamp)
    assert first.properties["schemahub.note"] == "1"
    txn.set_properties({"schemahub.note": "2"})
    assert txn.table_metadata.properties["schemahub.note"] == "2"
    assert "schemahub.note" not in table.metadata.properties  # the table's own is untouched


def test_many_appends_in_a_row_keep_every_row_and_snapshot(lake):
    table = lake.table(UNIFIED_TABLE)
    for n in range(5):
        append_table(table, rows(range(n * 10, n * 10 + 10), spread=timedelta(hours=1)), {})
    fresh = lake.table(UNIFIED_TABLE)
    assert sorted(fresh.scan().to_arrow()["trade_id"].to_pylist()) == list(range(50))
    assert len(fresh.metadata.snapshots) == 5


def test_duckdb_reads_a_single_partition_append(lake, duckdb_con):
    table = lake.table(UNIFIED_TABLE)
    data = rows(range(1, 51), spread=timedelta(hours=5))
    append_table(table, data, {})
    location = lake.table(UNIFIED_TABLE).metadata_location
    got = duckdb_con.execute(
        f"SELECT trade_id, price, trade_ts FROM iceberg_scan('{location}') ORDER BY trade_id"
    ).fetchall()
    assert [(r[0], r[1]) for r in got] == list(
        zip(data["trade_id"].to_pylist(), data["price"].to_pylist(), strict=True)
    )
    assert [r[2] for r in got] == data["trade_ts"].to_pylist()


def test_written_files_keep_dictionaries_small(lake):
    table = lake.table(UNIFIED_TABLE)
    data = rows(range(60_000), spread=timedelta(hours=1))
    scrambled = [(i * 2_654_435_761 % 4_294_967_291) / 1_000_003 for i in range(60_000)]
    price_field = data.schema.field("price")
    append_table(table, data.set_column(4, price_field, pa.array(scrambled)), {})
    (task,) = lake.table(UNIFIED_TABLE).scan().plan_files()
    meta = pq.read_metadata(task.file.file_path.removeprefix("file://"))
    price = meta.row_group(0).column(data.schema.get_field_index("price"))
    # 60,000 distinct prices would make a 480 KB dictionary. Past the table's 32 KiB limit the
    # writer stops it at the end of the batch it is in (pyiceberg writes 20,000 values at a time:
    # 160 KB) and writes plain pages from there.
    assert price.has_dictionary_page
    assert price.data_page_offset - price.dictionary_page_offset <= 20_000 * 8 + 1_000
