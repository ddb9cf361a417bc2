"""The gap filler: REST workers that fetch exactly the missing ids of each open gap.

One worker per venue (:meth:`GapFiller.run_venue`, each its own supervised task), so each
venue's rate limiter sees one caller and one venue's failures never stop another's. A worker
*anchors* streams owed from a time (asks the venue for the first id at or after it, see
``sequencing/sequencer.py``), fills the venue's gaps and, when it has none, *probes* streams
(asks the venue for its newest id) whose connection dropped or that have been quiet. Fetched
pages go through the same admit path as live frames (:meth:`GapSource.accept_history`): the
sequencer keeps the ids inside the gap and drops the rest. Ids the venue no longer holds are
marked lost (visible in the offsets, the watermarks table and ``schemahub_ids_lost_total``),
never silently skipped.

The filler talks to the daemon's ingest only through :class:`GapSource`, so a test can drive
it with anything that answers those few questions.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from schemahub.decode.base import DecodedFrame
from schemahub.errors import HistoryUnavailableError, SchemaHubError
from schemahub.sequencing import Gap
from schemahub.venues import HistoryClient
from schemahub.venues.backoff import RetryPolicy, restart_decision

log = logging.getLogger(__name__)
GAP_RETRY = RetryPolicy(base_seconds=1.0, cap_seconds=60.0)
# Failures of one REST job (a fetch or a probe) that the worker retries itself; anything else
# is a bug and ends the worker, whose supervisor logs and restarts it.
_REST_FAILURES = (SchemaHubError, aiohttp.ClientError, TimeoutError, OSError)


class GapSource(Protocol):
    """What the gap filler asks of the daemon's ingest (implemented by :class:`Ingest`)."""

    def open_gaps(self) -> list[Gap]: ...

    def stream_symbols(self, venue: str) -> list[str]: ...

    def take_probe_request(self, venue: str) -> str | None: ...

    def request_probe(self, venue: str, symbol: str) -> None: ...

    def next_anchor(self, venue: str) -> tuple[str, float] | None: ...

    def anchor(self, venue: str, symbol: str, since: float, first_id: int | None) -> Gap | None: ...

    def last_live(self, venue: str, symbol: str) -> float | None: ...

    def expect_through(self, venue: str, symbol: str, latest_id: int) -> Gap | None: ...

    def since_hint(self, venue: str, symbol: str) -> float | None: ...

    def accept_history(self, venue: str, page: DecodedFrame) -> int: ...

    def mark_lost(self, gap: Gap, reason: str) -> int: ...

    def settle_stream(self, venue: str, symbol: str) -> None: ...

    async def wait_for_room(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Job:
    """One unit of REST work: fill ``gap``, anchor ``symbol`` at ``since``, or (with neither)
    probe ``symbol``."""

    venue: str
    symbol: str
    gap: Gap | None = None
    since: float | None = None

    def describe(self) -> str:
        gap = self.gap
        if gap is not None:
            return f"gap {gap.exchange}/{gap.symbol} {gap.first_missing_id}..{gap.last_missing_id}"
        if self.since is not None:
            return f"anchor {self.venue}/{self.symbol} since {self.since:.3f}"
        return f"probe {self.venue}/{self.symbol}"


class GapFiller:
    """Fills the open gaps of the venues in ``clients`` from their REST history."""

    def __init__(
        self,
        source: GapSource,
        clients: Mapping[str, HistoryClient],
        *,
        min_gap_age: float = 1.0,
        probe_quiet_seconds: float = 30.0,
        poll_seconds: float = 0.25,
        retry: RetryPolicy = GAP_RETRY,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._source = source
        self._clients = dict(clients)
        self._probe_quiet = probe_quiet_seconds
        self._probed_at: dict[tuple[str, str], float] = {}
        self._started = time.time()
        # A gap younger than this may still close by itself (overlapping connections during a
        # rotation deliver the same ids a moment apart).
        self._min_gap_age = min_gap_age
        self._poll = poll_seconds
        self._retry = retry
        self._rand = rand
        self._first_seen: dict[Gap, float] = {}
        self.busy: dict[str, Gap | None] = dict.fromkeys(self._clients)

    @property
    def venues(self) -> list[str]:
        """The venues this filler has a worker for."""
        return list(self._clients)

    def probed_at(self, venue: str, symbol: str) -> float | None:
        """When the venue last answered a probe of this stream (epoch seconds)."""
        return self._probed_at.get((venue, symbol))

    def pending(self) -> list[Gap]:
        """The open gaps of the venues this filler serves."""
        return [g for g in self._source.open_gaps() if g.exchange in self._clients]

    async def run_venue(self, venue: str) -> None:
        """The worker of ``venue``: fill gaps and probe streams until cancelled. A REST failure
        is retried after the backoff :func:`restart_decision` picks; other errors raise."""
        attempt = 0
        while True:
            job = self._next_job(venue)
            if job is None:
                await asyncio.sleep(self._poll)
                continue
            self.busy[venue] = job.gap
            try:
                await self._do(job)
                attempt = 0
            except _REST_FAILURES as exc:
                if job.gap is not None and isinstance(exc, HistoryUnavailableError):
                    self._give_up(job.gap, str(exc))
                else:
                    delay = self._failed(job, exc, attempt)
                    attempt += 1
                    await asyncio.sleep(max(delay, self._poll))
            finally:
                self.busy[venue] = None
            self._source.settle_stream(venue, job.symbol)

    def _next_job(self, venue: str) -> _Job | None:
        # Open gaps first (known missing ids), then anchors (after a restart there may be one
        # for every stream that had not traded yet), then probes.
        gap = self._next_gap(venue)
        if gap is not None:
            return _Job(venue, gap.symbol, gap)
        owed = self._source.next_anchor(venue)
        if owed is not None:
            return _Job(venue, owed[0], since=owed[1])
        symbol = self._next_probe(venue)
        return None if symbol is None else _Job(venue, symbol)

    async def _do(self, job: _Job) -> None:
        if job.gap is not None:
            await self._fill(job.venue, job.gap)
        elif job.since is not None:
            await self._anchor(job.venue, job.symbol, job.since)
        else:
            await self._probe(job.venue, job.symbol)

    def _failed(self, job: _Job, error: BaseException, attempt: int) -> float:
        """Log a failed job and return the delay before the next one; a failed probe is asked
        again (a gap stays open by itself)."""
        decision = restart_decision(error, attempt, self._retry, self._rand)
        if job.gap is None and job.since is None:  # gaps and anchors stay wanted by themselves
            self._source.request_probe(job.venue, job.symbol)
        log.warning(
            "REST request for a gap failed; will retry",
            extra={
                "venue": job.venue,
                "job": job.describe(),
                "error": f"{type(error).__name__}: {error}",
                "reason": decision.reason,
                "retry_in_s": round(decision.delay, 3),
            },
        )
        return decision.delay

    def _next_gap(self, venue: str) -> Gap | None:
        now = time.monotonic()
        self._first_seen = {g: self._first_seen.get(g, now) for g in self.pending()}
        for gap, seen in self._first_seen.items():
            if gap.exchange == venue and now - seen >= self._min_gap_age:
                return gap
        return None

    def _next_probe(self, venue: str) -> str | None:
        """A stream to ask the venue about: one whose connection dropped, else one quiet for
        ``probe_quiet_seconds`` (and not asked since)."""
        dropped = self._source.take_probe_request(venue)
        if dropped is not None:
            return dropped
        now = time.time()
        due: list[tuple[float, str]] = []
        for symbol in self._source.stream_symbols(venue):
            key = (venue, symbol)
            seen = self._source.last_live(venue, symbol)
            checked = max(seen if seen is not None else self._started, self._probed_at.get(key, 0))
            if now - checked >= self._probe_quiet:
                due.append((checked, symbol))
        # the stream checked longest ago first, so a slow venue cannot starve one of them
        return min(due)[1] if due else None

    async def _probe(self, venue: str, symbol: str) -> None:
        """Ask the venue for the stream's newest id; ids above ours become a gap to fill."""
        asked = time.time()
        latest = await self._clients[venue].latest_trade_id(symbol)
        self._probed_at[(venue, symbol)] = asked
        if latest is None:
            return
        gap = self._source.expect_through(venue, symbol, latest)
        if gap is not None:
            log.info(
                "probe found missed trades", extra={"gap": _Job(venue, symbol, gap).describe()}
            )

    async def _anchor(self, venue: str, symbol: str, since: float) -> None:
        """Ask the venue for the stream's first id at or after ``since``; the ids from there
        to the stream's first trade become a gap to fill."""
        first = await self._clients[venue].first_id_since(symbol, since)
        gap = self._source.anchor(venue, symbol, since, first)
        log.info(
            "stream anchored at its subscription",
            extra={
                "venue": venue,
                "symbol": symbol,
                "first_id": first,
                "gap": None if gap is None else _Job(venue, symbol, gap).describe(),
            },
        )

    async def _fill(self, venue: str, gap: Gap) -> None:
        client = self._clients[venue]
        hint = self._source.since_hint(venue, gap.symbol)
        pages = client.fetch_trades(
            gap.symbol, gap.first_missing_id, gap.last_missing_id, since_hint=hint
        )
        async for page in pages:
            self._source.accept_history(venue, page)
            await self._source.wait_for_room()

    def _give_up(self, gap: Gap, reason: str) -> None:
        count = self._source.mark_lost(gap, reason)
        log.error(
            "trades lost: the venue no longer holds them",
            extra={
                "gap": _Job(gap.exchange, gap.symbol, gap).describe(),
                "ids": count,
                "reason": reason,
            },
        )
