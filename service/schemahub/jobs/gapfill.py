"""``schemahub gap-fill``: fetch exactly the missing trade ids over REST and commit them.

What is missing, per stream:

- by default, the open gaps and lost ranges of the committed state, the tail (ids the venue
  holds above the committed high-water mark: trades missed while no daemon ran), and for a
  stream a daemon left owed from its subscription, the ids from the venue's first trade since
  then to the stream's first one;
- with an id range (one stream), every id of the range the table does not hold (ids above the
  venue's newest do not exist yet: reported, not fetched);
- with a time window, the holes between the ids the table holds over that window.

The ids go through the daemon's decode -> sequence -> commit path (:mod:`rest_fetch`); ids the
venue no longer serves are marked lost in the offsets with the venue's reason. Afterwards the
table is scanned again: the report's "still missing" is what the table lacks, not what we hope.
Idempotent (a second run finds nothing), and safe beside running daemons.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from pyiceberg.table import Table

from schemahub.config import Config
from schemahub.errors import UsageError
from schemahub.jobs.lake_ids import TimeWindow, committed_ids, holes, runs, trade_times
from schemahub.jobs.rest_fetch import (
    FetchRun,
    StreamWork,
    committed_states,
    fetch_and_commit,
    owed_ranges,
)
from schemahub.jobs.scope import (
    close_clients,
    latest_ids,
    open_clients,
    owed_anchors,
    select_streams,
)
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.sequencing import StreamKey, StreamState
from schemahub.sequencing.merge import ids_in, union
from schemahub.sequencing.ranges import Range, difference, intersect
from schemahub.venues import HistoryClient

PAGE_SIZE = 1000  # trades a history page holds, on all three venues
KRAKEN_SEARCH_REQUESTS = 4  # about what finding a range's start by time costs on Kraken


@dataclass(frozen=True)
class FillRequest:
    """What to fill: the streams (``venue``, ``symbol``), and an id range or a time window."""

    venue: str | None = None
    symbol: str | None = None
    id_range: Range | None = None
    window: TimeWindow | None = None

    def check(self) -> None:
        """Refuse what cannot work, before anything is fetched."""
        if self.id_range is not None:
            first, last = self.id_range
            if first > last:
                raise UsageError(f"--from-id {first} is above --to-id {last}; expected from <= to")
            if self.venue is None or self.symbol is None:
                raise UsageError(
                    "--from-id/--to-id are ids of one stream: give --venue and --symbol too"
                )
            if self.window is not None:
                raise UsageError("give either --from-id/--to-id or --since/--until, not both")


@dataclass
class StreamPlan:
    """One stream's missing ids and how to fetch them."""

    key: StreamKey
    state: StreamState
    missing: list[Range]
    not_yet: list[Range] = field(default_factory=list)  # above the venue's newest id
    hints: dict[int, float] = field(default_factory=dict)
    problem: str | None = None  # why the stream could not be planned (its venue is down)
    anchored: bool = False  # ``missing`` includes the ids owed since the stream's subscription

    def work(self) -> StreamWork:
        """The fetch for :func:`fetch_and_commit`."""
        return StreamWork(
            self.key.exchange,
            self.key.symbol,
            self.state,
            tuple(self.missing),
            self.hints,
            keep_state=self.state.high_water is not None or self.anchored,
            anchored=self.anchored,
        )


@dataclass(frozen=True)
class VenueEstimate:
    """REST requests a venue needs for the plan, and the time its rate limit makes that take."""

    venue: str
    ids: int
    requests: int
    seconds: float


@dataclass
class FillReport:
    """The plan, what the fetch did, and what the table still lacks afterwards."""

    plans: list[StreamPlan]
    estimates: list[VenueEstimate]
    run: FetchRun | None = None
    still_missing: dict[StreamKey, list[Range]] = field(default_factory=dict)
    reasons: dict[StreamKey, list[str]] = field(default_factory=dict)

    @property
    def found(self) -> int:
        """Ids found missing (those above the venue's newest included)."""
        return sum(ids_in(p.missing) + ids_in(p.not_yet) for p in self.plans)

    @property
    def open_ids(self) -> int:
        """Ids still missing after the run (or all of them, for a dry run)."""
        if self.run is None:
            return self.found
        left = sum(ids_in(r) for r in self.still_missing.values())
        return left + sum(ids_in(p.not_yet) for p in self.plans)

    @property
    def complete(self) -> bool:
        """Whether every id asked for is now in trades_unified (and every stream planned)."""
        unplanned = any(p.problem for p in self.plans)
        return self.run is not None and self.open_ids == 0 and not unplanned


def gap_fill(
    lake: Lake, config: Config, request: FillRequest, *, dry_run: bool = False, progress=True
) -> FillReport:
    """Plan, and unless ``dry_run`` fill and verify; see the module doc."""
    request.check()
    return asyncio.run(_gap_fill(lake, config, request, dry_run, progress))


async def _gap_fill(
    lake: Lake, config: Config, request: FillRequest, dry_run: bool, progress: bool
) -> FillReport:
    states = await asyncio.to_thread(committed_states, lake)
    keys = select_streams(config, states, request.venue, request.symbol)
    clients = open_clients(config, {k.exchange for k in keys})
    try:
        plans = await plan_fill(lake, clients, keys, states, request)
        report = FillReport(plans, estimate(plans, clients))
        todo = [p for p in plans if p.missing]
        if dry_run or not todo:
            report.run = None if dry_run else FetchRun()
            return report
        work = [p.work() for p in todo]
        shown = "gap-fill" if progress else None
        report.run = await fetch_and_commit(lake, config, clients, work, shown)
    finally:
        await close_clients(clients)
    await asyncio.to_thread(_verify, lake, report)
    return report


