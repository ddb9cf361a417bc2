"""schemahub_watermarks mirrors the committed stream state: at most once a minute while
the daemon runs, and exactly the final state once it has stopped."""

from __future__ import annotations

import asyncio

from schemahub.lake import UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.lake.offsets import committed_offsets
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import daemon_config, running


def mirrored(lake: Lake) -> dict[tuple[str, str], dict]:
    rows = lake.table(WATERMARKS_TABLE).scan().to_arrow().to_pylist()
    return {(r["exchange"], r["symbol"]): r for r in rows}


async def test_a_stopped_daemon_leaves_its_final_state_in_the_mirror(tmp_path):
    async with Simulator(SimConfig(seed=5, rate_per_stream=30)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse", flush={"interval_seconds": 0.2})
        async with running(config) as daemon:
            for _ in range(100):  # bounded: until several flushes have committed
                await asyncio.sleep(0.1)
                if daemon.committer.last_offsets and len(daemon.metrics.commits.values) > 3:
                    break
            # Stopped right after flushing: within the mirror's interval of its start, so
            # only the stop's own mirror can hold this state.
    lake = Lake(config.lake)
    state = committed_offsets(lake.table(UNIFIED_TABLE))
    assert state, "the daemon committed no stream state"
    rows = mirrored(lake)
    assert set(rows) == set(state)
    for key, stream in state.items():
        row = rows[key]
        assert row["high_water"] == stream.high_water
        assert row["open_gaps"] == len(stream.gaps)
        assert row["missing_ids"] == sum(hi - lo + 1 for lo, hi in stream.gaps)
