"""What every venue decoder returns, and the frame-level helpers they share.

A decoder is a pure function ``decode_frame(frame: str | bytes, keep_payload=True) ->
DecodedFrame``: no I/O, no clock, and it never raises on venue input. It turns one websocket
frame into *native records*: dicts whose keys are the columns of the venue's raw table (see each
venue module's ``NATIVE_SCHEMA``), values already of the column's Python type, plus
``_raw_payload`` (the trade's own JSON text) when ``keep_payload`` is true.

A frame that carries no trades (ack, heartbeat, kline, aggTrade, ...) is ``CONTROL``; one that
cannot be understood is ``MALFORMED`` and carries exactly one :class:`Reject` (the reason and the
whole frame text, ready for the quarantine); a trade inside a good frame that fails a check (NaN or
negative price, missing id, ...) becomes a :class:`Reject` while its siblings still land.

Venue modules raise :class:`~schemahub.errors.DecodeError` for a bad envelope;
:func:`decode_envelope` turns that into a ``MALFORMED`` frame, so the dispatch code stays flat.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import pyarrow as pa

from schemahub.errors import DecodeError, UsageError

NativeRecord = dict[str, Any]
PAYLOAD_KEY = "_raw_payload"


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
    # A short label for CONTROL frames ("heartbeat", "subscriptions", "aggTrade", ...), and
    # "error" for a venue's error reply (CONTROL on websockets, MALFORMED on REST pages).
    label: str | None = None
    # Coinbase Advanced Trade per-connection frame counter; a jump means frames were lost.
    sequence_num: int | None = None
    # Coinbase snapshot vs update, Kraken snapshot vs update; None when the venue has no notion.
    is_snapshot: bool = False
    # The venue's own words for an error reply (label "error"), or which legacy event it was.
    detail: str | None = None
    # REST paging cursor the venue returned in the body (Kraken's ``last``), else None.
    cursor: str | None = None
    # Top-of-book quotes a CONTROL frame carried (bookTicker, ticker): for the live feed only,
    # never stored or quarantined.
    quotes: list[Quote] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Quote:
    """A venue's best bid and ask for one symbol, as one quote frame gave them."""

    symbol: str
    bid: float
    ask: float


@dataclass(frozen=True, slots=True)
class TradeTick:
    """One trade as the live feed shows it: the venue's id, floats, the TAKER side, and its
    time in epoch microseconds (see each venue module's ``trade_tick``)."""

    symbol: str
    trade_id: str
    price: float
    size: float
    side: str  # BUY | SELL, the taker
    trade_ts_us: int


class VenueDecoder(Protocol):
    """What :func:`schemahub.decode.decoder_for` returns (each venue module fits it)."""

    VENUE: str
    RAW_TABLE: str
    NATIVE_SCHEMA: pa.Schema

    def decode_frame(self, frame: str | bytes, keep_payload: bool = True) -> DecodedFrame: ...

    def decode_rest_trades(
        self, body: str | bytes, symbol: str, keep_payload: bool = True
    ) -> DecodedFrame: ...


def frame_text(frame: str | bytes) -> str:
    """The frame as text for a quarantine payload (bytes that are not UTF-8 are replaced)."""
    return frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")


def dump(value: Any) -> str:
    """Compact JSON text of a parsed value (what ``_raw_payload`` holds)."""
    return orjson.dumps(value).decode()


def parse_json(frame: str | bytes) -> Any:
    """Parse a frame or body with orjson; raises :class:`DecodeError` when it is not JSON."""
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON ({exc})") from None
    except TypeError:
        raise DecodeError(f"expected text or bytes, got {type(frame).__name__}") from None


def control(label: str, detail: str | None = None, sequence_num: int | None = None) -> DecodedFrame:
    """A CONTROL outcome."""
    return DecodedFrame(FrameKind.CONTROL, label=label, detail=detail, sequence_num=sequence_num)


def malformed(
    frame: str | bytes, reason: str, label: str | None = None, detail: str | None = None
) -> DecodedFrame:
    """A MALFORMED outcome carrying one Reject with the whole frame text."""
    return DecodedFrame(
        FrameKind.MALFORMED,
        rejects=[Reject(reason, frame_text(frame))],
        label=label,
        detail=detail,
    )


def decode_envelope(
    frame: str | bytes, dispatch: Callable[[Any, str | bytes], DecodedFrame]
) -> DecodedFrame:
    """Parse ``frame`` and hand the value to ``dispatch``; a DecodeError becomes MALFORMED.

    orjson reads up to 1024 levels of nesting but writes only 255, so a trade object nested
    deeper cannot be re-serialized for its payload: the whole frame is MALFORMED then.
    """
    try:
        return dispatch(parse_json(frame), frame)
    except DecodeError as exc:
        return malformed(frame, str(exc))
    except orjson.JSONEncodeError as exc:
        return malformed(frame, f"a trade object cannot be re-serialized ({exc})")


FastPath = Callable[[Any, str | bytes, bool], DecodedFrame | None]
FullPath = Callable[[Any, str | bytes, bool], DecodedFrame]


def decode_fast_or_full(
    frame: str | bytes, fast: FastPath, full: FullPath, keep_payload: bool
) -> DecodedFrame:
    """A venue's ``decode_frame``: the frame parsed once (through :func:`decode_envelope`),
    then its fast path on the value (the usual trade frame decoded with cheap checks; it only
    reads the value), else its full path, ``full(value, raw, keep_payload)``, which decides
    (and explains) every reject, so the fast path giving up is never an answer by itself."""

    def fast_or_full(value: Any, raw: str | bytes) -> DecodedFrame:
        try:
            decoded = fast(value, raw, keep_payload)
        except (orjson.JSONEncodeError, TypeError):
            decoded = None  # a payload orjson cannot write: the full path reports it
        return decoded if decoded is not None else full(value, raw, keep_payload)

    return decode_envelope(frame, fast_or_full)


def venue_error(frame: str | bytes, detail: str) -> DecodedFrame:
    """A REST body that is the venue's error reply: MALFORMED, label "error", venue's words."""
    return malformed(frame, f"venue error: {detail}", label="error", detail=detail)


def require_list(value: Any, what: str) -> list[Any]:
    """``value`` if it is a JSON array, else a DecodeError naming ``what``."""
    if not isinstance(value, list):
        raise DecodeError(f"{what}: expected a JSON array, got {json_type(value)}")
    return value


def require_symbol(symbol: Any) -> str:
    """The caller's symbol argument of a REST decoder; anything but a non-empty string is a bug
    of the caller, so this raises :class:`UsageError` rather than quarantining the page."""
    if not isinstance(symbol, str) or not symbol:
        raise UsageError(f"symbol argument must be a non-empty string, got {symbol!r}")
    return symbol


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shape_of(value: Any) -> str:
    """A short description of an unknown JSON value, for MALFORMED reasons."""
    if isinstance(value, dict):
        keys = ", ".join(sorted(map(str, value))[:8])
        return f"object with keys [{keys}]"
    return json_type(value)
