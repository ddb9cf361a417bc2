"""Replicas: shards of the streams committing to one catalog, and two writers on the same shard
(a rolling deployment's overlap). The union must equal the simulator's truth, no key twice."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import orjson
import pytest

from schemahub.batching.bufferset import Drained
from schemahub.config import Config
from schemahub.daemon.committer import Committer, PendingFlush
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.daemon.shards import configured_streams, own_streams
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.offsets import load_offsets
from schemahub.sequencing import Sequencer, StreamKey, StreamState
from schemahub.sim import FaultConfig, SimConfig, Simulator
from tests.daemon.harness import (
    assert_same_trades,
    daemon_config,
    resume_and_read,
    running,
    settle,
    spawn_serve,
    unified,
)
from tests.lake.test_tables import unified_rows

FAULTS = FaultConfig(
    drop_run_probability=0.01,
    disconnect_probability=0.05,
    duplicate_replay_probability=0.5,
    malformed_probability=0.01,
    rest_429_probability=0.05,
)
STREAM = StreamKey("binance", "BTCUSDT")


def _pending(ids: list[int], state: StreamState) -> PendingFlush:
    drained = Drained(tables={}, rejects={}, rows=0, nbytes=0, token=0)
    pending = PendingFlush(drained, {STREAM: state}, [])
    pending.unified = unified_rows(ids)
    return pending


def _committer(lake: Lake) -> Committer:
    return Committer(lake, {}, DaemonMetrics.create(), None, {}, retries=8)


@pytest.mark.parametrize("behind_commits_last", [True, False])
def test_a_writer_behind_never_takes_back_what_the_other_committed(lake, behind_commits_last):
    # The new task has everything up to 100; the old one, behind, missed 50..60 and is at 80.
    ahead = (_committer(lake), _pending(list(range(1, 101)), StreamState(100)))
    behind_ids = [*range(1, 50), *range(61, 81)]
    behind = (_committer(lake), _pending(behind_ids, StreamState(80, ((50, 60),))))
    for committer, pending in (ahead, behind) if behind_commits_last else (behind, ahead):
        committer.commit(pending)

    table = unified(lake.config)
    assert sorted(table["trade_id"].to_pylist()) == list(range(1, 101))  # none twice
    offsets, _head = load_offsets(lake)
    assert offsets == {STREAM: StreamState(100)}
    # A restarted replica resumes from these offsets: what either writer committed is no
    # gap to fetch and append again (its first commit does not recheck keys).
    resumed = Sequencer(offsets)
    assert not any(resumed.admit(*STREAM, list(range(1, 101))))
    assert resumed.open_gaps() == []


def test_a_writer_that_fell_behind_rechecks_until_it_caught_up(lake):
    ahead, behind = _committer(lake), _committer(lake)
    ahead.commit(_pending(list(range(1, 101)), StreamState(100)))
    behind.commit(_pending(list(range(1, 51)), StreamState(50)))  # the head moved: rechecked
    # Nobody committed since: the head is the one `behind` wrote, yet these ids are in the
    # table already (`ahead` committed them), so they must be checked all the same.
    behind.commit(_pending(list(range(51, 81)), StreamState(80)))
    behind.commit(_pending(list(range(81, 121)), StreamState(120)))  # caught up, 101.. new
    ids = unified(lake.config)["trade_id"].to_pylist()
    assert sorted(ids) == list(range(1, 121))
    assert load_offsets(lake)[0] == {STREAM: StreamState(120)}


def _sharded(sim: Simulator, warehouse: Path, catalog: dict, index: int) -> Config:
    config = daemon_config(sim, warehouse, flush={"interval_seconds": 0.3})
    data = config.model_dump(mode="json")
    data["lake"]["catalog"].update(catalog)
    data["shard"] = {"count": 3, "index": index}
    for venue in data["venues"].values():
        venue["silence_timeout_seconds"] = 2.0
    return Config.model_validate(data)


async def _stop(process: asyncio.subprocess.Process) -> int:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    return await process.wait()


async def _three_shards_land_the_truth(tmp_path: Path, catalog: dict) -> None:
    sim_config = SimConfig(
        seed=31, symbols=("BTC", "ETH", "SOL"), rate_per_stream=25, faults=FAULTS
    )
    async with Simulator(sim_config) as sim:
        configs = [_sharded(sim, tmp_path / "warehouse", catalog, i) for i in range(3)]
        owned = [configured_streams(own_streams(c).venues) for c in configs]
        assert all(owned), f"a shard owns no stream, the test would prove less: {owned}"
        every = [stream for streams in owned for stream in streams]
        assert sorted(every) == sorted(configured_streams(configs[0].venues))
        logs = [tmp_path / f"shard{index}.log" for index in range(3)]
        processes = []
        for index, config in enumerate(configs):
            folder = tmp_path / f"shard{index}"
            folder.mkdir()
            processes.append(await spawn_serve(config, folder, logs[index].open("wb")))
        for log in logs:
            await _serving(log)
        await asyncio.sleep(6)  # all three ingest and commit, faults on
        codes = [await _stop(p) for p in processes]
        # Each shard resumes from the offsets in the table, fills what it missed, settles.
        async with contextlib.AsyncExitStack() as stack:
            daemons = [await stack.enter_async_context(running(c)) for c in configs]
            await asyncio.sleep(1.5)
            sim.pause()
            await asyncio.gather(*(settle(d) for d in daemons))
            table = unified(configs[0].lake)
        truth = sim.ground_truth()
        stats = sim.stats()
    assert codes == [0, 0, 0], [log.read_text()[-2000:] for log in logs]
    # each process says which shard it is and how many streams it took
    said = [_logged(log, "serving")[0] for log in logs]
    assert [(s["shard"], s["shard_streams"]) for s in said] == [
        (f"{i}/3", len(streams)) for i, streams in enumerate(owned)
    ]
    assert all(_unified_rows_committed(log) > 0 for log in logs)
    assert sum(len(runs) for runs in stats.dropped_runs.values()) > 0, "no fault happened"
    assert_same_trades(table, truth)
    streams = set(zip(table["exchange"].to_pylist(), table["symbol"].to_pylist(), strict=True))
    assert streams == set(every)


@pytest.mark.slow
async def test_three_shard_processes_on_one_sqlite_catalog(tmp_path):
    await _three_shards_land_the_truth(tmp_path, {})


@pytest.mark.slow
async def test_three_shard_processes_on_one_postgresql_catalog(tmp_path, postgres_uri):
    await _three_shards_land_the_truth(tmp_path, {"uri": postgres_uri})


@pytest.mark.slow
async def test_two_writers_on_the_same_streams_for_a_while(tmp_path):
    """A rolling deployment without the ECS guard: the new task starts while the old one runs,
    both read and commit the same streams, the old one stops; then the new one is killed
    (SIGKILL, no final flush) and a fresh one resumes from the offsets both left."""
    async with Simulator(SimConfig(seed=32, rate_per_stream=30, faults=FAULTS)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse", flush={"interval_seconds": 0.3})
        logs = {name: tmp_path / f"{name}.log" for name in ("old", "new")}
        for name in logs:
            (tmp_path / name).mkdir()
        old = await spawn_serve(config, tmp_path / "old", logs["old"].open("wb"))
        await _serving(logs["old"])
        await asyncio.sleep(3)
        new = await spawn_serve(config, tmp_path / "new", logs["new"].open("wb"))
        await _serving(logs["new"])
        await asyncio.sleep(6)  # both ingest and commit the same streams
        old_code = await _stop(old)
        await asyncio.sleep(2)
        new.kill()
        await new.wait()
        table = await resume_and_read(config, sim)
        truth = sim.ground_truth()
    assert old_code == 0, logs["old"].read_text()[-3000:]
    # both writers committed trades to trades_unified (the overlap really happened)
    assert all(_unified_rows_committed(path) > 0 for path in logs.values())
    assert_same_trades(table, truth)


async def _serving(log: Path, timeout: float = 90.0) -> None:
    """Wait (bounded) until the daemon writing ``log`` says it is serving."""
    for _ in range(int(timeout / 0.2)):
        if '"serving"' in log.read_text():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the daemon never started serving: {log.read_text()[-2000:]}")


def _logged(log: Path, message: str) -> list[dict]:
    lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg") == message]


def _unified_rows_committed(log: Path) -> int:
    return sum(line["rows"].get(UNIFIED_TABLE, 0) for line in _logged(log, "flush"))
