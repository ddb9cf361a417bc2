"""``schemahub run ingest VENUE...``: everything since each stream's committed high-water mark.

For each configured stream of the venues, the ids above the high-water mark committed with
``trades_unified`` (the daemon's offsets) up to the venue's newest trade are fetched over REST
and committed through the daemon's path, in one snapshot per table. Keys are rechecked at the
commit and our stream states laid over the committed ones, so it never doubles what a daemon
wrote and can run beside one. A stream without committed state starts at the venue's newest
trade (earlier history is ``backfill``'s or ``gap-fill``'s work); one a daemon subscribed and
left owed (see ``sequencing/sequencer.py``) starts at the venue's first trade since then.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pyiceberg.table import Table

from schemahub.config import Config
from schemahub.errors import UsageError, VenueError
from schemahub.jobs.lake_ids import trade_times
from schemahub.jobs.rest_fetch import (
    FetchRun,
    StreamWork,
    committed_states,
    fetch_and_commit,
    owed_ranges,
)
from schemahub.jobs.scope import (
    check_venues,
    close_clients,
    latest_ids,
    open_clients,
    owed_anchors,
)
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.sequencing import StreamKey, StreamState


@dataclass
class IngestReport:
    """Per stream the ids fetched (first, last), and what the fetch did."""

    ranges: dict[StreamKey, tuple[int, int]] = field(default_factory=dict)
    run: FetchRun = field(default_factory=FetchRun)

    @property
    def trades(self) -> int:
        """Trades fetched and admitted (a daemon may have landed some meanwhile: the commit
        drops those)."""
        return sum(r.admitted for r in self.run.results)


def run_ingest(lake: Lake, config: Config, venues: list[str], *, progress=True) -> IngestReport:
    """Fetch and commit every configured stream's new trades on ``venues``."""
    check_venues(venues)
    enabled = config.venues.enabled()
    for venue in venues:
        if venue not in enabled:
            raise UsageError(f"venue {venue!r} is disabled in the config (venues.{venue}.enabled)")
    keys = [StreamKey(v, s) for v in dict.fromkeys(venues) for s in enabled[v].symbols]
    return asyncio.run(_run(lake, config, keys, progress))


async def _run(lake: Lake, config: Config, keys: list[StreamKey], progress: bool) -> IngestReport:
    states = await asyncio.to_thread(committed_states, lake)
    clients = open_clients(config, {k.exchange for k in keys})
    report = IngestReport()
    try:
        newest = await latest_ids(clients, keys)
        if newest.failed:  # a scheduled run: fail loudly, the next run catches up
            raise VenueError("; ".join(newest.failed.values()))
        latest = newest.ids
        anchors = await owed_anchors(clients, {k: states[k] for k in keys if k in states})
        if anchors.failed:
            raise VenueError("; ".join(anchors.failed.values()))
        table = await asyncio.to_thread(lake.table, UNIFIED_TABLE)
        work = []
        for key in keys:
            state = states.get(key, StreamState())
            item = await asyncio.to_thread(
                _stream_work, table, key, state, latest[key], anchors.ids.get(key)
            )
            if item is not None:
                work.append(item)
                report.ranges[key] = (item.ranges[0][0], item.ranges[-1][1])
        if work:
            shown = "run ingest" if progress else None
            report.run = await fetch_and_commit(lake, config, clients, work, shown)
    finally:
        await close_clients(clients)
    return report


def _stream_work(
    table: Table, key: StreamKey, state: StreamState, latest: int | None, anchor: int | None
) -> StreamWork | None:
    """The fetch of the ids above the high-water mark, or of the newest trade for a stream
    without state; for a stream owed from its subscription, the ids from ``anchor`` (the
    venue's first trade since then) as well. None when there is nothing new."""
    if latest is None:
        return None
    owed = owed_ranges(state, anchor, latest)
    if state.high_water is None and not owed:
        return StreamWork(*key, state, ((latest, latest),))
    ranges, hints = list(owed), {}
    if owed and key.exchange == "kraken":  # Kraken pages by time
        hints[owed[0][0]] = state.owed_since
    if state.high_water is not None and latest > state.high_water:
        ranges.append((state.high_water + 1, latest))
        if key.exchange == "kraken":  # start at the last committed trade
            times = trade_times(table, key, {state.high_water})
            if state.high_water in times:
                hints[state.high_water + 1] = times[state.high_water]
    if not ranges:
        return None
    return StreamWork(*key, state, tuple(ranges), hints, anchored=bool(owed))
