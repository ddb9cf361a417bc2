"""Expiry under a busy writer: a commit that only appended on top while expiry planned leaves
the same plan, which is committed on the new head instead of giving up."""

from __future__ import annotations

import time

from schemahub.lake import Lake
from schemahub.lake.maintenance import expire_snapshots
from tests.lake.test_maintenance import RAW, append_batches


def test_an_append_on_top_during_expiry_does_not_stop_it(lake: Lake):
    append_batches(lake, RAW, 3)
    stale = lake.table(RAW)
    newest_planned = stale.current_snapshot().timestamp_ms
    time.sleep(0.01)
    append_batches(lake, RAW, 1)  # another writer appends after expiry read the table
    retention = 3600.0
    now = newest_planned / 1000 + retention + 0.001  # the cutoff falls between the two

    result = expire_snapshots(stale, retention, now=now, refresh=False)

    assert result.expired == 2
    fresh = lake.table(RAW)
    assert len(fresh.metadata.snapshots) == 2
    assert fresh.scan().to_arrow().num_rows == 40
