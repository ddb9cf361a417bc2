"""A burst's trades as Arrow columns land exactly as the same frames one by one would.

The websocket path hands the ingest columnar bursts (``Ingest.on_batch``); REST pages and
unusual frames come as records (``Ingest.accept``), the same admission for another shape.
Whatever the mix of streams, duplicates, id jumps and frame order, both ways must admit the
same trades, buffer the same rows and leave the same sequencer state.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.batching import BufferSet, RawBuffer
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import binance, coinbase
from schemahub.decode.base import DecodedFrame, FrameKind
from schemahub.decode.batch import FRAME_COLUMN, DecodedBatch
from schemahub.sequencing import Sequencer
from schemahub.venues.events import ReceivedBatch
from tests.batching.records import binance_record, coinbase_record


def ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


MODULES = {"binance": binance, "coinbase": coinbase}
RECORDS = {"binance": binance_record, "coinbase": coinbase_record}
STREAM = {"binance": "symbol", "coinbase": "product_id"}


def new_ingest(venue: str) -> Ingest:
    module = MODULES[venue]
    buffers = BufferSet({module.RAW_TABLE: RawBuffer(module.NATIVE_SCHEMA, chunk_rows=7)}, 10**6)
    return Ingest(Sequencer(), buffers, DaemonMetrics.create(), flush_rows=10**6)


def as_burst(venue: str, frames: list[list[dict]], times: list[float]) -> ReceivedBatch:
    """The frames as the columnar decoder returns them (every frame columnar)."""
    schema = MODULES[venue].NATIVE_SCHEMA
    rows = [r | {FRAME_COLUMN: i} for i, frame in enumerate(frames) for r in frame]
    table = pa.Table.from_pylist(rows, schema.append(pa.field(FRAME_COLUMN, pa.int32())))
    decoded = DecodedBatch(table, {}, None)
    return ReceivedBatch(venue, "c0", times, [100] * len(frames), decoded)


@st.composite
def bursts(draw: st.DrawFn) -> tuple[str, list[list[list[dict]]]]:
    """Bursts of frames over two streams: mostly the next ids, with repeats, jumps, reorders."""
    venue = draw(st.sampled_from(["binance", "coinbase"]))
    make = RECORDS[venue]
    pool = [make(i) for i in range(0, 120)]
    seed = draw(st.integers(0, 2**32))
    rng = random.Random(seed)
    result, cursor = [], 0
    for _ in range(draw(st.integers(1, 5))):
        frames = []
        for _ in range(rng.randint(0, 8)):
            kind = rng.random()
            if kind < 0.6:  # the next trades
                size = rng.randint(1, 4)
                frame = pool[cursor : cursor + size]
                cursor += size
            elif kind < 0.8:  # replayed trades
                frame = rng.sample(pool[: max(cursor, 1)], k=min(cursor, rng.randint(1, 3)))
            else:  # a jump forward
                cursor += rng.randint(1, 10)
                frame = pool[cursor : cursor + 1]
            if venue == "coinbase":
                frame = frame[::-1]  # newest first, as the venue sends them
            frames.append([dict(r) for r in frame if r])
        result.append([f for f in frames if f])
    return venue, result


@settings(max_examples=120, deadline=None)
@given(bursts())
async def test_columnar_bursts_land_what_frame_by_frame_would(case: tuple) -> None:
    venue, burst_list = case
    by_burst, by_frame = new_ingest(venue), new_ingest(venue)
    clock = 1_700_000_000.0
    for frames in burst_list:
        times = [clock + i * 0.001 for i in range(len(frames))]
        clock += 1
        if not frames:
            continue
        await by_burst.on_batch(as_burst(venue, frames, times))
        for frame, at in zip(frames, times, strict=True):
            decoded = DecodedFrame(FrameKind.TRADES, [dict(r) for r in frame])
            by_frame.accept(venue, decoded, f"ws:{venue}/c0", at, live=True)
    table = MODULES[venue].RAW_TABLE
    burst_rows = by_burst.buffers.drain().tables.get(table)
    frame_rows = by_frame.buffers.drain().tables.get(table)
    if frame_rows is None:
        assert burst_rows is None
    else:
        assert burst_rows is not None
        assert sorted(burst_rows.to_pylist(), key=str) == sorted(frame_rows.to_pylist(), key=str)
    assert by_burst.sequencer.snapshot() == by_frame.sequencer.snapshot()
    assert by_burst.sequencer.stats.admitted == by_frame.sequencer.stats.admitted
    assert by_burst.last_seen == by_frame.last_seen


async def test_a_burst_mixing_slow_frames_and_columns_admits_each_trade_once() -> None:
    ingest = new_ingest("binance")
    records = [binance_record(i) | {"symbol": "BTCUSDT"} for i in range(4)]
    burst = as_burst("binance", [[records[0]], [], [records[2], records[3]]], [1.0, 2.0, 3.0])
    # frame 1 came through the per-frame path (say, a field the fast path did not know)
    slow = DecodedFrame(FrameKind.TRADES, [records[1], records[2]])
    decoded = DecodedBatch(burst.decoded.trades, {1: slow}, None)
    await ingest.on_batch(ReceivedBatch("binance", "c0", [1.0, 2.0, 3.0], [9] * 3, decoded))
    rows = ingest.buffers.drain().tables["raw_binance_trades"]
    # in frame order: no gap ever opened, records[2] dropped the second time
    assert rows.column("trade_id").to_pylist() == [r["trade_id"] for r in records]
    assert rows.column("_source_ingest_ts").to_pylist() == [ts(1.0), ts(2.0), ts(2.0), ts(3.0)]
    stats = ingest.sequencer.stats
    assert (stats.admitted, stats.duplicates, stats.gaps_opened) == (4, 1, 0)
    metrics = ingest.metrics
    assert metrics.frames.get(venue="binance") == 3
    assert metrics.slow_frames.get(venue="binance") == 1
    assert metrics.duplicates.get(venue="binance") == 1


def test_string_trade_ids_must_be_ascii_digits() -> None:
    from schemahub.daemon.streams import trade_ids
    from schemahub.errors import DecodeError

    assert trade_ids(pa.chunked_array([["12", "007"]])).tolist() == [12, 7]
    for bad in (["1a"], ["١٢"], ["-1"], ["+1"], [" 1"], [""], ["1", "2 "]):
        with pytest.raises(DecodeError):
            trade_ids(pa.chunked_array([bad]))
