"""A connection hands on what it read in bursts: the frames of a burst arrive once, in order,
decoded as the per-frame decoder would, and a closing connection hands on its last burst
without waiting on a full sink."""

from __future__ import annotations

import asyncio

from schemahub.config import Config
from schemahub.decode import decoder_for
from schemahub.decode.base import FrameKind
from schemahub.venues import open_session
from schemahub.venues.connection import BURST_SECONDS
from schemahub.venues.events import ReceivedBatch
from tests.venues.helpers import KeepingSink


def trade(i: int) -> str:
    return (
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1767225600001,"s":"BTCUSDT",'
        f'"t":{100 + i},"p":"65000.10","q":"0.5","T":1767225600000,"m":true,"M":true}}}}'
    )


class FullSink(KeepingSink):
    """A sink that is always full: with backpressure it never returns."""

    def __init__(self) -> None:
        super().__init__()
        self.backpressure: list[bool] = []

    async def on_batch(self, batch: ReceivedBatch, *, backpressure: bool = True) -> None:
        await super().on_batch(batch)
        self.backpressure.append(backpressure)
        if backpressure:
            await asyncio.Event().wait()


def connection(sink: KeepingSink, clock: list[float]):
    config = Config.model_validate({}).venues.binance
    session = open_session("binance", config, sink, keep_payload=False, clock=lambda: clock[0])
    return session.new_connection("binance-0.0", ["BTCUSDT"])


async def test_a_closing_connection_hands_on_its_last_burst_without_waiting() -> None:
    sink, clock = FullSink(), [1.0]
    conn = connection(sink, clock)
    for i in range(3):
        clock[0] = 1.0 + i
        conn.take(trade(i))
    await asyncio.wait_for(conn.close("test over"), timeout=5)
    assert sink.backpressure == [False]
    assert [f.received_at for f in sink.frames] == [1.0, 2.0, 3.0]
    assert sink.ids["BTCUSDT"] == [100, 101, 102]
    await conn.close("again")  # a second close delivers nothing twice
    assert len(sink.frames) == 3


async def test_a_burst_reads_as_the_per_frame_decoder_reads_each_frame() -> None:
    sink, clock = KeepingSink(), [5.0]
    conn = connection(sink, clock)
    frames: list[str | bytes] = [
        trade(0),
        '{"result":null,"id":1}',
        trade(1).replace('"p":"65000.10"', '"p":"NaN"'),
        b"\x00binary",
        "not json",
        trade(2),
    ]
    for frame in frames:
        conn.take(frame)
    await conn.deliver_burst()
    assert len(sink.frames) == len(frames)
    decode = decoder_for("binance").decode_frame
    for frame, got in zip(frames, sink.frames, strict=True):
        if isinstance(frame, bytes):
            assert got.decoded.kind is FrameKind.MALFORMED
            assert "binary" in got.decoded.rejects[0].reason
            continue
        want = decode(frame, keep_payload=False)
        assert (got.decoded.kind, got.decoded.trades) == (want.kind, want.trades)
        assert [r.reason for r in got.decoded.rejects] == [r.reason for r in want.rejects]
    stats = conn.shared.stats
    # two trades land; the NaN trade, the binary and the non-JSON frames are rejects
    assert (stats.frames, stats.trades, stats.rejects, stats.binary) == (6, 2, 3, 1)


def test_a_burst_waits_at_most_burst_seconds_even_if_the_clock_steps_back() -> None:
    clock = [1_000.0]
    conn = connection(KeepingSink(), clock)
    assert not conn.take(trade(0))  # one frame: not due yet
    clock[0] = 0.0  # the wall clock stepped back (NTP)
    # the read loop waits this long for more frames before handing the burst on
    assert 0.0 <= conn._time_to_wait() <= BURST_SECONDS
    clock[0] = 1_000.0 + 2 * BURST_SECONDS
    assert conn.take(trade(1))  # due by age
