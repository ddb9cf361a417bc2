"""Large benchmark captures, generated offline from the simulator's tape and frame builders.

The trades come from :class:`~schemahub.sim.tape.Tape` (seeded, deterministic), and each
venue's frames are built by the simulator's own per-venue builders, so a capture holds exactly
what ``schemahub sim`` would send (with no faults):

- ``binance``: one combined-stream frame per trade, ``{"stream":"btcusdt@trade","data":{...}}``;
- ``coinbase``: Advanced Trade ``market_trades`` ``update`` frames, the trades of one product
  within one tape tick, newest first, with a counting ``sequence_num``;
- ``kraken``: websocket v2 ``trade`` ``update`` frames, the trades of one symbol within one tick.

Every line is a ``recv`` line of the capture format (see :mod:`schemahub.capture`), timestamped
a few milliseconds after the trades it carries. No network, no clock: the same arguments give
the same file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from schemahub.capture import CaptureLine
from schemahub.errors import UsageError
from schemahub.sim.binance import trade_event
from schemahub.sim.coinbase import advanced_trade
from schemahub.sim.fmt import iso_nanos_trimmed
from schemahub.sim.kraken import trade_frame
from schemahub.sim.markets import VENUES, market
from schemahub.sim.tape import Tape, Trade
from schemahub.sim.venue import dumps

DEFAULT_SYMBOLS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: fixed, so captures are repeatable
TICK_MS = 10  # how often the simulator moves its tape (SimConfig.tick_s)
WIRE_DELAY_MS = 3  # receive time after the trade time


@dataclass(frozen=True, slots=True)
class CaptureSummary:
    """What :func:`write_capture` wrote."""

    path: Path
    venue: str
    trades: int
    frames: int
    bytes: int


def write_capture(
    path: str | Path,
    venue: str,
    trades: int,
    *,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    rate: float = 5_000.0,
    seed: int = 1,
    start_ms: int = DEFAULT_START_MS,
) -> CaptureSummary:
    """Write a capture of exactly ``trades`` trades of ``venue`` to ``path``.

    ``rate`` is trades a second over all ``symbols`` together (it sets how many trades share a
    tick, hence a Coinbase or Kraken frame).
    """
    if venue not in VENUES:
        raise UsageError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")
    if trades < 1 or rate <= 0 or not symbols:
        raise UsageError(
            f"expected trades >= 1, rate > 0 and some symbols; got {trades}, {rate}, {symbols}"
        )
    target = Path(path)
    frames = written = 0
    with open(target, "wb") as out:
        lines = (
            CaptureLine("recv", ts, frame).to_json() + b"\n"
            for ts, frame in venue_frames(venue, trades, symbols, rate, seed, start_ms)
        )
        for line in lines:
            out.write(line)
            frames += 1
            written += len(line)
    return CaptureSummary(target, venue, trades, frames, written)


def venue_frames(
    venue: str,
    trades: int,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    rate: float = 5_000.0,
    seed: int = 1,
    start_ms: int = DEFAULT_START_MS,
) -> Iterator[tuple[float, str]]:
    """``(receive time in epoch seconds, frame text)`` for ``trades`` trades of ``venue``."""
    markets = [market(venue, base) for base in symbols]
    tape = Tape(markets, seed, start_ms, rate / len(markets), lags_ms={})
    build = _BUILDERS[venue]
    state = _FrameState()
    left = trades
    now = start_ms
    while left > 0:
        now += TICK_MS
        tick = tape.advance_to(now)[:left]
        left -= len(tick)
        received = (now + WIRE_DELAY_MS) / 1000.0
        for frame in build(tick, state):
            yield received, frame


@dataclass(slots=True)
class _FrameState:
    sequence_num: int = 0  # Coinbase Advanced counts the frames of a connection


def _by_symbol(tick: list[Trade]) -> dict[str, list[Trade]]:
    """The trades of one tick grouped per symbol, in time order (dicts keep insertion order)."""
    groups: dict[str, list[Trade]] = {}
    for trade in tick:
        groups.setdefault(trade.symbol, []).append(trade)
    return groups


def _binance(tick: list[Trade], _state: _FrameState) -> Iterator[str]:
    for trade in tick:
        raw = dumps(trade_event(trade, trade.ts_ms + 1))
        yield f'{{"stream":"{trade.symbol.lower()}@trade","data":{raw}}}'


def _coinbase(tick: list[Trade], state: _FrameState) -> Iterator[str]:
    for trades in _by_symbol(tick).values():
        newest = trades[-1].ts_ms
        events = [{"type": "update", "trades": [advanced_trade(t) for t in reversed(trades)]}]
        frame = {
            "channel": "market_trades",
            "timestamp": iso_nanos_trimmed((newest + 1) * 1_000_000),
            "sequence_num": state.sequence_num,
            "events": events,
        }
        state.sequence_num += 1
        yield dumps(frame)


def _kraken(tick: list[Trade], _state: _FrameState) -> Iterator[str]:
    for trades in _by_symbol(tick).values():
        yield trade_frame("update", trades)


_BUILDERS: dict[str, Callable[[list[Trade], _FrameState], Iterator[str]]] = {
    "binance": _binance,
    "coinbase": _coinbase,
    "kraken": _kraken,
}
