"""Running the daemon in-process against the simulator, and comparing a table with the truth."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import yaml

from schemahub.config import Config
from schemahub.daemon.service import Daemon
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.sim import SimStats, Simulator, sim_venue_overrides
from schemahub.sim.server import FIRST_OWED_KEY

COMPARED = ["exchange", "symbol", "trade_id", "side", "price", "quantity", "trade_ts"]


def daemon_config(sim: Simulator, warehouse: Path, **sections: Any) -> Config:
    """A config pointing every venue at ``sim`` and the lake at ``warehouse``."""
    data: dict[str, Any] = {
        "lake": {"warehouse": str(warehouse)},
        "flush": {"interval_seconds": 0.5},
        # after the tape pauses, ask the venues soon for trades missed at the tail
        "gaps": {"probe_quiet_seconds": 1.0},
        "venues": sim_venue_overrides(sim),
        "http": {"port": 0},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return Config.model_validate(data)


@contextlib.asynccontextmanager
async def running(config: Config) -> AsyncIterator[Daemon]:
    """A daemon running until the block ends (then a clean stop)."""
    stop = asyncio.Event()
    ready = asyncio.Event()
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run(stop, ready=lambda _d: ready.set()))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # raises the start-up error
    try:
        yield daemon
    finally:
        stop.set()
        await task


async def settle(daemon: Daemon, timeout: float = 90.0) -> None:
    """Wait (bounded) until every stream was checked against the venue after this call began
    and nothing is missing, buffered or pending; then flush once more."""
    began = time.time()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        filler = daemon.gap_filler
        probed = all((filler.probed_at(*key) or 0) > began for key in daemon.sequencer.streams())
        anchored = not any(daemon.sequencer.anchors_needed(v) for v in daemon.status.venues)
        quiet = (
            probed
            and anchored
            and not daemon.sequencer.open_gaps()
            and daemon.buffers.total_rows == 0
            and daemon.status.pending_flushes == 0
        )
        if quiet:
            await daemon.flush()
            return
        await daemon.flush()
    raise AssertionError(
        f"daemon did not settle: gaps {daemon.sequencer.open_gaps()[:5]}, "
        f"buffered {daemon.buffers.total_rows}, pending {daemon.status.pending_flushes}"
    )


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` (a hang guard
    for conditions that must come true, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)


def all_connected(daemon: Daemon, venues: tuple[str, ...] = ()) -> bool:
    """Whether each of ``venues`` (every enabled one by default) has a live connection."""
    wanted = venues or daemon.status.venues
    return daemon.ingest is not None and all(daemon.ingest.connected.get(v) for v in wanted)


def all_streaming(daemon: Daemon, sim: Simulator) -> bool:
    """Whether every stream of every enabled venue has taken its first trade."""
    if daemon.ingest is None:
        return False
    owned = {(v, s) for v in daemon.status.venues for s in sim.symbols(v)}
    return owned <= set(daemon.sequencer.streams())


async def pause_and_settle(daemon: Daemon, sim: Simulator) -> tuple[pa.Table, SimStats]:
    """Stop the tape, let the daemon settle, and return trades_unified and what the simulator
    did (for :func:`assert_same_trades`)."""
    sim.pause()
    await settle(daemon)
    return unified(daemon.config.lake), sim.stats()


async def resume_and_read(config: Config, sim: Simulator) -> pa.Table:
    """A fresh daemon resumes from the offsets in the tables; once it caught up, the tape is
    paused and everything settled: trades_unified as it then stands."""
    async with running(config) as daemon:
        await asyncio.sleep(1.5)
        sim.pause()
        await settle(daemon)
        return unified(config.lake)


async def spawn_serve(config: Config, folder: Path, log: Any, *extra: str):
    """``schemahub serve`` as a child process with ``config`` written to ``folder``."""
    config_file = folder / "schemahub.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemahub.cli",
        "--config",
        str(config_file),
        "serve",
        *extra,
        stdout=log,
        stderr=log,
    )


def unified(lake_config) -> pa.Table:
    """Every row of trades_unified, read fresh from the catalog."""
    return Lake(lake_config).table(UNIFIED_TABLE).scan().to_arrow()


def first_owed(truth: pa.Table) -> dict[tuple[str, str], int]:
    """Per subscribed stream, the first trade a daemon is owed, as the simulator recorded it in
    ``truth`` (``sim.ground_truth()``): the first one it delivered on a websocket after the
    stream's first subscription (also when that connection dropped before delivering it: the
    daemon then anchors the stream at its subscription time)."""
    metadata = truth.schema.metadata or {}
    assert FIRST_OWED_KEY in metadata, "compare with sim.ground_truth(), which says what is owed"
    owed = orjson.loads(metadata[FIRST_OWED_KEY])
    return {tuple(key.split(":", 1)): first for key, first in owed.items()}


def expected_rows(truth: pa.Table, table: pa.Table) -> pa.Table:
    """The truth from each subscribed stream's first owed trade on (see :func:`first_owed`),
    or from the table's first trade of the stream where that is earlier (a snapshot or replay
    at subscription, a state committed before): never later, so a daemon that dropped a
    stream's first trades, or the whole stream, fails."""
    owed = first_owed(truth)
    output = table.group_by(["exchange", "symbol"]).aggregate([("trade_id", "min")])
    for exchange, symbol, lowest in zip(*output.to_pydict().values(), strict=True):
        key = (exchange, symbol)
        owed[key] = min(lowest, owed.get(key, lowest))
    starts = pa.table(
        {
            "exchange": [k[0] for k in owed],
            "symbol": [k[1] for k in owed],
            "first_owed": pa.array(list(owed.values()), pa.int64()),
        }
    )
    joined = truth.join(starts, keys=["exchange", "symbol"], join_type="inner")
    keep = pa.compute.greater_equal(joined["trade_id"], joined["first_owed"])
    return joined.filter(keep).select(COMPARED)


def assert_same_trades(table: pa.Table, truth: pa.Table) -> None:
    """``table`` holds each owed trade of ``truth`` (``sim.ground_truth()``) exactly once, with
    identical values."""
    keys = list(
        zip(
            table["exchange"].to_pylist(),
            table["symbol"].to_pylist(),
            table["trade_id"].to_pylist(),
            strict=True,
        )
    )
    assert len(keys) == len(set(keys)), "duplicate keys in trades_unified"
    want = _sorted(expected_rows(truth, table))
    got = _sorted(table.select(COMPARED).cast(want.schema))
    missing = set(_keys(want)) - set(_keys(got))
    extra = set(_keys(got)) - set(_keys(want))
    assert not missing, f"{len(missing)} trades missing, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} trades not in the truth, e.g. {sorted(extra)[:5]}"
    for column in COMPARED:
        assert got[column].to_pylist() == want[column].to_pylist(), f"column {column} differs"


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by(
        [("exchange", "ascending"), ("symbol", "ascending"), ("trade_id", "ascending")]
    )


def _keys(table: pa.Table) -> list[tuple]:
    return list(
        zip(
            table["exchange"].to_pylist(),
            table["symbol"].to_pylist(),
            table["trade_id"].to_pylist(),
            strict=True,
        )
    )
