"""Snapshot retention (lake/maintenance.py) on a real embedded lake: what is kept, what is
deleted, and that readers (pyiceberg, DuckDB, the daemon's offsets loader) still work after."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pytest

from schemahub.errors import CommitConflictError
from schemahub.lake import UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.lake.maintenance import (
    _commit_property,
    expire_snapshots,
    maintain_tables,
    trim_metadata_log,
)
from schemahub.lake.offsets import load_offsets, watermark_rows
from schemahub.lake.pyiceberg_private import LeanTransaction
from schemahub.lake.tables import raw_schemas
from schemahub.lake.writer import commit_append
from schemahub.sequencing import OFFSETS_PROPERTY, StreamState, encode_offsets
from tests.lake.lakerows import append_commits, day_start

RAW = "raw_binance_trades"
RETENTION = 3600.0


def raw_rows(first_id: int, count: int) -> pa.Table:
    """``count`` binance raw rows with ids from ``first_id``."""
    ids = list(range(first_id, first_id + count))
    now = datetime.now(UTC)
    return pa.Table.from_pydict(
        {
            "symbol": ["BTCUSDT"] * count,
            "trade_id": ids,
            "price": [f"{60000 + i % 100}.5" for i in ids],
            "qty": ["0.01"] * count,
            "trade_time": [1_700_000_000_000 + i for i in ids],
            "is_buyer_maker": [i % 2 == 0 for i in ids],
            "event_time": [1_700_000_000_000 + i for i in ids],
            "_source": ["test"] * count,
            "_source_ingest_ts": [now] * count,
            "_raw_payload": [None] * count,
        },
        schema=raw_schemas()[RAW],
    )


def append_batches(lake: Lake, name: str, batches: int, size: int = 10) -> None:
    for n in range(batches):
        rows = raw_rows(n * size, size)
        commit_append(lake.table(name), lambda _t, r=rows: (r, {}))


def later(retention: float = RETENTION) -> float:
    """A clock reading at which every snapshot made so far is older than the retention."""
    return time.time() + retention + 1


def folder_files(table, sub: str, suffix: str) -> set[str]:
    root = Path(urlparse(table.metadata.location).path) / sub
    return {str(p) for p in root.rglob(f"*{suffix}")}


def test_expiry_keeps_the_current_snapshot_and_every_row(lake, duckdb_con):
    append_batches(lake, RAW, 6)
    table = lake.table(RAW)
    head = table.current_snapshot().snapshot_id
    before = table.scan().to_arrow().sort_by("trade_id")

    result = expire_snapshots(table, RETENTION, now=later())

    fresh = lake.table(RAW)
    assert result.expired == 5
    assert [s.snapshot_id for s in fresh.metadata.snapshots] == [head]
    assert fresh.scan().to_arrow().sort_by("trade_id").equals(before)
    theirs = duckdb_con.execute(
        f"SELECT trade_id, price FROM iceberg_scan('{fresh.metadata_location}') ORDER BY trade_id"
    ).to_arrow_table()
    assert theirs["trade_id"].to_pylist() == before["trade_id"].to_pylist()
    assert theirs["price"].to_pylist() == before["price"].to_pylist()


def test_snapshots_inside_the_window_and_the_one_current_at_its_start_are_kept(lake):
    append_batches(lake, RAW, 8)
    table = lake.table(RAW)
    snapshots = table.metadata.snapshots
    cutoff_ms = snapshots[3].timestamp_ms
    newest_before_cutoff = max(
        (s for s in snapshots if s.timestamp_ms <= cutoff_ms), key=lambda s: s.sequence_number
    )
    want = {
        s.snapshot_id for s in snapshots if s.timestamp_ms > cutoff_ms or s is newest_before_cutoff
    }

    expire_snapshots(table, RETENTION, now=(cutoff_ms + 0.5) / 1000 + RETENTION)

    assert {s.snapshot_id for s in lake.table(RAW).metadata.snapshots} == want
    assert len(want) < len(snapshots)  # the test did expire something


def test_nothing_expires_while_every_snapshot_is_young(lake):
    append_batches(lake, RAW, 3)
    result = expire_snapshots(lake.table(RAW), RETENTION)
    assert (result.expired, result.kept) == (0, 3)


def test_offsets_still_load_after_expiry_when_newer_snapshots_lack_them(lake):
    unified = lake.table(UNIFIED_TABLE)
    state = {("binance", "BTCUSDT"): StreamState(high_water=41, gaps=((7, 9),))}
    empty = unified.schema().as_arrow().empty_table()
    commit_append(unified, lambda _t: (empty, {}))
    commit_append(unified, lambda _t: (empty, encode_offsets(state)))
    for _ in range(3):  # e.g. batch unify runs: no offsets in their summaries
        commit_append(unified, lambda _t: (empty, {"schemahub.unify.raw_binance_trades": "1"}))

    result = expire_snapshots(unified, RETENTION, keep_property=OFFSETS_PROPERTY, now=later())

    assert result.expired == 1  # only the snapshot older than the offsets
    offsets, _head = load_offsets(lake)
    assert offsets == state


def test_without_the_offsets_guard_the_offsets_would_be_lost(lake):
    """Why the guard exists: readers walk parent links, which expiry cuts."""
    unified = lake.table(UNIFIED_TABLE)
    state = {("binance", "BTCUSDT"): StreamState(high_water=41)}
    empty = unified.schema().as_arrow().empty_table()
    commit_append(unified, lambda _t: (empty, encode_offsets(state)))
    commit_append(unified, lambda _t: (empty, {}))
    expire_snapshots(unified, RETENTION, now=later())
    assert load_offsets(lake)[0] == {}


def test_manifest_lists_of_expired_snapshots_are_deleted(lake):
    append_batches(lake, RAW, 5)
    table = lake.table(RAW)
    lists_before = folder_files(table, "metadata", ".avro")
    data_before = folder_files(table, "data", ".parquet")

    expire_snapshots(table, RETENTION, now=later())

    fresh = lake.table(RAW)
    kept_lists = {urlparse(s.manifest_list).path for s in fresh.metadata.snapshots}
    snap_files = {p for p in folder_files(fresh, "metadata", ".avro") if "/snap-" in p}
    assert snap_files == kept_lists
    assert len(lists_before) > len(folder_files(fresh, "metadata", ".avro"))
    assert folder_files(fresh, "data", ".parquet") == data_before  # append-only: all still live


@pytest.mark.filterwarnings("ignore:Delete operation did not match any records")
def test_data_files_replaced_by_overwrites_are_deleted_once_expired(lake):
    table = lake.table(WATERMARKS_TABLE)
    for high in range(5):
        rows = watermark_rows({("binance", "BTCUSDT"): StreamState(high_water=high)})
        with LeanTransaction(table) as txn:
            txn.overwrite(rows)
    assert len(folder_files(table, "data", ".parquet")) == 5

    result = expire_snapshots(table, RETENTION, now=later())

    fresh = lake.table(WATERMARKS_TABLE)
    live = {urlparse(f.file.file_path).path for f in fresh.scan().plan_files()}
    assert result.files_deleted > 0
    assert folder_files(fresh, "data", ".parquet") == live
    assert fresh.scan().to_arrow()["high_water"].to_pylist() == [4]
    referenced = {
        urlparse(m.manifest_path).path for m in fresh.current_snapshot().manifests(fresh.io)
    }
    on_disk = {p for p in folder_files(fresh, "metadata", ".avro") if "/snap-" not in p}
    assert on_disk == referenced


def test_old_metadata_json_files_are_deleted_after_commits(lake):
    table = lake.table(RAW)
    keep = int(table.properties["write.metadata.previous-versions-max"])
    append_batches(lake, RAW, keep + 10, size=1)
    files = folder_files(lake.table(RAW), "metadata", ".metadata.json")
    # the current file and at most `keep` previous ones (tables init wrote a few more first)
    assert len(files) <= keep + 1
    assert len(lake.table(RAW).metadata.metadata_log) <= keep


def test_the_trim_after_expiry_deletes_the_metadata_files_listing_expired_snapshots(
    lake, duckdb_con
):
    append_batches(lake, RAW, 15, size=2)
    table = lake.table(RAW)
    keep = table.properties["write.metadata.previous-versions-max"]
    logged = [e.metadata_file for e in table.metadata.metadata_log]
    assert len(logged) == int(keep)
    expire_snapshots(table, RETENTION, now=later())

    dropped = trim_metadata_log(table)

    fresh = lake.table(RAW)
    assert dropped == int(keep)  # the expiry's own commit rotated the oldest out already
    # the log: the expiry's metadata file, then the trim's first commit's
    assert len(fresh.metadata.metadata_log) == 2
    assert fresh.properties["write.metadata.previous-versions-max"] == keep
    kept = {fresh.metadata_location, *(e.metadata_file for e in fresh.metadata.metadata_log)}
    assert folder_files(fresh, "metadata", ".metadata.json") == {urlparse(f).path for f in kept}
    assert not any(Path(urlparse(f).path).exists() for f in logged)
    rows = duckdb_con.execute(
        f"SELECT count(*) FROM iceberg_scan('{fresh.metadata_location}')"
    ).fetchone()
    assert rows == (30,) and fresh.scan().to_arrow().num_rows == 30
    # the limit is the table's own again: later commits keep up to it
    append_batches(lake, RAW, int(keep) + 2, size=1)
    assert len(lake.table(RAW).metadata.metadata_log) == int(keep)


def test_the_trim_leaves_a_table_that_keeps_its_metadata_files_alone(lake):
    table = lake.table(RAW)
    with table.transaction() as txn:
        txn.set_properties({"write.metadata.delete-after-commit.enabled": "false"})
    append_batches(lake, RAW, 4)
    before = folder_files(lake.table(RAW), "metadata", ".metadata.json")

    assert trim_metadata_log(lake.table(RAW)) == 0
    assert folder_files(lake.table(RAW), "metadata", ".metadata.json") == before


def test_a_property_commit_from_a_stale_table_lands_on_the_new_head(lake):
    # A property change has no requirement on the head: the catalog applies it to the newest
    # metadata, so a writer that moved the table meanwhile loses nothing and changes nothing.
    stale = lake.table(UNIFIED_TABLE)
    append_commits(lake, 2, 10, day_start(1))  # another writer moves the head

    _commit_property(stale, "schemahub.test", "7")
    assert lake.table(UNIFIED_TABLE).properties["schemahub.test"] == "7"
    append_commits(lake, 1, 10, day_start(1), first_id=100)  # and again
    _commit_property(stale, "schemahub.test", None)

    fresh = lake.table(UNIFIED_TABLE)
    assert "schemahub.test" not in fresh.properties
    assert fresh.scan().to_arrow().num_rows == 30


def test_a_concurrent_commit_makes_expiry_a_conflict_that_removes_nothing(lake):
    append_batches(lake, RAW, 3)
    stale = lake.table(RAW)
    append_batches(lake, RAW, 1)  # another writer moves the head

    with pytest.raises(CommitConflictError, match="concurrent commit"):
        expire_snapshots(stale, RETENTION, now=later(), refresh=False)

    fresh = lake.table(RAW)
    assert len(fresh.metadata.snapshots) == 4
    assert fresh.scan().to_arrow().num_rows == 40


def test_maintain_tables_reports_a_conflict_and_goes_on_with_the_other_tables(lake):
    append_batches(lake, RAW, 3)
    stale = lake.table(RAW)
    append_batches(lake, RAW, 1)
    unified = lake.table(UNIFIED_TABLE)
    empty = unified.schema().as_arrow().empty_table()
    for _ in range(3):
        commit_append(unified, lambda _t: (empty, {}))

    run = maintain_tables(
        {RAW: stale, UNIFIED_TABLE: unified}, RETENTION, now=later(), refresh=False
    )

    assert run.conflicts == [RAW]
    assert [r.table.split(".")[-1] for r in run.results] == [UNIFIED_TABLE]
    assert run.expired == 2
    # the next pass (fresh metadata) succeeds
    again = maintain_tables({RAW: stale}, RETENTION, now=later())
    assert again.conflicts == [] and again.expired == 3
