"""Compaction (lake/compaction.py) on a real embedded lake: fewer files, the same rows, sorted;
a second writer committing between the compaction's read and its commit keeps its rows."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.manifest import DataFile
from pyiceberg.table.snapshots import ancestors_of

from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.compaction import compact_table, plan_compaction, sort_columns
from schemahub.lake.orphans import delete_orphans
from tests.lake.lakerows import (
    RAW,
    append_commits,
    append_raw_commits,
    day_start,
    raw_rows,
    row_fingerprint,
    unified_rows,
)

DAY = 86_400.0


def live_files(table) -> list[DataFile]:
    table.refresh()
    return [t.file for t in table.scan().plan_files()]


def disk_files(table, sub: str = "data") -> set[str]:
    root = Path(urlparse(table.metadata.location).path) / sub
    return {str(p) for p in root.rglob("*") if p.is_file()}


def test_compaction_rewrites_closed_days_sorted_with_the_same_rows(lake: Lake):
    append_commits(lake, 12, 25, day_start(3))
    append_commits(lake, 12, 25, day_start(2), first_id=10_000)
    table = lake.table(UNIFIED_TABLE)
    before = row_fingerprint(table.scan().to_arrow())
    assert len(live_files(table)) == 24

    results = compact_table(table, DAY)

    assert [r.outcome for r in results] == ["compacted", "compacted"]
    assert [(r.files_before, r.files_after) for r in results] == [(12, 1), (12, 1)]
    files = live_files(table)
    assert len(files) == 2
    assert row_fingerprint(table.scan().to_arrow()) == before
    head = table.current_snapshot()
    operations = [s.summary.operation.value for s in ancestors_of(head, table.metadata)][:3]
    # two replaces, then an empty append that drops the manifests of their deleted files
    assert operations == ["append", "replace", "replace"]
    manifests = head.manifests(table.io)
    assert len(manifests) == 2
    assert all(m.has_added_files() or m.has_existing_files() for m in manifests)
    parent = table.metadata.snapshot_by_id(head.parent_snapshot_id)
    assert any(m.deleted_files_count for m in parent.manifests(table.io))
    at_parent = table.scan(snapshot_id=parent.snapshot_id).plan_files()
    assert {t.file.file_path for t in at_parent} == {f.file_path for f in files}
    order = sort_columns(table)
    assert order == ["symbol", "trade_ts"]
    for data_file in files:
        rows = pq.read_table(urlparse(data_file.file_path).path)
        keys = list(zip(*(rows.column(c).to_pylist() for c in order), strict=True))
        assert keys == sorted(keys)
        assert data_file.sort_order_id == table.sort_order().order_id
    assert plan_compaction(table, DAY) == []  # nothing new: a second run rewrites nothing


def test_the_horizon_spares_recent_partitions_and_zero_takes_them_too(lake: Lake):
    append_commits(lake, 5, 10, day_start(2))
    append_commits(lake, 5, 10, day_start(0), first_id=5_000)
    table = lake.table(UNIFIED_TABLE)
    assert len(plan_compaction(table, DAY)) == 1
    assert compact_table(table, DAY, dry_run=True)[0].outcome == "planned"
    assert len(live_files(table)) == 10  # a dry run changes nothing
    assert len(plan_compaction(table, 0)) == 2


def second_writer(lake: Lake) -> Lake:
    """Another process's view of the same lake: its own catalog connection and tables."""
    return Lake(lake.config)


# trades_unified retries itself (commit.retry.num-retries=0: our loop stages the replace again);
# a raw table lets pyiceberg retry (its own rebuild of the replace on the new head).
@pytest.mark.parametrize(
    ("name", "rows", "append"),
    [(UNIFIED_TABLE, unified_rows, append_commits), (RAW, raw_rows, append_raw_commits)],
)
def test_an_append_between_read_and_commit_is_kept(lake: Lake, name, rows, append):
    append(lake, 10, 20, day_start(2))
    table = lake.table(name)
    before = table.scan().to_arrow()
    late = rows(90_000, 7, day_start(2))  # a gap-fill into the day being compacted
    other = second_writer(lake)

    def append_meanwhile(_table, _plan):
        append(other, 1, 7, day_start(2), first_id=90_000)

    (result,) = compact_table(table, DAY, before_commit=append_meanwhile)

    assert result.outcome == "compacted"
    table.refresh()
    snapshots = list(ancestors_of(table.current_snapshot(), table.metadata))
    # the concurrent append, the replace on top of it, the empty append after the replace
    assert [s.summary.operation.value for s in snapshots[:3]] == ["append", "replace", "append"]
    after = table.scan().to_arrow()
    assert sorted_rows(after) == sorted_rows(pa.concat_tables([before, late]))
    assert len(live_files(table)) == 2  # the compacted file and the late append's own
    assert len(plan_compaction(table, DAY)) == 1  # the late file is compacted next time


