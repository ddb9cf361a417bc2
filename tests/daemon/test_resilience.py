"""The daemon's invariants under abuse: kill -9, an unavailable lake, a second writer."""

from __future__ import annotations

import asyncio
import random
import sqlite3

import pytest

from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import (
    assert_same_trades,
    daemon_config,
    resume_and_read,
    running,
    settle,
    spawn_serve,
    unified,
    wait_until,
)

pytestmark = pytest.mark.slow


async def test_kill_9_at_random_moments_loses_and_doubles_nothing(tmp_path):
    rng = random.Random(2026)
    async with Simulator(SimConfig(seed=13, rate_per_stream=30)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse", flush={"interval_seconds": 0.3})
        log_path = tmp_path / "daemon.log"
        log = log_path.open("wb")
        for _ in range(4):
            began = log_path.stat().st_size
            process = await spawn_serve(config, tmp_path, log)
            # Once this daemon commits (start-up time varies with the machine's load), kill it
            # at a random moment of its commit cycle.
            await wait_until(
                lambda b=began: '"msg":"flush"' in log_path.read_text()[b:], "a commit"
            )
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            process.kill()  # SIGKILL: no flush, no clean-up, maybe mid-commit
            assert await process.wait() == -9
        # A fresh daemon resumes from the offsets in the table and fills what was missed.
        table = await resume_and_read(config, sim)
        truth = sim.ground_truth()
    assert "flush" in (tmp_path / "daemon.log").read_text()  # the killed daemons did commit
    assert_same_trades(table, truth)


async def test_lake_unavailable_keeps_memory_bounded_and_loses_nothing(tmp_path):
    cap = 400
    async with Simulator(SimConfig(seed=14, rate_per_stream=40)) as sim:
        config = daemon_config(
            sim, tmp_path / "warehouse", flush={"interval_seconds": 0.3, "max_buffered_rows": cap}
        )
        async with running(config) as daemon:
            await asyncio.sleep(2)
            # Lock the SQLite catalog: every commit now fails until the lock is released.
            lock = sqlite3.connect(tmp_path / "warehouse" / "catalog.db", timeout=30)
            lock.execute("BEGIN EXCLUSIVE")
            peak = 0
            paused = False
            ready_seen_false = False
            for _ in range(100):  # about 20 s of outage
                await asyncio.sleep(0.2)
                peak = max(peak, daemon.buffers.total_rows)
                paused = paused or daemon.metrics.backpressure.get() == 1
                ready_seen_false = ready_seen_false or not daemon.readiness().ready
            assert ready_seen_false, "/readyz never reported the lake as down"
            lock.rollback()
            lock.close()
            await asyncio.sleep(2)
            sim.pause()
            await settle(daemon)
            table = unified(config.lake)
            failures = daemon.metrics.commit_failures.get()
        truth = sim.ground_truth()
    assert failures > 0
    assert paused, "reading never paused at the cap"
    # one frame or one REST page past the cap at most, never unbounded
    assert peak <= cap + 1000
    assert_same_trades(table, truth)


async def test_two_daemons_on_different_shards_share_the_tables(tmp_path):
    async with Simulator(SimConfig(seed=15, rate_per_stream=40)) as sim:
        warehouse = tmp_path / "warehouse"
        # Only the test's own flush() calls commit (the timer would be an hour away), so the
        # order of the writers is ours to choose.
        manual = {"interval_seconds": 3600}
        first = daemon_config(sim, warehouse, flush=manual)
        venues = first.model_dump()["venues"]
        shard_a = {name: {**v, "symbols": v["symbols"][:1]} for name, v in venues.items()}
        shard_b = {name: {**v, "symbols": v["symbols"][1:]} for name, v in venues.items()}
        config_a = daemon_config(sim, warehouse, flush=manual, venues=shard_a)
        config_b = daemon_config(sim, warehouse, flush=manual, venues=shard_b)
        async with running(config_a) as a, running(config_b) as b:
            # A commits, then B, then A again: A's second commit starts from the table as A
            # last saw it, which B has moved since, so it must conflict and retry.
            for writer in (a, b, a):
                await wait_until(lambda w=writer: w.buffers.total_rows > 0, "rows to commit")
                await writer.flush()
            sim.pause()
            await asyncio.gather(settle(a), settle(b))
            table = unified(config_a.lake)
            retries = a.metrics.commit_retries.get() + b.metrics.commit_retries.get()
        truth = sim.ground_truth()
    assert retries > 0, "the second writer's commit did not conflict"
    assert_same_trades(table, truth)
    assert (
        len(
            {
                (e, s)
                for e, s in zip(
                    table["exchange"].to_pylist(), table["symbol"].to_pylist(), strict=True
                )
            }
        )
        == 6
    )
