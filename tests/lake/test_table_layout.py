"""`tables init` gives existing tables the layout compaction needs: the sort order, the target
file size, row group size and metadata bounds, set once (a second init changes nothing)."""

from __future__ import annotations

from schemahub.lake import UNIFIED_TABLE, Lake, TableChange
from schemahub.lake.compaction import sort_columns
from schemahub.lake.tables import table_defs

WANTED = {
    "write.target-file-size-bytes": str(64 * 1024 * 1024),
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    "write.parquet.row-group-limit": "131072",
}


def test_init_brings_an_older_table_to_the_compaction_layout(lake: Lake):
    table = lake.table(UNIFIED_TABLE)
    with table.transaction() as txn:  # as an older version left it: no sort order, old bounds
        txn.set_properties({"write.metadata.previous-versions-max": "50"})
        txn.remove_properties("write.target-file-size-bytes")
        txn.update_sort_order().commit()  # no fields: unsorted
    assert sort_columns(lake.table(UNIFIED_TABLE)) == []

    changes = lake.init(table_defs(target_file_bytes=64 * 1024 * 1024))

    assert changes[UNIFIED_TABLE] == TableChange.EVOLVED
    table = lake.table(UNIFIED_TABLE)
    assert sort_columns(table) == ["symbol", "trade_ts"]
    assert {k: table.properties.get(k) for k in WANTED} == WANTED
    raw = lake.table("raw_coinbase_trades")
    assert sort_columns(raw) == ["product_id", "time"]
    again = lake.init(table_defs(target_file_bytes=64 * 1024 * 1024))
    assert set(again.values()) == {TableChange.UNCHANGED}
