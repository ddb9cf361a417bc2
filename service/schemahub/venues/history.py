"""Walking an id range over REST pages: keep exactly ``first..last``, notice what is missing.

Pages overlap (cursors repeat a boundary trade) and overshoot (the last page runs past the
range), so each venue pipes its pages through one :class:`IdWindow`, which keeps each id once,
only inside the range, and raises :class:`HistoryUnavailableError` when the venue skips ids it
should hold (history pruned, or ids that do not exist yet).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from schemahub import registry
from schemahub.decode.base import DecodedFrame, FrameKind, NativeRecord
from schemahub.errors import HistoryUnavailableError, UsageError


def trade_id(record: NativeRecord) -> int:
    """A native record's trade id as an int (Coinbase sends a string of digits)."""
    return int(record["trade_id"])


def trade_time(venue: str, record: NativeRecord) -> datetime:
    """A native record's venue trade time (UTC), from the venue's time column in the registry:
    epoch milliseconds (Binance) or ISO 8601 text, possibly with ``Z`` (Coinbase, Kraken)."""
    value = record[registry.venue(venue).time_field]
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def trade_seconds(venue: str, record: NativeRecord) -> float:
    """A native record's venue trade time as epoch seconds."""
    return trade_time(venue, record).timestamp()


class IdWindow:
    """Progress through ``first..last`` (inclusive), ascending, or descending for venues that
    page from the newest (Coinbase)."""

    def __init__(
        self, venue: str, symbol: str, first: int, last: int, *, descending: bool = False
    ) -> None:
        if first > last:
            raise UsageError(f"trade id range {first}..{last} is empty (first must be <= last)")
        self.venue = venue
        self.symbol = symbol
        self.first = first
        self.last = last
        self.descending = descending
        # The next id we need: walks up from first, or down from last.
        self.next_id = last if descending else first

    @property
    def done(self) -> bool:
        """Whether every id of the range has been taken."""
        return self.next_id < self.first if self.descending else self.next_id > self.last

    def take(self, page: DecodedFrame) -> DecodedFrame:
        """The trades of ``page`` still needed, in walking order, each id once.

        Raises HistoryUnavailableError when the page skips needed ids that its rejects cannot
        explain (a trade that failed the decoder's checks is still history the venue holds):
        the first trade ahead of the cursor must be the cursor's id, and so on without holes.
        """
        step = -1 if self.descending else 1
        end = self.first - 1 if self.descending else self.last + 1
        ahead = sorted(
            (r for r in page.trades if self._ahead(trade_id(r))),
            key=trade_id,
            reverse=self.descending,
        )
        expected, skipped = self.next_id, 0
        needed: list[NativeRecord] = []
        for record in ahead:
            tid = trade_id(record)
            if (tid - expected) * step < 0:
                continue  # a repeat inside the page
            if not self._in_range(tid):
                skipped += abs(end - expected)
                expected = end
                break
            skipped += abs(tid - expected)
            expected = tid + step
            needed.append(record)
        if skipped > len(page.rejects):
            first_seen = trade_id(ahead[0]) if ahead else None
            raise self.unavailable(
                f"the venue skipped them (nearest id returned: {first_seen}, "
                f"{len(page.rejects)} rejected records on the page)"
            )
        if not ahead and page.rejects and not page.trades:
            expected += step * len(page.rejects)  # a page of rejects still moves the cursor
        self.next_id = expected
        return dataclasses.replace(page, kind=FrameKind.TRADES, trades=needed)

    def unavailable(self, why: str) -> HistoryUnavailableError:
        """The error for the ids still needed, with the venue's reason."""
        lo, hi = (self.first, self.next_id) if self.descending else (self.next_id, self.last)
        return HistoryUnavailableError(
            f"{self.venue} does not hold trades {lo}..{hi} of {self.symbol}: {why}"
        )

    def _ahead(self, tid: int) -> bool:
        return tid <= self.next_id if self.descending else tid >= self.next_id

    def _in_range(self, tid: int) -> bool:
        return tid >= self.first if self.descending else tid <= self.last
