"""lake.append: the pyiceberg internals it leans on, and that it lands what pyiceberg lands."""

import inspect
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyiceberg.io import pyarrow as iceberg_arrow
from pyiceberg.partitioning import PartitionKey
from pyiceberg.schema import sanitize_column_names
from pyiceberg.table import WriteTask
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.update import update_table_metadata

from schemahub.config import LakeConfig
from schemahub.lake import QUARANTINE_TABLE, UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.lake.append import append_table, data_files, single_partition_key
from schemahub.lake.datafiles import file_layout
from schemahub.lake.pyiceberg_private import LeanTransaction, append_producer, committed_metadata
from schemahub.schemas import QUARANTINE_SCHEMA, UNIFIED_SCHEMA, plain_schema

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


def test_the_pyiceberg_functions_used_keep_their_shape():
    # If one of these fails after a pyiceberg upgrade, revisit schemahub/lake/append.py and
    # schemahub/lake/datafiles.py (which writes files as pyiceberg's write_file does). The
    # private names they reach through lake/pyiceberg_private.py are checked in
    # test_pyiceberg_private.py.
    assert parameters(iceberg_arrow.bin_pack_arrow_table) == ["tbl", "target_file_size"]
    assert parameters(iceberg_arrow.compute_statistics_plan) == ["schema", "table_properties"]
    assert parameters(iceberg_arrow.parquet_path_to_id_mapping) == ["schema"]
    assert parameters(iceberg_arrow.data_file_statistics_from_parquet_metadata) == [
        "parquet_metadata",
        "stats_columns",
        "parquet_column_mapping",
    ]
    assert {"include_field_ids"} <= set(parameters(iceberg_arrow.schema_to_pyarrow))
    assert parameters(load_location_provider) == ["table_location", "table_properties"]
    assert parameters(sanitize_column_names) == ["schema"]
    assert {"write_uuid", "task_id", "schema", "record_batches", "partition_key"} <= {
        f.name for f in fields(WriteTask)
    }
    assert parameters(WriteTask.generate_data_file_filename) == ["self", "extension"]
    assert {"field_values", "partition_spec", "schema"} <= {f.name for f in fields(PartitionKey)}
    assert parameters(update_table_metadata)[:2] == ["base_metadata", "updates"]
    # Our files are written as ParquetFormatWriter writes them, statistics included.
    writer_source = inspect.getsource(iceberg_arrow.ParquetFormatWriter)
    for call in (
        "_get_parquet_writer_kwargs(properties)",
        "store_decimal_as_integer=True",
        "row_group_size=self._row_group_size",
        "data_file_statistics_from_parquet_metadata(",
        "compute_statistics_plan(self._file_schema, self._properties)",
        "parquet_path_to_id_mapping(self._file_schema)",
    ):
        assert call in writer_source, call
    write_source = inspect.getsource(iceberg_arrow.write_file)
    for call in ("load_location_provider(", "generate_data_file_filename(", "len(fo)"):
        assert call in write_source, call


def other_lake(tmp_path) -> Lake:
    lake = Lake(LakeConfig(warehouse=str(tmp_path / "reference")))
    lake.init()
    return lake


def data_file_facts(table) -> list[tuple]:
    """What pyiceberg records of each data file, but for its name, size and byte offsets."""
    facts = []
    for task in table.scan().plan_files():
        f = task.file
        facts.append(
            (
                f.content,
                f.file_format,
                f.spec_id,
                tuple(f.partition),
                f.record_count,
                dict(f.null_value_counts),
                dict(f.nan_value_counts or {}),
                dict(f.lower_bounds),
                dict(f.upper_bounds),
                dict(f.value_counts),
                sorted(f.column_sizes),
            )
        )
    return sorted(facts, key=repr)


def encoded(data: pa.Table, names: tuple[str, ...], index: pa.DataType | None = None) -> pa.Table:
    """``data`` with the columns ``names`` dictionary-encoded, as the raw buffers hold them."""
    index = index or pa.int8()
    for name in names:
        column = data.column(name).dictionary_encode().cast(pa.dictionary(index, pa.string()))
        data = replaced(data, name, column)
    return data


