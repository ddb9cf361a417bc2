"""``schemahub gaps``: the missing trades of each stream, from the committed state and the data.

Without an audit: the open gaps and lost ranges in the stream offsets committed with
``trades_unified`` (what the daemon knows is missing). With an audit over a time window: also
the holes in the table's trade ids over that window that the state does not know about (ids
are consecutive per stream), and, per stream, the trades the venue holds above the committed
high-water mark (the "tail": missed while no daemon ran), asked of the venue over REST.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pyiceberg.table import Table

from schemahub.config import Config
from schemahub.jobs.lake_ids import TimeWindow, committed_ids, holes
from schemahub.jobs.rest_fetch import committed_states
from schemahub.jobs.scope import close_clients, latest_ids, open_clients, select_streams
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.sequencing import StreamKey, StreamState
from schemahub.sequencing.merge import union
from schemahub.sequencing.ranges import difference

# What an entry is: an open gap and lost ids come from the state; holes and tails from an audit.
KINDS = ("gap", "lost", "hole", "tail")


@dataclass(frozen=True)
class GapEntry:
    """Trade ids ``first_id..last_id`` of a stream are missing, as ``kind`` says."""

    venue: str
    symbol: str
    kind: str
    first_id: int
    last_id: int

    @property
    def ids(self) -> int:
        """How many ids the entry spans."""
        return self.last_id - self.first_id + 1


@dataclass
class GapsReport:
    """The streams looked at, their committed state, and what is missing."""

    streams: list[StreamKey]
    states: dict[StreamKey, StreamState]
    entries: list[GapEntry] = field(default_factory=list)
    window: TimeWindow | None = None
    problems: list[str] = field(default_factory=list)  # what the audit could not find out

    def count(self, kind: str) -> tuple[int, int]:
        """How many entries of ``kind``, and the ids they span."""
        chosen = [e for e in self.entries if e.kind == kind]
        return len(chosen), sum(e.ids for e in chosen)


def find_gaps(
    lake: Lake,
    config: Config,
    venue: str | None = None,
    symbol: str | None = None,
    window: TimeWindow | None = None,
) -> GapsReport:
    """The open gaps and lost ids of the chosen streams; with ``window``, the audit as well."""
    states = committed_states(lake)
    streams = select_streams(config, states, venue, symbol)
    report = GapsReport(streams, {k: states[k] for k in streams if k in states}, window=window)
    for key in streams:
        report.entries.extend(state_entries(key, states.get(key, StreamState())))
    if window is not None:
        table = lake.table(UNIFIED_TABLE)
        for key in streams:
            report.entries.extend(audit_entries(table, key, states.get(key), window))
        report.entries.extend(asyncio.run(tail_entries(config, report.states, report.problems)))
    report.entries.sort(key=lambda e: (e.venue, e.symbol, e.first_id, KINDS.index(e.kind)))
    return report


def state_entries(key: StreamKey, state: StreamState) -> list[GapEntry]:
    """The stream's open gaps and lost ranges as entries."""
    return [GapEntry(*key, "gap", lo, hi) for lo, hi in state.gaps] + [
        GapEntry(*key, "lost", lo, hi) for lo, hi in state.lost
    ]


def audit_entries(
    table: Table, key: StreamKey, state: StreamState | None, window: TimeWindow
) -> list[GapEntry]:
    """Holes in the stream's ids over ``window`` that its state does not list."""
    found = holes(committed_ids(table, key, window=window))
    known = union(state.gaps, state.lost) if state is not None else []
    return [GapEntry(*key, "hole", lo, hi) for lo, hi in difference(found, known)]


async def tail_entries(
    config: Config, states: dict[StreamKey, StreamState], problems: list[str]
) -> list[GapEntry]:
    """Per stream with a high-water mark, the ids the venue holds above it; a venue that
    cannot be asked goes into ``problems``."""
    keys = [k for k, s in states.items() if s.high_water is not None]
    if not keys:
        return []
    clients = open_clients(config, {k.exchange for k in keys})
    try:
        newest = await latest_ids(clients, keys)
    finally:
        await close_clients(clients)
    problems.extend(newest.failed.values())
    entries = []
    for key in keys:
        top, high_water = newest.ids.get(key), states[key].high_water
        if top is not None and high_water is not None and top > high_water:
            entries.append(GapEntry(*key, "tail", high_water + 1, top))
    return entries
