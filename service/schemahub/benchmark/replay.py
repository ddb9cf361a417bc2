"""Replaying a capture through the daemon's own pipeline, on a fresh embedded lake.

Nothing here is a second pipeline: a real :class:`~schemahub.daemon.service.Daemon` is built
the way ``Daemon.run`` builds it (``prepare_lake``, then ``build``), minus the network, and its
venue session's own :class:`~schemahub.venues.connection.Connection` takes the frames, as its
read loop would from a socket that always has data waiting:

    connection.take(frame)                           add to the burst; when it is due
    (BURST_FRAMES, BURST_BYTES or its window ends):
        connection.deliver_burst()
                                                     decode_batch (columnar decode), acks and
                                                     sequence checks, then ingest.on_batch:
                                                     sequencer + raw buffer append
    when ingest.flush_requested (flush.max_rows):
        await daemon.flush()                         drain -> Committer.commit in the worker
                                                     thread: raw commit, mapping, unified
                                                     commit with the offsets, watermarks

Flushes run inline (the replay awaits each one before reading on), so the trades/s figure
charges every commit to throughput. Frames are read from the capture in blocks outside the
timed loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from schemahub.benchmark.frames import frame_blocks
from schemahub.config import VENUE_NAMES, Config
from schemahub.daemon.heap import settle_heap
from schemahub.daemon.service import Daemon
from schemahub.decode import decoder_for
from schemahub.decode.batch import decode_batch
from schemahub.errors import LakeError
from schemahub.lake import UNIFIED_TABLE
from schemahub.mapping import CompiledMapping
from schemahub.venues import open_session
from schemahub.venues.connection import BURST_FRAMES, Connection

CONN_ID = "bench"


@dataclass
class PipelineRun:
    """What one replay measured."""

    venue: str
    commit: bool
    keep_payload: bool
    flush_rows: int
    frames: int = 0
    trades_in_frames: int = 0  # trades the decoder returned
    trades_admitted: int = 0  # new ids the sequencer let through
    seconds: float = 0.0  # wall time of the timed loop, flushes included
    cpu_seconds: float = 0.0  # this process's CPU time over the same loop (all threads)
    decode_seconds: float = 0.0  # decode_batch alone over the capture, measured separately
    flush_seconds: list[float] = field(default_factory=list)  # each flush, drain to last commit
    # Buffer memory per row, measured just before each drain triggered by flush.max_rows.
    bytes_per_row_at_drain: list[float] = field(default_factory=list)
    rows_in_unified: int | None = None  # from the last snapshot's summary (a check)


def bench_config(venue: str, warehouse: Path, flush_rows: int) -> Config:
    """A config with only ``venue`` enabled, the lake in ``warehouse``, flushing every
    ``flush_rows`` rows (and never on the timer: the replay has no timer task)."""
    others = {name: {"enabled": False} for name in VENUE_NAMES if name != venue}
    return Config.model_validate(
        {
            "lake": {"warehouse": str(warehouse)},
            "flush": {"max_rows": flush_rows, "max_buffered_rows": max(1_000_000, 2 * flush_rows)},
            "venues": others,
            "http": {"port": 0},
        }
    )


@dataclass(frozen=True)
class BenchDaemon:
    """A daemon ready to take frames, and the compiled mappings it commits with."""

    daemon: Daemon
    mappings: dict[str, CompiledMapping]


@contextlib.contextmanager
def fresh_daemon(
    venue: str, flush_rows: int, warehouse: Path | None = None
) -> Iterator[BenchDaemon]:
    """A daemon built as ``Daemon.run`` builds it, on a new lake (a temp dir by default),
    without ``run``'s websockets and HTTP server."""
    with contextlib.ExitStack() as stack:
        if warehouse is None:
            warehouse = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shbench-")))
        daemon = Daemon(bench_config(venue, warehouse, flush_rows))
        stack.callback(daemon._executor.shutdown, wait=True)  # run() ends with this too
        start = daemon.prepare_lake()  # what run() does first, in its worker thread
        daemon.build(start)
        stack.callback(settle_heap())  # what `schemahub serve` does once the daemon is built
        yield BenchDaemon(daemon, start.mappings)