def replaced(data: pa.Table, name: str, values) -> pa.Table:
    """``data`` with column ``name`` replaced by ``values`` (same nullability, their type)."""
    i = data.schema.get_field_index(name)
    return data.set_column(i, data.schema.field(i).with_type(values.type), values)


def set_target_file_size(*tables, size: int) -> None:
    for table in tables:
        with table.transaction() as txn:
            txn.set_properties({"write.target-file-size-bytes": str(size)})


def append_both(lake, tmp_path, name, ours_data, reference_data, *, target_size=None):
    """Append with ours to ``lake`` and with Transaction.append to a second lake; both tables,
    refreshed."""
    ours, reference = lake.table(name), other_lake(tmp_path).table(name)
    if target_size is not None:
        set_target_file_size(ours, reference, size=target_size)
        ours, reference = ours.refresh(), reference.refresh()
    append_table(ours, ours_data, {"schemahub.test": "x"})
    with reference.transaction() as txn:
        txn.append(reference_data, snapshot_properties={"schemahub.test": "x"})
    return ours.refresh(), reference.refresh()


def assert_same_landing(ours, reference, sort_key: str) -> None:
    """Same rows, same types, same data-file statistics and partitions."""
    got, want = ours.scan().to_arrow(), reference.scan().to_arrow()
    assert not any(pa.types.is_dictionary(t) for t in got.schema.types)
    # pyiceberg writes dictionary input as it comes, and its scan then returns dictionaries.
    want = want.cast(plain_schema(want.schema))
    assert got.schema == want.schema
    assert got.sort_by(sort_key).equals(want.sort_by(sort_key))
    assert data_file_facts(ours) == data_file_facts(reference)
    assert ours.current_snapshot().summary["schemahub.test"] == "x"


@pytest.mark.parametrize(
    ("spread", "one_partition"),
    [(timedelta(hours=23), True), (timedelta(hours=50), False)],
    ids=["one-day", "three-days"],
)
@pytest.mark.parametrize("dictionary", [(), ("exchange", "symbol", "side")], ids=["plain", "dict"])
def test_append_lands_what_pyiceberg_append_lands(
    lake, tmp_path, spread, one_partition, dictionary
):
    data = rows(range(1, 301), spread=spread)
    assert (single_partition_key(lake.table(UNIFIED_TABLE).metadata, data) is not None) is (
        one_partition
    )
    ours, reference = append_both(lake, tmp_path, UNIFIED_TABLE, encoded(data, dictionary), data)
    assert_same_landing(ours, reference, "trade_id")
    assert len(data_file_facts(ours)) == (1 if one_partition else 3)
    assert ours.current_snapshot().summary["added-records"] == "300"


@pytest.mark.parametrize("dictionary", [(), ("symbol", "side")], ids=["plain", "dict"])
def test_an_append_past_the_target_file_size_is_split_as_pyiceberg_splits_it(
    lake, tmp_path, dictionary
):
    data = rows(range(1, 3001), spread=timedelta(hours=2))
    given = encoded(data, dictionary)
    # pyiceberg packs by the in-memory bytes of what it is given: give both the same input.
    target = given.nbytes // 4
    ours, reference = append_both(lake, tmp_path, UNIFIED_TABLE, given, given, target_size=target)
    assert_same_landing(ours, reference, "trade_id")
    assert len(data_file_facts(ours)) >= 4


def test_an_unpartitioned_table_lands_what_pyiceberg_lands(lake, tmp_path):
    schema = lake.table(WATERMARKS_TABLE).schema().as_arrow()
    data = pa.Table.from_pylist(
        [
            {
                "exchange": "kraken",
                "symbol": f"S{i}",
                "high_water": i if i % 3 else None,
                "open_gaps": i % 2,
                "missing_ids": i,
                "lost_ids": 0,
                "gaps": None if i % 2 else "[[1, 2]]",
                "updated_at": DAY + timedelta(seconds=i),
            }
            for i in range(40)
        ],
        schema=pa.schema(
            [f.with_type(pa.string()) if f.type == pa.large_string() else f for f in schema]
        ),
    )
    ours, reference = append_both(lake, tmp_path, WATERMARKS_TABLE, data, data)
    assert_same_landing(ours, reference, "symbol")


