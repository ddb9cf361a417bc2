"""A flush commits only the tables that have something new: an idle daemon adds no snapshot to
any table, a flush that only moved the stream state (a new gap) still commits the offsets to
``trades_unified``, a flush with only rejects leaves ``trades_unified`` alone, and a restart
after idle flushes resumes exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from schemahub.batching import Drained
from schemahub.config import Config
from schemahub.daemon.committer import Committer, PendingFlush
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.lake import QUARANTINE_TABLE, RAW_TABLES, UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.lake.mapped import init_all, unified_mappings
from schemahub.lake.offsets import committed_offsets, load_offsets
from schemahub.lake.quarantine import QuarantineEntry
from schemahub.sequencing import StreamState
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import assert_same_trades, daemon_config, resume_and_read, running, settle

ALL_TABLES = [*RAW_TABLES.values(), UNIFIED_TABLE, QUARANTINE_TABLE, WATERMARKS_TABLE]
STREAM = ("coinbase", "BTC-USD")


def heads(lake_config) -> dict[str, int | None]:
    """The current snapshot id of every table, read fresh from the catalog."""
    lake = Lake(lake_config)
    out = {}
    for name in ALL_TABLES:
        snapshot = lake.table(name).current_snapshot()
        out[name] = snapshot.snapshot_id if snapshot else None
    return out


async def test_idle_flushes_add_no_snapshot_and_a_restart_resumes_exactly(tmp_path):
    async with Simulator(SimConfig(seed=31, rate_per_stream=30)) as sim:
        # a long interval: only the flushes this test asks for run
        config = daemon_config(sim, tmp_path / "warehouse", flush={"interval_seconds": 300})
        async with running(config) as daemon:
            await asyncio.sleep(1.5)
            await daemon.flush()
            sim.pause()
            await settle(daemon)
            before = heads(config.lake)
            commits = dict(daemon.metrics.commits.values)
            for _ in range(5):  # idle: nothing arrives, nothing moved
                await asyncio.sleep(0.2)
                await daemon.flush()
            after = heads(config.lake)
            idle_commits = dict(daemon.metrics.commits.values)
        sim.resume()
        table = await resume_and_read(config, sim)
        truth = sim.ground_truth()
    assert before[UNIFIED_TABLE] is not None, "the daemon committed nothing before idling"
    assert after == before
    assert idle_commits == commits
    assert_same_trades(table, truth)


def committer_on(tmp_path: Path) -> tuple[Committer, Lake]:
    """A committer on a fresh embedded lake, as the daemon builds it (Coinbase only)."""
    config = Config.model_validate({"lake": {"warehouse": str(tmp_path / "warehouse")}})
    lake = Lake(config.lake)
    init_all(lake, config.mappings_path())
    mappings = unified_mappings(lake.table(UNIFIED_TABLE), config.mappings_path())
    mine = {RAW_TABLES["coinbase"]: mappings[RAW_TABLES["coinbase"]]}
    offsets, head = load_offsets(lake)
    return Committer(lake, mine, DaemonMetrics.create(), head, offsets, retries=2), lake


def nothing_drained(token: int) -> Drained:
    return Drained(tables={}, rejects={}, rows=0, nbytes=0, token=token)


def test_a_flush_with_only_a_new_gap_commits_the_offsets(tmp_path):
    committer, lake = committer_on(tmp_path)
    gap = {STREAM: StreamState(high_water=120, gaps=((101, 119),))}
    before = heads(lake.config)
    committer.commit(PendingFlush(nothing_drained(1), gap, []))
    after = heads(lake.config)
    assert after[UNIFIED_TABLE] != before[UNIFIED_TABLE]
    assert committed_offsets(Lake(lake.config).table(UNIFIED_TABLE)) == gap
    unchanged = [n for n in ALL_TABLES if n not in (UNIFIED_TABLE,)]
    assert {n: after[n] for n in unchanged} == {n: before[n] for n in unchanged}

    # the same state again (e.g. a retried drain with nothing new): no further snapshot
    committer.commit(PendingFlush(nothing_drained(2), dict(gap), []))
    assert heads(lake.config) == after


def test_a_flush_with_only_rejects_leaves_trades_unified_alone(tmp_path):
    committer, lake = committer_on(tmp_path)
    state = {STREAM: StreamState(high_water=7)}
    committer.commit(PendingFlush(nothing_drained(1), state, []))
    before = heads(lake.config)
    reject = QuarantineEntry("coinbase", "ws:test", "not a trade frame", '{"type":"x"}')
    committer.commit(PendingFlush(nothing_drained(2), dict(state), [reject]))
    after = heads(lake.config)
    assert after[QUARANTINE_TABLE] != before[QUARANTINE_TABLE]
    assert after[UNIFIED_TABLE] == before[UNIFIED_TABLE]
    rows = Lake(lake.config).table(QUARANTINE_TABLE).scan().to_arrow().to_pylist()
    assert [r["reason"] for r in rows] == ["not a trade frame"]
    assert committed_offsets(Lake(lake.config).table(UNIFIED_TABLE)) == state
