"""Batch unify stays exactly-once when the raw snapshots it last read have been expired."""

from __future__ import annotations

import time
from pathlib import Path

from schemahub.jobs.unify import POSITION_PREFIX, run_unify
from schemahub.lake import UNIFIED_TABLE
from schemahub.lake.maintenance import expire_snapshots
from schemahub.lake.writer import commit_append, latest_property
from tests.lake.test_maintenance import RAW, raw_rows

MAPPINGS = Path(__file__).resolve().parents[2] / "config" / "mappings"


def land(lake, first_id: int, count: int) -> None:
    rows = raw_rows(first_id, count)
    commit_append(lake.table(RAW), lambda _t: (rows, {}))


def unified_ids(lake) -> list[int]:
    return sorted(lake.table(UNIFIED_TABLE).scan().to_arrow()["trade_id"].to_pylist())


def test_unify_rereads_whole_and_dedupes_when_its_position_was_expired(lake):
    land(lake, 0, 20)
    land(lake, 20, 20)
    assert run_unify(lake, MAPPINGS).written == 40
    position = int(latest_property(lake.table(UNIFIED_TABLE), POSITION_PREFIX + RAW))
    land(lake, 40, 15)
    land(lake, 55, 15)
    # expire everything but the raw head: the position snapshot is gone
    expire_snapshots(lake.table(RAW), 60, now=time.time() + 3600)
    raw_ids = {s.snapshot_id for s in lake.table(RAW).metadata.snapshots}
    assert position not in raw_ids

    report = run_unify(lake, MAPPINGS)

    assert report.read[RAW] == 70  # the whole raw table, read again
    assert report.written == 30  # only what trades_unified lacked
    assert unified_ids(lake) == list(range(70))


def test_unify_stays_incremental_when_only_older_snapshots_were_expired(lake):
    land(lake, 0, 10)
    land(lake, 10, 10)
    run_unify(lake, MAPPINGS)
    position = int(latest_property(lake.table(UNIFIED_TABLE), POSITION_PREFIX + RAW))
    snapshot = lake.table(RAW).snapshot_by_id(position)
    land(lake, 20, 5)
    # a cutoff at the position's own time keeps it (the snapshot current at the cutoff)
    expire_snapshots(lake.table(RAW), 60, now=(snapshot.timestamp_ms + 0.5) / 1000 + 60)
    assert len(lake.table(RAW).metadata.snapshots) == 2

    report = run_unify(lake, MAPPINGS)

    assert report.read[RAW] == 5
    assert report.written == 5
    assert unified_ids(lake) == list(range(25))