def sorted_rows(rows: pa.Table) -> list[dict]:
    return sorted(rows.to_pylist(), key=lambda r: sorted((k, str(v)) for k, v in r.items()))


def test_a_compaction_whose_files_were_rewritten_meanwhile_gives_up(lake: Lake):
    append_commits(lake, 6, 20, day_start(2))
    table = lake.table(UNIFIED_TABLE)
    before = row_fingerprint(table.scan().to_arrow())
    other = second_writer(lake)

    def compact_meanwhile(_table, _plan):
        assert compact_table(other.table(UNIFIED_TABLE), DAY)[0].outcome == "compacted"

    (result,) = compact_table(table, DAY, before_commit=compact_meanwhile)

    assert result.outcome.startswith("gave up")
    table.refresh()
    assert row_fingerprint(table.scan().to_arrow()) == before
    files = live_files(table)
    assert len(files) == 1
    assert disk_files(table) >= {urlparse(f.file_path).path for f in files}
    # the files the loser wrote were deleted; only the winner's and the old small ones remain
    assert len(disk_files(table)) == 1 + 6


def test_orphan_files_are_deleted_once_old_enough_and_referenced_ones_never(lake: Lake):
    append_commits(lake, 4, 10, day_start(2))
    table = lake.table(UNIFIED_TABLE)
    before = row_fingerprint(table.scan().to_arrow())
    stray = Path(urlparse(table.metadata.location).path) / "data" / "stray.parquet"
    stray.write_bytes(b"left by a writer that died before its commit")

    assert delete_orphans(table, 3600).found == 0  # too young
    old = time.time() - 7200
    os.utime(stray, (old, old))
    for path in disk_files(table) | disk_files(table, "metadata"):
        os.utime(path, (old, old))
    result = delete_orphans(table, 3600)

    assert (result.found, result.deleted) == (1, 1)
    assert not stray.exists()
    table.refresh()
    assert row_fingerprint(table.scan().to_arrow()) == before


def every_value(rows: pa.Table, columns: list[str]) -> list[tuple]:
    """Every row as a tuple of its values (timestamps as UTC microseconds), sorted."""
    picked = []
    for name in columns:
        column = rows.column(name)
        if pa.types.is_timestamp(column.type):
            assert column.type.unit == "us" and str(column.type.tz) in ("UTC", "+00:00", "Etc/UTC")
            column = column.cast(pa.int64())
        picked.append(column.to_pylist())
    return sorted(zip(*picked, strict=True), key=repr)


# Every data file the project writes: a flush's (our writer, lake/datafiles.py) and a
# compaction's, of the unified table and of a raw table.
@pytest.mark.parametrize("compacted", [False, True], ids=["appended", "compacted"])
@pytest.mark.parametrize(
    ("name", "append"), [(UNIFIED_TABLE, append_commits), (RAW, append_raw_commits)]
)
def test_our_files_read_the_same_in_pyarrow_and_duckdb(
    lake: Lake, duckdb_con, name, append, compacted
):
    append(lake, 6, 30, day_start(2))
    table = lake.table(name)
    if compacted:
        compact_table(table, DAY)
    table.refresh()
    expected = table.scan().to_arrow()
    columns = expected.column_names
    files = live_files(table)
    assert len(files) == (1 if compacted else 6)

    by_pyarrow = pa.concat_tables(pq.read_table(urlparse(f.file_path).path) for f in files)
    by_duckdb = duckdb_con.execute(
        f"SELECT * FROM iceberg_scan('{table.metadata_location}')"
    ).to_arrow_table()

    want = every_value(expected, columns)
    assert every_value(by_pyarrow, columns) == want
    assert every_value(by_duckdb, columns) == want
