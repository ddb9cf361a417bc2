"""The maintenance proof, with the daemon against the simulator: a lake of 2,000 small commits
(the daemon at a 20 ms flush interval), then `maintain` while a daemon keeps appending. Live
data files drop at least 20x, the metadata a reader reads (current metadata file, manifest
list, manifests) and the tables' metadata folders on disk at least 10x each, and the final
table equals the simulator's ground truth: nothing lost, nothing doubled, every value the same."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlparse

import pytest

from schemahub.jobs.maintain import COMPACTED_TABLES, MaintainOptions, maintain
from schemahub.lake import Lake
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import assert_same_trades, daemon_config, resume_and_read, running

LAKE_COMMITS = 2_000
# No upkeep while the small commits pile up: the state `maintain` exists for.
NO_UPKEEP = {"maintenance_interval_seconds": 86_400, "compaction_interval_seconds": 0}


def lake_commits(daemon) -> int:
    return int(sum(daemon.metrics.commits.values.values()))


def live_data_files(lake: Lake) -> int:
    return sum(len(list(lake.table(n).scan().plan_files())) for n in COMPACTED_TABLES)


def metadata_on_disk(lake: Lake) -> int:
    """Bytes in the tables' metadata folders."""
    total = 0
    for name in COMPACTED_TABLES:
        root = Path(urlparse(lake.table(name).metadata.location).path) / "metadata"
        total += sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return total


def metadata_read(lake: Lake) -> int:
    """Bytes of metadata a reader reads to plan a scan of each table: the current metadata
    file, its snapshot's manifest list and the manifests it lists."""
    total = 0
    for name in COMPACTED_TABLES:
        table = lake.table(name)
        io = table.io
        snapshot = table.current_snapshot()
        total += len(io.new_input(table.metadata_location))
        total += len(io.new_input(snapshot.manifest_list))
        total += sum(m.manifest_length for m in snapshot.manifests(io))
    return total


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_maintain_during_ingestion_shrinks_the_lake_and_loses_no_trade(tmp_path):
    async with Simulator(SimConfig(seed=11, rate_per_stream=40)) as sim:
        warehouse = tmp_path / "warehouse"
        fast = daemon_config(sim, warehouse, flush={"interval_seconds": 0.02}, lake=NO_UPKEEP)
        async with running(fast) as daemon:
            for _ in range(3_000):  # bounded: until the lake took 2,000 commits
                await asyncio.sleep(0.1)
                if lake_commits(daemon) >= LAKE_COMMITS:
                    break
            commits = lake_commits(daemon)
        lake = Lake(fast.lake)
        before = live_data_files(lake), metadata_read(lake), metadata_on_disk(lake)

        # the default flush is 10 s: at 5 s the daemon still commits all through maintain
        steady = daemon_config(sim, warehouse, flush={"interval_seconds": 5.0}, lake=NO_UPKEEP)
        options = MaintainOptions(
            retention_seconds=1.0,
            orphan_age_seconds=3_600.0,  # files a writer is about to commit are never touched
            horizon_seconds=0.0,  # today's partitions too: the daemon is writing into them
            tables=COMPACTED_TABLES,
        )
        async with running(steady):  # keeps appending while maintain runs
            await asyncio.sleep(1.0)
            report = await asyncio.to_thread(maintain, Lake(fast.lake), options)
            after = live_data_files(lake), metadata_read(lake), metadata_on_disk(lake)
        table = await resume_and_read(steady, sim)
        truth = sim.ground_truth()

    print(
        f"{commits} commits; live data files {before[0]} -> {after[0]}; metadata read "
        f"{before[1]} -> {after[1]} bytes; on disk {before[2]} -> {after[2]}; "
        f"maintain {report.seconds} s"
    )
    assert commits >= LAKE_COMMITS
    assert [t.errors for t in report.tables] == [[] for _ in COMPACTED_TABLES]
    outcomes = {p.outcome for t in report.tables for p in t.partitions}
    assert outcomes == {"compacted"}
    assert before[0] >= 20 * after[0]
    assert before[1] >= 10 * after[1]
    assert before[2] >= 10 * after[2]
    assert_same_trades(table, truth)