async def plan_fill(
    lake: Lake,
    clients: dict[str, HistoryClient],
    keys: list[StreamKey],
    states: dict[StreamKey, StreamState],
    request: FillRequest,
) -> list[StreamPlan]:
    """Each stream's missing ids (see the module doc), with Kraken's time hints."""
    newest = await latest_ids(clients, keys) if request.window is None else None
    latest = newest.ids if newest is not None else {}
    plain = request.window is None and request.id_range is None
    owed = {k: states[k] for k in keys if k in states} if plain else {}
    anchors = await owed_anchors(clients, owed)
    if newest is not None:
        newest.failed.update(anchors.failed)
    table = await asyncio.to_thread(lake.table, UNIFIED_TABLE)
    plans = []
    for key in keys:
        state = states.get(key, StreamState())
        if newest is not None and key.exchange in newest.failed:
            plans.append(StreamPlan(key, state, [], problem=newest.failed[key.exchange]))
            continue
        if request.id_range is not None:
            plan = await asyncio.to_thread(_in_range, table, key, state, request.id_range, latest)
        elif request.window is not None:
            found = await asyncio.to_thread(committed_ids, table, key, window=request.window)
            plan = StreamPlan(key, state, holes(found))
        else:
            plan = _known(key, state, latest.get(key), anchors.ids.get(key))
        if key.exchange == "kraken" and plan.missing:
            plan.hints = await asyncio.to_thread(_hints, table, plan, request.window)
            if plan.anchored and state.owed_since is not None:
                plan.hints[plan.missing[0][0]] = state.owed_since
        plans.append(plan)
    return plans


def _known(
    key: StreamKey, state: StreamState, latest: int | None, anchor: int | None
) -> StreamPlan:
    """The plan of a stream's known missing ids, the owed ones included."""
    owed = owed_ranges(state, anchor, latest)
    return StreamPlan(key, state, union(owed, _known_missing(state, latest)), anchored=bool(owed))


def _known_missing(state: StreamState, latest: int | None) -> list[Range]:
    """Open gaps, lost ids, and the ids the venue holds above the high-water mark."""
    tail = []
    if state.high_water is not None and latest is not None and latest > state.high_water:
        tail = [(state.high_water + 1, latest)]
    return union(state.gaps, state.lost, tail)


def _in_range(
    table: Table,
    key: StreamKey,
    state: StreamState,
    id_range: Range,
    latest: dict[StreamKey, int | None],
) -> StreamPlan:
    first, last = id_range
    newest = latest.get(key)
    top = last if newest is None else min(last, newest)
    not_yet = [(max(first, top + 1), last)] if top < last else []
    if newest is None:
        top, not_yet = first - 1, [(first, last)]
    scope = [(first, top)] if top >= first else []
    present = runs(committed_ids(table, key, id_ranges=scope)) if scope else []
    return StreamPlan(key, state, difference(scope, present), not_yet)


def _hints(table: Table, plan: StreamPlan, window: TimeWindow | None) -> dict[int, float]:
    """For each range, the time of the trade just before it (Kraken pages by time)."""
    times = trade_times(table, plan.key, {lo - 1 for lo, _ in plan.missing})
    fallback = window.since.timestamp() if window is not None else None
    hints = {}
    for lo, _ in plan.missing:
        when = times.get(lo - 1, fallback)
        if when is not None:
            hints[lo] = when
    return hints


def estimate(plans: list[StreamPlan], clients: dict[str, HistoryClient]) -> list[VenueEstimate]:
    """Requests per venue (a page per 1,000 ids, plus Kraken's search for each range's start)
    and the seconds the venue client's rate limit needs for them."""
    out = []
    for venue in sorted({p.key.exchange for p in plans}):
        ranges = [r for p in plans if p.key.exchange == venue for r in p.missing]
        requests = sum(math.ceil(ids_in([r]) / PAGE_SIZE) for r in ranges)
        if venue == "kraken":
            requests += KRAKEN_SEARCH_REQUESTS * len(ranges)
        rest = clients[venue].client  # type: ignore[attr-defined]
        cost = rest.venue.history_cost * requests
        seconds = max(0.0, cost - rest.limiter.capacity) / rest.limiter.rate
        out.append(VenueEstimate(venue, ids_in(ranges), requests, seconds))
    return out


def _verify(lake: Lake, report: FillReport) -> None:
    """What the table still lacks of each plan's missing ids, and why (from the fetch)."""
    table = lake.table(UNIFIED_TABLE)
    for plan in report.plans:
        if not plan.missing:
            continue
        present = runs(committed_ids(table, plan.key, id_ranges=plan.missing))
        left = difference(plan.missing, present)
        if left:
            report.still_missing[plan.key] = left
    assert report.run is not None
    for result in report.run.results:
        key = StreamKey(result.venue, result.symbol)
        wanted = [(result.first_id, result.last_id)]
        if result.reason and intersect(report.still_missing.get(key, []), wanted):
            report.reasons.setdefault(key, []).append(result.reason)
