"""The daemon keeps its tables lean: snapshots past the retention are expired while it runs,
the table still matches the venues' truth, and a restart resumes from the offsets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlparse

from schemahub.lake import RAW_TABLES, UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import assert_same_trades, daemon_config, resume_and_read, running

LEAN = {"snapshot_retention_seconds": 1.0, "maintenance_interval_seconds": 0.5}


def snapshot_counts(lake_config) -> dict[str, int]:
    lake = Lake(lake_config)
    names = [RAW_TABLES["binance"], UNIFIED_TABLE, WATERMARKS_TABLE]
    return {name: len(lake.table(name).metadata.snapshots) for name in names}


def unified_commits(daemon) -> int:
    values = daemon.metrics.commits.values
    return int(sum(v for k, v in values.items() if UNIFIED_TABLE in str(k)))


def metadata_json_files(lake_config, name: str) -> int:
    table = Lake(lake_config).table(name)
    folder = Path(urlparse(table.metadata.location).path) / "metadata"
    return len(list(folder.glob("*.metadata.json")))


async def test_tiny_retention_keeps_few_snapshots_and_every_trade_once(tmp_path):
    async with Simulator(SimConfig(seed=21, rate_per_stream=40)) as sim:
        config = daemon_config(
            sim, tmp_path / "warehouse", flush={"interval_seconds": 0.2}, lake=LEAN
        )
        async with running(config) as daemon:
            for _ in range(300):  # bounded: until enough flushes have committed
                await asyncio.sleep(0.1)
                if unified_commits(daemon) >= 20 and daemon.metrics.snapshots_expired.values:
                    break
            commits = unified_commits(daemon)
            expired = dict(daemon.metrics.snapshots_expired.values)
            counts = snapshot_counts(config.lake)
        # a restart resumes from the offsets the expiry kept
        table = await resume_and_read(config, sim)
        truth = sim.ground_truth()
    assert commits >= 20
    assert sum(expired.values()) > 0
    # retention 1 s + interval 0.5 s at 0.2 s flushes: about a dozen kept, never the history
    assert counts[UNIFIED_TABLE] <= commits // 2
    assert counts[RAW_TABLES["binance"]] <= commits // 2
    assert_same_trades(table, truth)
    keep = 50  # write.metadata.previous-versions-max set by tables init
    assert metadata_json_files(config.lake, UNIFIED_TABLE) <= keep + 1
