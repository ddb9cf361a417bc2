from datetime import UTC, datetime

import pyarrow as pa
import pytest

from schemahub.errors import LakeError
from schemahub.lake import RAW_TABLES, UNIFIED_TABLE, TableChange
from schemahub.lake.tables import table_defs
from schemahub.lake.writer import commit_append
from schemahub.schemas import UNIFIED_SCHEMA

NOW = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)


def unified_rows(ids, exchange="binance", symbol="BTCUSDT"):
    return pa.Table.from_pylist(
        [
            {
                "exchange": exchange,
                "symbol": symbol,
                "trade_id": i,
                "side": "BUY",
                "price": 100.0 + i,
                "quantity": 0.5,
                "trade_ts": NOW,
                "ingest_ts": NOW,
            }
            for i in ids
        ],
        schema=UNIFIED_SCHEMA,
    )


def test_init_creates_every_table_of_the_design(lake):
    names = {t[-1] for t in lake.catalog.list_tables(lake.namespace)}
    assert names == {*RAW_TABLES.values(), UNIFIED_TABLE, "schemahub_watermarks", "quarantine"}
    unified = lake.table(UNIFIED_TABLE)
    assert [f.name for f in unified.schema().fields] == UNIFIED_SCHEMA.names
    assert sorted(unified.schema().identifier_field_names()) == [
        "exchange",
        "symbol",
        "trade_id",
    ]
    (partition,) = unified.spec().fields
    assert str(partition.transform) == "day"
    assert unified.schema().find_field(partition.source_id).name == "trade_ts"
    raw = lake.table("raw_kraken_trades")
    assert {"_source", "_source_ingest_ts", "_raw_payload", "trade_id"} <= set(
        raw.schema().column_names
    )


def test_init_is_idempotent_and_writes_nothing_the_second_time(lake):
    before = {n: lake.table(n).metadata_location for n in RAW_TABLES.values()}
    changes = lake.init()
    assert set(changes.values()) == {TableChange.UNCHANGED}
    assert before == {n: lake.table(n).metadata_location for n in RAW_TABLES.values()}


def test_new_mapping_column_evolves_schema_without_rewriting_data(lake):
    table = lake.table(UNIFIED_TABLE)
    commit_append(table, lambda _t: (unified_rows(range(3)), {}))
    files_before = {task.file.file_path for task in table.scan().plan_files()}

    changes = lake.init(table_defs(unified_extra=[pa.field("base_asset", pa.string())]))

    assert changes[UNIFIED_TABLE] is TableChange.EVOLVED
    table = lake.table(UNIFIED_TABLE)
    assert table.schema().column_names[-1] == "base_asset"
    assert {task.file.file_path for task in table.scan().plan_files()} == files_before
    rows = table.scan().to_arrow()
    assert rows.num_rows == 3
    assert rows["base_asset"].null_count == 3


def test_missing_table_says_how_to_create_it(tmp_path):
    from schemahub.config import LakeConfig
    from schemahub.lake import Lake

    empty = Lake(LakeConfig(warehouse=str(tmp_path / "w")))
    with pytest.raises(LakeError, match="schemahub tables init"):
        empty.table(UNIFIED_TABLE)


def test_a_required_column_added_later_is_added_as_optional(lake):
    from schemahub.lake.tables import WATERMARKS_TABLE, TableDef

    table = lake.table(WATERMARKS_TABLE)
    wider = pa.schema([*table.schema().as_arrow(), pa.field("new_count", pa.int64(), False)])
    changes = lake.init([TableDef(WATERMARKS_TABLE, wider)])
    assert changes[WATERMARKS_TABLE] is TableChange.EVOLVED
    field = lake.table(WATERMARKS_TABLE).schema().find_field("new_count")
    assert not field.required


def test_raw_tables_keep_bounds_only_on_the_columns_they_are_read_by(lake, tmp_path):
    from urllib.parse import urlparse

    import pyarrow.parquet as pq

    from schemahub.lake.append import append_table

    name = RAW_TABLES["kraken"]
    table = lake.table(name)
    none = {
        key.removeprefix("write.metadata.metrics.column.")
        for key, value in table.properties.items()
        if key.startswith("write.metadata.metrics.column.") and value == "none"
    }
    assert none == {"price", "qty", "side", "ord_type", "timestamp", "_source", "_raw_payload"}
    rows = pa.Table.from_pylist(
        [
            {
                "symbol": "BTC/USD", "trade_id": i, "price": 100.0 + i, "qty": 1.0,
                "side": "buy", "ord_type": "market", "timestamp": "2026-11-27T12:00:00.5Z",
                "_source": "ws:kraken/1", "_source_ingest_ts": datetime(2026, 11, 27, tzinfo=UTC),
                "_raw_payload": None,
            }
            for i in (5, 9)
        ],
        schema=table.schema().as_arrow(),
    )  # fmt: skip
    append_table(table, rows, {})
    (task,) = lake.table(name).scan().plan_files()
    by_id = {f.field_id: f.name for f in table.schema().fields}
    bounded = {by_id[i] for i in task.file.lower_bounds}
    assert bounded == {"symbol", "trade_id", "_source_ingest_ts"}
    assert {by_id[i] for i in task.file.value_counts} == bounded
    footer = pq.ParquetFile(urlparse(task.file.file_path).path).metadata.row_group(0)
    with_stats = {
        footer.column(i).path_in_schema
        for i in range(footer.num_columns)
        if footer.column(i).is_stats_set
    }
    assert with_stats == bounded  # nothing computed that Iceberg would throw away
    assert lake.table(name).scan(row_filter="trade_id >= 9").to_arrow()["price"].to_pylist() == [
        109.0
    ]


def test_init_gives_an_existing_raw_table_the_metrics_settings(lake):
    name = RAW_TABLES["binance"]
    key = "write.metadata.metrics.column.price"
    with lake.table(name).transaction() as txn:
        txn.remove_properties(key)  # a table created before the setting existed
    assert key not in lake.table(name).properties
    changes = lake.init(table_defs())
    assert changes[name] is TableChange.EVOLVED
    assert lake.table(name).properties[key] == "none"
