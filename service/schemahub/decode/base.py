"""What every venue decoder returns, and the checks they share.

A decoder is a pure function ``decode_frame(frame: str | bytes) -> DecodedFrame``: no I/O, no
clock. It turns one websocket frame into *native records*: dicts whose keys are the columns of
the venue's raw table (see each venue module's ``RAW_SCHEMA``), values already of the column's
Python type. A frame that carries no trades (ack, heartbeat, kline, aggTrade, ...) is ``CONTROL``;
one that cannot be understood is ``MALFORMED``; a trade inside a good frame that fails a check
(NaN or negative price, missing id, ...) becomes a :class:`Reject` while its siblings still land.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

NativeRecord = dict[str, Any]


class FrameKind(enum.Enum):
    """What a frame turned out to be."""

    TRADES = "trades"  # carried trades (possibly all rejected)
    CONTROL = "control"  # a known non-trade message: ack, heartbeat, other channel
    MALFORMED = "malformed"  # not JSON, or not a shape the protocol allows


@dataclass(frozen=True, slots=True)
class Reject:
    """A payload kept aside for the quarantine, with why it was refused."""

    reason: str
    payload: str


@dataclass(slots=True)
class DecodedFrame:
    """The outcome of decoding one frame."""

    kind: FrameKind
    trades: list[NativeRecord] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    # A short label for CONTROL frames ("heartbeat", "subscriptions", "aggTrade", ...).
    label: str | None = None
    # Coinbase Advanced Trade per-connection frame counter; a jump means frames were lost.
    sequence_num: int | None = None
    # Coinbase snapshot vs update, Kraken snapshot vs update; None when the venue has no notion.
    is_snapshot: bool = False