def test_data_needing_a_cast_or_another_order_lands_as_pyiceberg_lands_it(lake, tmp_path):
    data = rows(range(1, 51), spread=timedelta(hours=1))
    variants = [
        replaced(data, column, pc.cast(data[column], pa.timestamp(unit, zone), False))
        for column, unit, zone in (("ingest_ts", "ms", "UTC"), ("trade_ts", "us", "Etc/UTC"))
    ]
    variants.append(data.select(list(reversed(data.column_names))))
    ours, reference = lake.table(UNIFIED_TABLE), other_lake(tmp_path).table(UNIFIED_TABLE)
    for n, variant in enumerate(variants):
        assert file_layout(ours.metadata, variant.schema) is None  # pyiceberg's path
        variant = replaced(variant, "trade_id", pc.add(variant["trade_id"], 1000 * n))
        append_table(ours, variant, {"schemahub.test": "x"})
        reference.append(variant, snapshot_properties={"schemahub.test": "x"})
    assert_same_landing(ours.refresh(), reference.refresh(), "trade_id")


def test_wrong_timestamps_are_rejected_as_pyiceberg_rejects_them(lake, tmp_path):
    data = rows(range(1, 51), spread=timedelta(hours=1))
    ours, reference = lake.table(UNIFIED_TABLE), other_lake(tmp_path).table(UNIFIED_TABLE)
    for bad_type in (
        pa.timestamp("ns", tz="UTC"),
        pa.timestamp("us"),
        pa.string(),
        pa.timestamp("ms", tz="UTC"),  # pyiceberg's day transform takes no ms timestamps
    ):
        bad = replaced(data, "trade_ts", pc.cast(data["trade_ts"], bad_type, False))
        with pytest.raises(Exception) as ours_error:
            append_table(ours, bad, {})
        with pytest.raises(Exception) as theirs:
            reference.append(bad)
        assert type(ours_error.value) is type(theirs.value), bad_type
    assert ours.refresh().current_snapshot() is None


def test_a_bad_schema_is_refused_after_good_ones_were_remembered(lake):
    table = lake.table(UNIFIED_TABLE)
    data = rows(range(1, 11), spread=timedelta(minutes=1))
    append_table(table, data, {})
    append_table(table, replaced(data, "trade_id", pc.add(data["trade_id"], 100)), {})
    nullable = pa.schema([f.with_nullable(True) for f in data.schema])
    for bad in (
        replaced(data, "price", pc.cast(data["price"], pa.string())),
        data.drop_columns(["price"]),
        data.cast(nullable),  # required columns given as optional
    ):
        with pytest.raises(ValueError):
            append_table(table, bad, {})
    assert table.refresh().scan().to_arrow().num_rows == 20


def test_the_file_layout_is_built_once_per_schema_and_input_types(lake):
    table = lake.table(UNIFIED_TABLE)
    data = rows([1], spread=timedelta(0))
    layout = file_layout(table.metadata, data.schema)
    assert layout is not None
    assert file_layout(table.metadata, rows([2, 3], spread=timedelta(0)).schema) is layout
    dictionary = file_layout(table.metadata, encoded(data, ("symbol",)).schema)
    assert dictionary is not None and dictionary is not layout
    assert dictionary.dictionary_columns == ("symbol",)
    assert [f.metadata for f in dictionary.arrow_schema] == [
        f.metadata for f in layout.arrow_schema
    ]
    assert set(layout.statistics_plan) == {f.field_id for f in table.schema().fields}


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


