"""The maintenance proof: a table of many small commits, maintained while another writer
keeps appending. Data files drop at least 20x, metadata bytes at least 10x, and the rows are
exactly the rows committed (sorted keys and a checksum of every value), the other writer's
included."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pytest

from schemahub.jobs.maintain import MaintainOptions, maintain
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.writer import commit_append
from tests.lake.lakerows import day_start, row_fingerprint, unified_rows

COMMITS = 400  # 2,000 took over 5 min here (expiry reads every old manifest); see README
ROWS = 5


def folder_bytes(table, sub: str) -> int:
    root = Path(urlparse(table.metadata.location).path) / sub
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def live_files(table) -> int:
    table.refresh()
    return sum(1 for _ in table.scan().plan_files())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_maintain_shrinks_a_table_of_small_commits_and_loses_no_concurrent_append(lake: Lake):
    table = lake.table(UNIFIED_TABLE)
    committed = []
    start = day_start(2)
    for n in range(COMMITS):  # a day of small flushes of a streaming writer, two days back
        rows = unified_rows(n * ROWS, ROWS, start + timedelta(seconds=n * ROWS))
        commit_append(table, lambda _t, r=rows: (r, {}))
        committed.append(rows)
    files_before = live_files(table)
    metadata_before = folder_bytes(table, "metadata")
    assert files_before == COMMITS

    stop = threading.Event()
    other = Lake(lake.config)  # another process's connection: the writer that keeps going

    def keep_appending() -> None:
        writer_table = other.table(UNIFIED_TABLE)
        n = 0
        while not stop.is_set() or n < 3:
            rows = unified_rows(1_000_000 + n * ROWS, ROWS, day_start(2) + timedelta(hours=20))
            commit_append(writer_table, lambda _t, r=rows: (r, {}))
            committed.append(rows)
            n += 1

    writer = threading.Thread(target=keep_appending)
    writer.start()
    try:
        options = MaintainOptions(
            retention_seconds=1.0,
            orphan_age_seconds=3_600.0,  # the writer's files in flight are never touched
            horizon_seconds=0.0,
            tables=(UNIFIED_TABLE,),
        )
        time.sleep(1.5)  # every snapshot of the build is now past the 1 s retention
        report = maintain(lake, options)
    finally:
        stop.set()
        writer.join()

    (done,) = report.tables
    assert done.errors == []
    assert [p.outcome for p in done.partitions] == ["compacted"]
    table.refresh()
    files_after = live_files(table)
    metadata_after = folder_bytes(table, "metadata")
    print(f"files {files_before} -> {files_after}, metadata {metadata_before} -> {metadata_after}")
    assert files_before >= 20 * files_after
    assert metadata_before >= 10 * metadata_after
    assert row_fingerprint(table.scan().to_arrow()) == row_fingerprint(pa.concat_tables(committed))
