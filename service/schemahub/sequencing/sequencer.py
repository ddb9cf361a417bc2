"""Per-stream exactly-once bookkeeping: drop what was already admitted, turn holes into gaps.

A stream is (exchange, symbol); its offset is the venue trade id, which grows by exactly 1 per
trade. For each stream the :class:`Sequencer` keeps the high-water mark (the highest id admitted)
and the open gaps (ids below it known to be missing). Everything here is in memory and pure: the
daemon persists :meth:`Sequencer.snapshot` with each commit (see ``offsets.py``) and rebuilds a
sequencer from it on start. Not thread-safe: call it from the event loop only.

A stream without state starts at its first live trade, which is right only if its connection
stayed up until then. So a subscribed stream without state is *owed* from its subscription time
(:meth:`Sequencer.owe_since`); when its connection drops before that first trade, or when the
owed time comes from committed offsets (the process that subscribed died), the stream needs an
*anchor*: the first id the venue holds at or after that time (the gap filler asks the venue),
and every id from there to the stream's first trade becomes a gap (:meth:`Sequencer.anchor`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from schemahub.decode.base import NativeRecord
from schemahub.errors import DecodeError, OffsetsError, UsageError
from schemahub.sequencing import ranges
from schemahub.sequencing.ranges import Range


class StreamKey(NamedTuple):
    """A stream: the exchange and the symbol as the venue names it (``BTCUSDT``, ``BTC-USD``)."""

    exchange: str
    symbol: str


@dataclass(frozen=True, slots=True)
class Gap:
    """Trade ids ``first_missing_id..last_missing_id`` (inclusive) of a stream are missing."""

    exchange: str
    symbol: str
    first_missing_id: int
    last_missing_id: int

    @property
    def size(self) -> int:
        """How many trade ids the gap spans."""
        return self.last_missing_id - self.first_missing_id + 1


@dataclass(frozen=True, slots=True)
class LostGap:
    """A gap given up on (the venue's history no longer holds it), with why."""

    gap: Gap
    reason: str


@dataclass(frozen=True, slots=True)
class StreamState:
    """What the sequencer knows of one stream; ranges are sorted, merged, inclusive, and end at
    or below the high-water mark (the highest id admitted or known to exist).

    ``lost`` holds the ids given up with :meth:`Sequencer.mark_lost`, kept so that they stay
    visible in the offsets after a restart. ``owed_since`` (epoch seconds) marks a stream whose
    trades are owed from that time on while its first owed id is not known yet; ``owed_below``
    is then the first id it admitted (None before any): the ids from the anchor up to it are
    owed.
    """

    high_water: int | None = None
    gaps: tuple[Range, ...] = ()
    lost: tuple[Range, ...] = ()
    owed_since: float | None = None
    owed_below: int | None = None

    def problem(self) -> str | None:
        """Why this state is inconsistent, or None when it is sound."""
        hw = self.high_water
        why = self._owed_problem()
        if why:
            return why
        if hw is None:
            return None if not (self.gaps or self.lost) else "gaps or lost ids without high_water"
        if not isinstance(hw, int) or isinstance(hw, bool):
            return f"high_water must be an integer or None, got {hw!r}"
        for what, rngs in (("gaps", self.gaps), ("lost", self.lost)):
            why = ranges.check_ranges(rngs, what)
            if why:
                return why
            # A gap may end at the high-water mark itself: expect_through raises the mark to an
            # id the venue reported but we have not received yet.
            if rngs and rngs[-1][1] > hw:
                return f"{what} must lie at or below high_water {hw}, got {rngs[-1]!r}"
        if ranges.overlaps(self.gaps, self.lost):
            return "an id cannot be both in an open gap and lost"
        return None

    def _owed_problem(self) -> str | None:
        since, below, hw = self.owed_since, self.owed_below, self.high_water
        if since is None:
            return None if below is None else "owed_below without owed_since"
        if not isinstance(since, int | float) or isinstance(since, bool) or since < 0:
            return f"owed_since must be epoch seconds, got {since!r}"
        if (hw is None) != (below is None):
            return "owed_below must be given exactly when high_water is"
        if below is not None and (not ranges.is_int(below) or below > hw):  # type: ignore[operator]
            return f"owed_below {below!r} must be an integer at or below high_water {hw}"
        return None


@dataclass(slots=True)
class SequencerStats:
    """Running counters for metrics."""

    admitted: int = 0  # ids kept
    duplicates: int = 0  # ids dropped: already admitted, or repeated within a call
    gaps_opened: int = 0  # holes found above the high-water mark
    gap_ids_opened: int = 0  # ids those holes span
    gap_ids_filled: int = 0  # ids admitted from inside an open gap
    ids_lost: int = 0  # ids given up with mark_lost
    anchors: int = 0  # owed streams anchored with anchor()


@dataclass(slots=True)
class _Stream:
    high_water: int | None = None
    gaps: list[Range] = field(default_factory=list)
    lost: list[Range] = field(default_factory=list)
    start: int | None = None  # from start_at, used by the first admit of a fresh stream
    owed_since: float | None = None  # see StreamState
    owed_below: int | None = None
    needs_anchor: bool = False  # its first owed id must be asked of the venue

    def take(self, uniq: list[int], stats: SequencerStats) -> list[int]:
        """Admit sorted distinct ids; return the ones kept (ascending)."""
        if self.high_water is None:
            first = uniq[0] if self.start is None else min(uniq[0], self.start)
            self.high_water, self.start = first - 1, None
            if self.needs_anchor:
                self.owed_below = first
            else:  # the first trade of an unbroken first connection: the first one owed
                self.owed_since = None
        hw = self.high_water
        split = 0 if uniq[0] > hw else bisect_right(uniq, hw)
        filled: list[int] = []
        if split and self.gaps:
            self.gaps, filled = ranges.remove_ids(self.gaps, uniq[:split])
            stats.gap_ids_filled += len(filled)
        new = uniq[split:] if split else uniq
        if new:
            if new[0] != hw + 1 or new[-1] - hw != len(new):  # not simply the next ids
                self._open_gaps(hw, new, stats)
            self.high_water = new[-1]
        return filled + new if filled else new

    def _open_gaps(self, hw: int, new: list[int], stats: SequencerStats) -> None:
        prev = hw
        for x in new:
            if x > prev + 1:
                self._add_gap(prev + 1, x - 1, stats)
            prev = x

    def _add_gap(self, lo: int, hi: int, stats: SequencerStats) -> None:
        if self.gaps and self.gaps[-1][1] == lo - 1:  # after expect_through, hw may be missing
            self.gaps[-1] = (self.gaps[-1][0], hi)
        else:
            self.gaps.append((lo, hi))
        stats.gaps_opened += 1
        stats.gap_ids_opened += hi - lo + 1

    def state(self) -> StreamState:
        return StreamState(
            self.high_water, tuple(self.gaps), tuple(self.lost), self.owed_since, self.owed_below
        )


class Sequencer:
    """Decides, per stream, which trade ids are new; keeps the high-water mark and open gaps."""

    def __init__(self, initial: Mapping[tuple[str, str], StreamState] | None = None) -> None:
        """Start from committed states (e.g. ``decode_offsets(...)``), or from nothing."""
        self._streams: dict[tuple[str, str], _Stream] = {}  # keys are StreamKeys
        self._lost: list[LostGap] = []
        self._anchors_wanted: set[StreamKey] = set()
        self.stats = SequencerStats()
        for key, state in (initial or {}).items():
            why = state.problem()
            if why:
                raise OffsetsError(f"invalid state for stream {tuple(key)!r}: {why}")
            # Owed in committed offsets: the process that subscribed may have missed trades.
            stream_key = StreamKey(*key)
            self._streams[stream_key] = _Stream(
                state.high_water,
                list(state.gaps),
                list(state.lost),
                owed_since=state.owed_since,
                owed_below=state.owed_below,
                needs_anchor=state.owed_since is not None,
            )
            if state.owed_since is not None:
                self._anchors_wanted.add(stream_key)

    def admit(self, exchange: str, symbol: str, trade_ids: Sequence[int]) -> list[bool]:
        """Which of ``trade_ids`` to keep: a mask of the same length, True for new ids.

        An id is dropped when it was admitted before (at or below the high-water mark and not in
        an open gap) or already appeared earlier in this call. An id inside a gap is kept and
        taken out of the gap; an id above the high-water mark opens a gap over any ids skipped.
        Ids may come in any order. A stream without state starts at the smallest id of its first
        call (or at ``start_at``'s id), with no gap before it.
        """
        n = len(trade_ids)
        if n == 0:
            return []
        try:
            uniq = sorted(set(trade_ids)) if n > 1 else list(trade_ids)
        except TypeError:  # unorderable mix, e.g. ints and strs
            uniq = [None]
        if type(uniq[0]) is not int or type(uniq[-1]) is not int:  # also refuses bools
            raise UsageError(
                f"trade ids of {exchange}/{symbol} must be ints, got {trade_ids[0]!r:.40} "
                f"({type(trade_ids[0]).__name__}) among them"
            )
        stream = self._streams.get((exchange, symbol))
        if stream is None:
            stream = self._streams[StreamKey(exchange, symbol)] = _Stream()
        kept = stream.take(uniq, self.stats)
        self.stats.admitted += len(kept)
        self.stats.duplicates += n - len(kept)
        if len(kept) == n:
            return [True] * n
        wanted = set(kept)
        mask = []
        for x in trade_ids:
            if x in wanted:
                wanted.discard(x)  # later repeats within the call are duplicates
                mask.append(True)
            else:
                mask.append(False)
        return mask

    def admit_array(self, exchange: str, symbol: str, trade_ids: np.ndarray) -> np.ndarray | None:
        """:meth:`admit` for an int64 array of ids: None when every id is kept, else the mask.

        The usual case of a live burst, exactly the next ``len(trade_ids)`` ids of a stream with
        state in any order, is decided with three array operations; anything else goes through
        :meth:`admit`.
        """
        n = len(trade_ids)
        if n == 0:
            return None
        stream = self._streams.get((exchange, symbol))
        if stream is not None and stream.high_water is not None:
            hw = stream.high_water
            ordered = np.sort(trade_ids) if n > 1 else trade_ids
            if (
                int(ordered[0]) == hw + 1
                and int(ordered[-1]) == hw + n
                and (n == 1 or bool((ordered[1:] != ordered[:-1]).all()))
            ):
                # n distinct ids within hw+1 .. hw+n: exactly the next ones.
                stream.high_water = hw + n
                self.stats.admitted += n
                return None
        mask = self.admit(exchange, symbol, trade_ids.tolist())
        return None if all(mask) else np.array(mask, dtype=bool)

    def admit_records(
        self,
        exchange: str,
        records: Sequence[NativeRecord],
        symbol_field: str = "symbol",
        id_field: str = "trade_id",
    ) -> list[NativeRecord]:
        """The records whose trade ids are new, in their original order.

        Records may mix symbols; ids may be ints or strings of digits (Coinbase).
        """
        if not records:
            return []
        if len(records) == 1 and self._admit_next(exchange, records[0], symbol_field, id_field):
            return [records[0]]
        symbols = list(map(itemgetter(symbol_field), records))
        symbol = symbols[0]
        if symbols.count(symbol) == len(symbols):  # the usual frame: one stream
            ids = _trade_ids(list(map(itemgetter(id_field), records)), id_field)
            if self._admit_run(exchange, symbol, ids):
                return list(records)
            mask = self.admit(exchange, symbol, ids)
            return list(records) if all(mask) else list(compress(records, mask))
        by_symbol: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            by_symbol.setdefault(record[symbol_field], []).append(i)
        keep = [False] * len(records)
        for symbol, rows in by_symbol.items():
            ids = _trade_ids([records[i][id_field] for i in rows], id_field)
            for i, kept in zip(rows, self.admit(exchange, symbol, ids), strict=True):
                keep[i] = kept
        return list(compress(records, keep))

    def _admit_next(
        self, exchange: str, record: NativeRecord, symbol_field: str, id_field: str
    ) -> bool:
        """Admit ``record`` when its id is exactly the next one of a stream with state (the
        usual live trade: what :meth:`admit` would do, minus the sorting and masks). False,
        having changed nothing, for anything else."""
        symbol, trade_id = record[symbol_field], record[id_field]
        if type(trade_id) is not int:
            return False
        stream = self._streams.get((exchange, symbol))
        if stream is None or stream.high_water is None or trade_id != stream.high_water + 1:
            return False
        stream.high_water = trade_id
        self.stats.admitted += 1
        return True

    def _admit_run(self, exchange: str, symbol: str, ids: list[int]) -> bool:
        """Admit int ``ids`` when they are exactly the next ``len(ids)`` ids of a stream with
        state, ascending (Kraken) or descending (Coinbase sends newest first). False, having
        changed nothing, for anything else (:meth:`admit` then decides)."""
        stream = self._streams.get((exchange, symbol))
        if stream is None or stream.high_water is None:
            return False
        hw, n = stream.high_water, len(ids)
        top = hw + n
        if ids[0] == hw + 1 and ids[-1] == top:
            run = range(hw + 1, top + 1)
        elif ids[0] == top and ids[-1] == hw + 1:
            run = range(top, hw, -1)
        else:
            return False
        if ids != list(run):
            return False
        stream.high_water = top
        self.stats.admitted += n
        return True

    def expect_through(self, exchange: str, symbol: str, last_id: int) -> Gap | None:
        """The venue says the stream has reached ``last_id`` (e.g. a REST probe after a
        disconnect, or while the stream is quiet): open a gap over the ids above the high-water
        mark that we have not seen. Returns that gap; None when nothing is missing or the
        stream has no state yet (a fresh stream starts at its first live trade)."""
        stream = self._streams.get(StreamKey(exchange, symbol))
        if stream is None or stream.high_water is None or last_id <= stream.high_water:
            return None
        gap = Gap(exchange, symbol, stream.high_water + 1, last_id)
        stream._add_gap(gap.first_missing_id, last_id, self.stats)
        stream.high_water = last_id
        return gap

    def start_at(self, exchange: str, symbol: str, first_id: int) -> None:
        """Begin a stream without state at ``first_id``: its first live trade then opens a gap
        from ``first_id`` that the gap filler fetches from the venue's history."""
        stream = self._streams.setdefault(StreamKey(exchange, symbol), _Stream())
        if stream.high_water is not None:
            raise UsageError(
                f"start_at({exchange}, {symbol}, {first_id}): the stream already has state "
                f"(high water {stream.high_water}); start_at only applies to a fresh stream"
            )
        stream.start = first_id

    def owe_since(self, exchange: str, symbol: str, since: float) -> None:
        """A stream without state was subscribed at ``since`` (epoch seconds, with a margin for
        the venue's clock): its trades are owed from then on. No effect on a stream with state;
        an earlier owed time stays."""
        stream = self._streams.setdefault(StreamKey(exchange, symbol), _Stream())
        if stream.high_water is None and stream.start is None:
            owed = stream.owed_since
            stream.owed_since = since if owed is None else min(owed, since)

    def need_anchor(self, exchange: str, symbol: str) -> bool:
        """The owed stream's connection dropped before its first trade: trades may have been
        missed, so its first owed id must be asked of the venue. Whether it is owed."""
        stream = self._streams.get((exchange, symbol))
        if stream is None or stream.owed_since is None:
            return False
        stream.needs_anchor = True
        self._anchors_wanted.add(StreamKey(exchange, symbol))
        return True

    def anchors_needed(self, exchange: str) -> list[tuple[str, float]]:
        """The streams of ``exchange`` that need an anchor, with the time they are owed from,
        oldest first."""
        wanted = [k for k in self._anchors_wanted if k.exchange == exchange]
        return sorted(((k.symbol, self._streams[k].owed_since) for k in wanted), key=_by_time)

    def anchor(self, exchange: str, symbol: str, first_id: int | None) -> Gap | None:
        """The venue's first id at or after the stream's owed time is ``first_id`` (None: the
        venue holds no trade of it): the stream's history starts there. A stream without a trade
        yet gets its high-water mark just below it (the ids from ``first_id`` on open as a gap
        when they show up, live or in a probe); a stream that took trades meanwhile gets the ids
        from ``first_id`` below its first one as a gap, which is returned."""
        stream = self._streams.get((exchange, symbol))
        if stream is None or stream.owed_since is None:
            return None
        below, stream.owed_since, stream.owed_below = stream.owed_below, None, None
        stream.needs_anchor = False
        self._anchors_wanted.discard(StreamKey(exchange, symbol))
        self.stats.anchors += 1
        if first_id is None:
            return None
        if stream.high_water is None:
            stream.high_water = first_id - 1
            return None
        if below is None or first_id >= below:
            return None
        gap = Gap(exchange, symbol, first_id, below - 1)
        stream.gaps = ranges.merge([(first_id, below - 1), *stream.gaps])
        self.stats.gaps_opened += 1
        self.stats.gap_ids_opened += gap.size
        return gap

    def reopen(self, exchange: str, symbol: str, trade_ids: Sequence[int]) -> list[Gap]:
        """Ids admitted that never reached the buffers (our code failed on their burst):
        open gaps over them again, so the gap filler fetches them. Returns the gaps opened."""
        stream = self._streams.get(StreamKey(exchange, symbol))
        if stream is None or stream.high_water is None:
            return []
        runs = ranges.merge((i, i) for i in trade_ids if i <= stream.high_water)
        stream.gaps = ranges.merge([*stream.gaps, *runs])
        self.stats.gaps_opened += len(runs)
        self.stats.gap_ids_opened += sum(hi - lo + 1 for lo, hi in runs)
        return [Gap(exchange, symbol, lo, hi) for lo, hi in runs]

    def mark_lost(self, gap: Gap, reason: str) -> list[Gap]:
        """Give up on the ids of ``gap`` that are still missing: close them, record them as lost.

        Returns the pieces actually marked lost (empty when the ids were filled meanwhile).
        """
        stream = self._streams.get(StreamKey(gap.exchange, gap.symbol))
        if stream is None:
            return []
        stream.gaps, removed = ranges.subtract(
            stream.gaps, gap.first_missing_id, gap.last_missing_id
        )
        if not removed:
            return []
        stream.lost = ranges.merge([*stream.lost, *removed])
        pieces = [Gap(gap.exchange, gap.symbol, lo, hi) for lo, hi in removed]
        for piece in pieces:
            self._lost.append(LostGap(piece, reason))
            self.stats.ids_lost += piece.size
        return pieces

    @property
    def lost(self) -> list[LostGap]:
        """Every gap marked lost by this sequencer, oldest first."""
        return list(self._lost)

    def gaps_for(self, exchange: str, symbol: str) -> list[Gap]:
        """The open gaps of one stream, ascending."""
        stream = self._streams.get(StreamKey(exchange, symbol))
        if stream is None:
            return []
        return [Gap(exchange, symbol, lo, hi) for lo, hi in stream.gaps]

    def open_gaps(self) -> list[Gap]:
        """The open gaps of every stream, by stream then ascending id."""
        return [gap for key in sorted(self._streams) for gap in self.gaps_for(*key)]

    def state(self, exchange: str, symbol: str) -> StreamState:
        """One stream's state; ``StreamState()`` (no high water) for a stream never admitted."""
        stream = self._streams.get(StreamKey(exchange, symbol))
        return stream.state() if stream is not None else StreamState()

    def has_state(self, exchange: str, symbol: str) -> bool:
        """Whether the stream has admitted ids (or was started from committed state)."""
        stream = self._streams.get((exchange, symbol))
        return stream is not None and stream.high_water is not None

    def streams(self) -> list[StreamKey]:
        """The streams that have state (at least one admitted id), sorted."""
        return sorted(StreamKey(*k) for k, s in self._streams.items() if s.high_water is not None)

    def snapshot(self) -> dict[StreamKey, StreamState]:
        """The state of every stream with state or owed trades: what ``encode_offsets``
        persists."""
        return {
            key: stream.state()
            for key, stream in sorted(self._streams.items())
            if stream.high_water is not None or stream.owed_since is not None
        }


def _by_time(pair: tuple[str, float | None]) -> tuple[float, str]:
    return pair[1] or 0.0, pair[0]


def _trade_ids(values: list[object], id_field: str) -> list[int]:
    """The ids as ints: as they are when all are ints, converted when all are strings of ASCII
    digits (checked once over the joined text), else one by one with the reason of the first
    bad one."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return values  # type: ignore[return-value]
    if kinds == {str}:
        joined = "".join(values)  # type: ignore[arg-type]
        if all(values) and joined.isascii() and joined.isdigit():
            return list(map(int, values))  # type: ignore[arg-type]
    return [_trade_id(value, id_field) for value in values]


def _trade_id(value: object, id_field: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise DecodeError(f"trade id {id_field}={value!r} is not an integer or a string of digits")