def test_committed_metadata_is_what_the_catalog_would_have_committed(lake):
    table = lake.table(UNIFIED_TABLE)
    append_table(table, rows(range(3), spread=timedelta(0)), {"schemahub.test": "first"})
    table = lake.table(UNIFIED_TABLE)
    txn = LeanTransaction(table)
    with append_producer(txn, {"schemahub.test": "second"}) as append_files:
        more = rows(range(3, 6), spread=timedelta(0))
        for data_file in data_files(txn.table_metadata, more, table.io, uuid4()):
            append_files.append_data_file(data_file)
    location = table.metadata_location
    ours = committed_metadata(table.metadata, txn._updates, location)
    theirs = update_table_metadata(table.metadata, txn._updates, metadata_location=location)
    stamp = {"last_updated_ms": 0}
    assert ours.model_copy(update=stamp) == theirs.model_copy(update=stamp)
    assert ours.metadata_log[-1].metadata_file == location
    assert ours.snapshots[:-1] == table.metadata.snapshots  # shared, not copied
    assert ours.snapshots[0] is table.metadata.snapshots[0]


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


def file_columns(table) -> dict[str, pq.ColumnChunkMetaData]:
    """The column chunks of the one row group of the one data file of ``table``."""
    (task,) = table.scan().plan_files()
    meta = pq.read_metadata(task.file.file_path.removeprefix("file://"))
    assert meta.num_row_groups == 1
    group = meta.row_group(0)
    return {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}


def test_only_columns_that_repeat_are_dictionary_encoded(lake):
    data = rows(range(60_000), spread=timedelta(hours=1))
    append_table(lake.table(UNIFIED_TABLE), data, {})
    columns = file_columns(lake.table(UNIFIED_TABLE))
    # exchange, symbol, side repeat; ids, prices and times (nearly) never do: no dictionary is
    # built for them only to be abandoned at the table's 32 KiB dictionary limit.
    assert {n for n, c in columns.items() if c.has_dictionary_page} == {
        "exchange",
        "symbol",
        "side",
    }
    assert "PLAIN" in columns["price"].encodings


def test_unique_strings_are_written_plain(lake):
    table = lake.table(QUARANTINE_TABLE)
    data = pa.Table.from_pylist(
        [
            {
                "exchange": "kraken",
                "source": "ws",
                "reason": f"bad frame {i}",
                "raw_payload": None if i % 7 == 0 else f'{{"n": {i}}}',
                "quarantined_at": DAY + timedelta(seconds=i),
            }
            for i in range(2_000)
        ],
        schema=QUARANTINE_SCHEMA,
    )
    append_table(table, encoded(data, ("source",), pa.int16()), {})
    columns = file_columns(lake.table(QUARANTINE_TABLE))
    dictionary = {n for n, c in columns.items() if c.has_dictionary_page}
    assert dictionary == {"exchange", "source"}
    assert columns["raw_payload"].statistics.null_count == len(range(0, 2_000, 7))


def test_dictionary_columns_read_back_as_plain_strings(lake, duckdb_con):
    data = rows(range(1, 501), spread=timedelta(hours=5))
    append_table(lake.table(UNIFIED_TABLE), encoded(data, ("exchange", "symbol", "side")), {})
    table = lake.table(UNIFIED_TABLE)
    scanned = table.scan().to_arrow().sort_by("trade_id")
    assert not any(pa.types.is_dictionary(t) for t in scanned.schema.types)
    assert scanned.cast(data.schema).equals(data)
    (task,) = table.scan().plan_files()
    in_file = pq.read_table(task.file.file_path.removeprefix("file://"))
    assert in_file.schema.field("symbol").type == pa.string()
    assert in_file.schema.field("symbol").metadata == {b"PARQUET:field_id": b"2"}
    described = duckdb_con.execute(
        f"DESCRIBE SELECT * FROM iceberg_scan('{table.metadata_location}')"
    ).fetchall()
    types = {row[0]: row[1] for row in described}
    assert [types[n] for n in ("exchange", "symbol", "side")] == ["VARCHAR"] * 3
    got = duckdb_con.execute(
        f"SELECT exchange, symbol, side, trade_id FROM iceberg_scan('{table.metadata_location}') "
        "ORDER BY trade_id"
    ).fetchall()
    assert got == list(
        zip(*(data[n].to_pylist() for n in ("exchange", "symbol", "side", "trade_id")), strict=True)
    )
