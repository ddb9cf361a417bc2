"""The daemon's compaction worker: it compacts and deletes old orphan files on its interval,
off the event loop, and an interval of 0 turns it off."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import urlparse

from schemahub.jobs.maintain import compaction_worker
from schemahub.lake import UNIFIED_TABLE, Lake
from tests.lake.lakerows import append_commits, day_start


def live_files(lake: Lake) -> int:
    return len(list(lake.table(UNIFIED_TABLE).scan().plan_files()))


async def test_the_worker_compacts_on_its_interval_while_the_loop_stays_free(lake: Lake):
    append_commits(lake, 6, 10, day_start(2))
    table = lake.table(UNIFIED_TABLE)
    stray = Path(urlparse(table.metadata.location).path) / "data" / "stray.parquet"
    stray.write_bytes(b"left by a writer that died before its commit")
    old = time.time() - 7_200
    os.utime(stray, (old, old))
    config = lake.config.model_copy(
        update={
            "compaction_interval_seconds": 0.2,
            "compaction_horizon_seconds": 3_600.0,
            "orphan_age_seconds": 3_600.0,
        }
    )
    worker = asyncio.create_task(compaction_worker(config))
    ticks = 0
    try:
        for _ in range(300):  # bounded: until the worker compacted the day
            await asyncio.sleep(0.05)
            ticks += 1
            if live_files(lake) == 1 and not stray.exists():
                break
    finally:
        worker.cancel()
    assert live_files(lake) == 1
    assert not stray.exists()  # orphans past the age go in the same pass
    assert ticks > 1  # the loop kept running while the worker compacted


async def test_an_interval_of_zero_never_compacts(lake: Lake):
    append_commits(lake, 3, 10, day_start(2))
    config = lake.config.model_copy(update={"compaction_interval_seconds": 0.0})
    await asyncio.wait_for(compaction_worker(config), 1.0)  # returns at once
    assert live_files(lake) == 3
