"""What a websocket session hands to the daemon: decoded frames, connection events, counters.

The daemon implements :class:`FrameSink`. A connection hands over what it received in one short
burst as a :class:`ReceivedBatch` and awaits ``on_batch`` before reading on, so a slow sink slows
reading (backpressure) instead of filling memory.

Streams in events are the venue's own symbols as they appear in decoded records (``BTCUSDT``,
``BTC-USD``, ``BTC/USD``), so the sequencer can key them as (exchange, symbol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Protocol

from schemahub.decode.base import DecodedFrame, FrameKind
from schemahub.decode.batch import FRAME_COLUMN, DecodedBatch
from schemahub.errors import SubscriptionError


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One websocket frame, decoded, with where and when it arrived."""

    venue: str
    conn_id: str
    received_at: float  # epoch seconds
    size: int  # bytes on the wire (text encoded as UTF-8)
    decoded: DecodedFrame


@dataclass(frozen=True, slots=True)
class ReceivedBatch:
    """Frames one connection received in a short burst, decoded together, in arrival order."""

    venue: str
    conn_id: str
    received_at: Sequence[float]  # per frame, epoch seconds
    sizes: Sequence[int]  # per frame, bytes on the wire
    decoded: DecodedBatch
    # The frames as received: quarantined if our own code fails on the burst.
    texts: Sequence[str | bytes] = ()

    def __len__(self) -> int:
        return len(self.received_at)

    def frames(self) -> list[ReceivedFrame]:
        """The batch frame by frame, each as the per-frame decoder gives it (for sinks that
        look at one frame at a time, such as tools and tests)."""
        decoded = self.decoded
        columnar = decoded.trades
        records = columnar.drop_columns([FRAME_COLUMN]).to_pylist()
        by_frame = {
            index: [records[i] for i, _ in rows]
            for index, rows in groupby(
                enumerate(columnar.column(FRAME_COLUMN).to_pylist()), key=lambda r: r[1]
            )
        }
        sequence_nums = decoded.sequence_nums
        frames = []
        for index, (at, size) in enumerate(zip(self.received_at, self.sizes, strict=True)):
            frame = decoded.slow.get(index)
            if frame is None:
                seq = sequence_nums[index] if sequence_nums is not None else None
                frame = DecodedFrame(FrameKind.TRADES, by_frame.get(index, []), sequence_num=seq)
            frames.append(ReceivedFrame(self.venue, self.conn_id, at, size, frame))
        return frames


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection is open and its subscriptions were sent."""

    venue: str
    conn_id: str
    streams: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class Disconnected:
    """A connection ended. Trades of ``streams`` between ``last_frame_at`` (the connect time when
    no frame came) and ``at`` may have been missed, unless ``planned`` (a rotation, whose
    successor was subscribed before this one closed)."""

    venue: str
    conn_id: str
    streams: tuple[str, ...]
    last_frame_at: float | None
    at: float
    reason: str
    planned: bool = False


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """Coinbase Advanced ``sequence_num`` jumped: frames ``expected .. got - 1`` were lost."""

    venue: str
    conn_id: str
    expected: int
    got: int
    at: float


@dataclass(frozen=True, slots=True)
class SubscriptionRejected:
    """The venue refused one stream; the session stops asking for it."""

    venue: str
    conn_id: str
    symbol: str
    error: SubscriptionError
    at: float


SessionEvent = Connected | Disconnected | SequenceGap | SubscriptionRejected


class FrameSink(Protocol):
    """Where a session delivers what it receives (the daemon implements this)."""

    async def on_batch(self, batch: ReceivedBatch, *, backpressure: bool = True) -> None:
        """Take one decoded burst of frames. With ``backpressure`` the sink may return late
        (while it is full), which slows the reading of the connection; without (a connection
        closing), it takes the burst and returns at once."""
        ...

    async def on_event(self, event: SessionEvent) -> None:
        """Take one connection event."""
        ...


@dataclass(slots=True)
class SessionStats:
    """Counters of one venue's websocket session, for /metrics (plain ints, never reset)."""

    frames: int = 0
    bytes: int = 0
    trades: int = 0
    rejects: int = 0
    control: int = 0
    malformed: int = 0
    binary: int = 0
    oversize: int = 0
    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    error_closes: int = 0
    silences: int = 0
    rotations: int = 0
    sequence_gaps: int = 0
    subscriptions_rejected: int = 0
    sends: int = 0
    bursts: int = 0  # bursts handed on
    gathered: int = 0  # burst windows whose frames waited in the socket, to be read at once
    internal_errors: int = 0  # our own code failed on a connection (reconnected, not fatal)
    by_label: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The counters as a plain dict."""
        return asdict(self)
