from datetime import UTC, datetime

import pyarrow as pa
import pytest

from schemahub.errors import LakeError
from schemahub.lake import RAW_TABLES, UNIFIED_TABLE, TableChange
from schemahub.lake.schemas import UNIFIED_SCHEMA
from schemahub.lake.tables import table_defs
from schemahub.lake.writer import commit_append

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
