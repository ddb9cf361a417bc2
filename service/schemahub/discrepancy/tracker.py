"""The in-memory state of the live feed: per pair group and venue, the last trade and quote.

The ingest path calls :meth:`Tracker.on_columns` once per admitted burst (after the sequencer,
so only new trades), :meth:`Tracker.on_records` for frames decoded one at a time, and
:meth:`Tracker.on_quotes` for top-of-book frames. Each call costs a few array operations and
one small dict per grouped symbol in the burst, never a Python loop over trades. Everything
else (spread, basis, staleness, threshold events) is computed when an update is built, at most
once per group per coalescing interval (:mod:`schemahub.discrepancy.feed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from schemahub.config import DiscrepancyConfig, PairGroup
from schemahub.decode import decoder_for
from schemahub.decode.base import NativeRecord, Quote, TradeTick
from schemahub.decode.batch import FRAME_COLUMN

# The native columns each venue's trade_tick reads (the rest of a row is not fetched).
TICK_COLUMNS = {
    "binance": ("symbol", "trade_id", "price", "qty", "trade_time", "is_buyer_maker"),
    "coinbase": ("product_id", "trade_id", "price", "size", "side", "time"),
    "kraken": ("symbol", "trade_id", "price", "qty", "side", "timestamp"),
}


@dataclass(slots=True)
class VenueState:
    """What one venue last said about one grouped symbol."""

    venue: str
    symbol: str
    quote_currency: str
    rate: float  # 1 unit of quote_currency in the group's currency
    trade: TradeTick | None = None
    trade_received: float = 0.0  # epoch seconds the daemon received it
    bid: float | None = None
    ask: float | None = None
    quote_received: float = 0.0

    def take_trade(self, tick: TradeTick, received: float) -> bool:
        """Keep ``tick`` if it is newer than the trade held (ids increase per stream)."""
        if self.trade is not None and int(tick.trade_id) <= int(self.trade.trade_id):
            return False
        self.trade, self.trade_received = tick, received
        return True

    def take_quote(self, quote: Quote, received: float) -> None:
        self.bid, self.ask, self.quote_received = quote.bid, quote.ask, received


@dataclass(slots=True)
class ThresholdWatch:
    """Crossing events with hysteresis: "above" when the spread reaches ``threshold``, then
    "below" only once it is under ``threshold - hysteresis``."""

    threshold: float
    hysteresis: float
    above: bool = False

    def update(self, spread_bps: float | None) -> str | None:
        """The event this spread causes ("above", "below"), or None."""
        if spread_bps is None:
            return None
        if not self.above and spread_bps >= self.threshold:
            self.above = True
            return "above"
        if self.above and spread_bps < self.threshold - self.hysteresis:
            self.above = False
            return "below"
        return None


@dataclass(slots=True)
class GroupState:
    """One pair group: its venues' states, whether it changed since the last update, and
    its threshold watch."""

    name: str
    config: PairGroup
    venues: dict[str, VenueState]
    watch: ThresholdWatch
    dirty: bool = True
    events: list[dict] = field(default_factory=list)


class Tracker:
    """Last trade and quote per venue per pair group, fed by the ingest path."""

    def __init__(self, config: DiscrepancyConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.groups: dict[str, GroupState] = {}
        # venue -> symbol -> state (the same objects as in the groups)
        self._by_symbol: dict[str, dict[str, VenueState]] = {}
        for name, group in config.groups.items():
            states = {}
            for venue, member in group.members.items():
                rate = 1.0 if member.quote == group.quote else group.conversions[member.quote]
                state = VenueState(venue, member.symbol, member.quote, rate)
                states[venue] = state
                self._by_symbol.setdefault(venue, {})[member.symbol] = state
            watch = ThresholdWatch(config.threshold_bps, config.hysteresis_bps)
            self.groups[name] = GroupState(name, group, states, watch)
        self._group_of = {
            id(state): group for group in self.groups.values() for state in group.venues.values()
        }
        # per venue: its trade_tick, and (name, position) of the columns it reads
        self._tick_of: dict[str, Callable[[NativeRecord], TradeTick]] = {}
        self._tick_fields: dict[str, list[tuple[str, int]]] = {}
        for venue in self._by_symbol:
            decoder = decoder_for(venue)
            self._tick_of[venue] = decoder.trade_tick  # type: ignore[attr-defined]
            names = decoder.NATIVE_SCHEMA.names
            self._tick_fields[venue] = [(c, names.index(c)) for c in TICK_COLUMNS[venue]]

    def symbols(self, venue: str) -> list[str]:
        """The grouped symbols of ``venue`` (whose quotes the sessions subscribe)."""
        return list(self._by_symbol.get(venue, {}))

    # -- fed by the ingest path -----------------------------------------------------------

    def on_columns(
        self, venue: str, stream_field: str, trades: pa.Table, received_us: np.ndarray
    ) -> None:
        """An admitted burst of ``venue``'s native columns (``received_us``: the receive time
        of each row, epoch microseconds): keep the newest trade of each grouped symbol.

        The newest trade is in the symbol's last frame, but not always its last row (Coinbase
        lists a frame's trades newest first), so the ids of that frame's rows decide."""
        watched = self._by_symbol.get(venue)
        if not watched or not trades.num_rows:
            return
        column = trades.column(stream_field)
        chunk = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        if not isinstance(chunk, pa.DictionaryArray):
            chunk = chunk.dictionary_encode()
        names = chunk.dictionary.to_pylist()
        codes = chunk.indices.to_numpy(zero_copy_only=False)
        backwards = codes[::-1]
        frames: np.ndarray | None = None
        for code, name in enumerate(names):
            state = watched.get(name)
            if state is None:
                continue
            hits = backwards == code
            last = int(hits.argmax())
            if not hits[last]:
                continue  # a dictionary entry this slice does not use
            if frames is None:
                frames = trades.column(FRAME_COLUMN).to_numpy()
            row = _newest_row(trades, codes, frames, code, len(codes) - 1 - last)
            record = _row(trades, self._tick_fields[venue], row)
            self._take(venue, state, record, float(received_us[row]) / 1e6)

    def on_records(
        self, venue: str, stream_field: str, records: Sequence[NativeRecord], received: float
    ) -> None:
        """Admitted native records of one frame decoded on its own."""
        watched = self._by_symbol.get(venue)
        if not watched:
            return
        newest: dict[str, NativeRecord] = {}
        for record in records:  # one frame's trades: a handful, in the venue's order
            symbol = record[stream_field]
            if symbol in watched:
                held = newest.get(symbol)
                if held is None or int(record["trade_id"]) > int(held["trade_id"]):
                    newest[symbol] = record
        for symbol, record in newest.items():
            self._take(venue, watched[symbol], record, received)

    def on_quotes(self, venue: str, quotes: Iterable[Quote], received: float) -> None:
        """Top-of-book quotes of one frame."""
        watched = self._by_symbol.get(venue)
        if not watched:
            return
        for quote in quotes:
            state = watched.get(quote.symbol)
            if state is not None:
                state.take_quote(quote, received)
                self._group_of[id(state)].dirty = True

    def _take(self, venue: str, state: VenueState, record: NativeRecord, received: float) -> None:
        tick = self._tick_of[venue](record)
        if state.take_trade(tick, received):
            self._group_of[id(state)].dirty = True


def _newest_row(
    trades: pa.Table, codes: np.ndarray, frames: np.ndarray, code: int, last: int
) -> int:
    """The row of the highest trade id among the rows of symbol ``code`` in the frame of row
    ``last`` (its last row in the burst; a frame's rows are contiguous, frames ascending)."""
    start = int(np.searchsorted(frames, frames[last]))
    if start == last:
        return last
    rows = [start + i for i in np.flatnonzero(codes[start : last + 1] == code).tolist()]
    ids = trades.column("trade_id").slice(start, last + 1 - start).to_pylist()
    return max(rows, key=lambda row: int(ids[row - start]))


def _row(trades: pa.Table, fields: list[tuple[str, int]], row: int) -> NativeRecord:
    """One row of the named columns (at their positions: a burst's columns are the venue's
    native schema in order) as a dict, read through each column's array."""
    record = {}
    for name, index in fields:
        column = trades.column(index)
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        record[name] = array[row].as_py()
    return record