def replay(
    venue: str,
    capture: str | Path,
    flush_rows: int,
    *,
    commit: bool = True,
    warehouse: Path | None = None,
) -> PipelineRun:
    """Replay the capture's frames through a fresh daemon; see the module docstring."""
    with fresh_daemon(venue, flush_rows, warehouse) as bench:
        daemon = bench.daemon
        run = PipelineRun(venue, commit, daemon.KEEP_PAYLOAD, flush_rows)
        asyncio.run(_replay(bench, run, Path(capture)))
        run.decode_seconds = decode_alone(venue, Path(capture))
        if commit:
            snapshot = daemon.lake.table(UNIFIED_TABLE).current_snapshot()
            total = snapshot.summary.get("total-records") if snapshot and snapshot.summary else 0
            run.rows_in_unified = int(total or 0)
    return run


async def _replay(bench: BenchDaemon, run: PipelineRun, capture: Path) -> None:
    daemon = bench.daemon
    ingest = daemon.ingest
    assert ingest is not None
    # Receive times are taken as the daemon takes them (time.time() at each frame): a saturated
    # daemon reads frames waiting in its socket much faster than they were sent.
    connection = bench_connection(daemon, run.venue, time.time)
    raw_buffer = daemon.buffers[decoder_for(run.venue).RAW_TABLE]
    for block in frame_blocks(capture):
        wall, cpu = time.perf_counter(), time.process_time()
        for frame in block:
            if not connection.take(frame.text):
                continue
            await connection.deliver_burst()
            if ingest.flush_requested.is_set():  # only a burst can fill the buffers
                run.bytes_per_row_at_drain.append(raw_buffer.nbytes / max(1, raw_buffer.rows))
                ingest.flush_requested.clear()
                await _flush(bench, run)
        run.frames += len(block)
        run.seconds += time.perf_counter() - wall
        run.cpu_seconds += time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    await connection.deliver_burst()
    await _flush(bench, run)  # what the daemon's clean stop does with the remainder
    run.seconds += time.perf_counter() - wall
    run.cpu_seconds += time.process_time() - cpu
    run.trades_admitted = daemon.sequencer.stats.admitted
    run.trades_in_frames = connection.shared.stats.trades


def bench_connection(daemon: Daemon, venue: str, clock: Callable[[], float]) -> Connection:
    """A connection of the daemon's own session for ``venue`` (built as ``Daemon.run`` opens
    it), never opened: the replay feeds it frames. ``clock`` gives the receive times."""
    assert daemon.ingest is not None
    config = daemon.config.venues.enabled()[venue]
    session = open_session(
        venue, config, daemon.ingest, keep_payload=daemon.KEEP_PAYLOAD, clock=clock
    )
    return session.new_connection(CONN_ID, list(config.symbols))


def decode_alone(venue: str, capture: Path) -> float:
    """Seconds of the columnar decode alone over the capture (not part of the end-to-end
    figure; it shows where the time goes)."""
    seconds = 0.0
    for block in frame_blocks(capture):
        texts = [frame.text for frame in block]
        started = time.perf_counter()
        for i in range(0, len(texts), BURST_FRAMES):
            decode_batch(venue, texts[i : i + BURST_FRAMES])
        seconds += time.perf_counter() - started
    return seconds


async def _flush(bench: BenchDaemon, run: PipelineRun) -> None:
    daemon = bench.daemon
    if not daemon.buffers.buffered_rows:
        return
    started = time.perf_counter()
    if run.commit:
        await daemon.flush()
        if daemon.status.last_commit_error:
            raise LakeError(f"benchmark commit failed: {daemon.status.last_commit_error}")
    else:
        _map_without_commit(bench)
    run.flush_seconds.append(time.perf_counter() - started)


def _map_without_commit(bench: BenchDaemon) -> None:
    """``--no-commit``: drain and map as a flush would, then drop the rows."""
    buffers = bench.daemon.buffers
    drained = buffers.drain()
    for name, rows in drained.tables.items():
        bench.mappings[name].apply(rows)
    buffers.release(drained)
