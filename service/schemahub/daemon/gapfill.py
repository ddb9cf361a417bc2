"""The gap filler: REST workers that fetch exactly the missing ids of each open gap.

One worker per venue, so each venue's rate limiter sees one caller. Fetched pages go through
:meth:`Ingest.accept`, the same path as live frames: the sequencer keeps the ids inside the gap
and drops the rest. Ids the venue no longer holds are marked lost (visible in the offsets, the
watermarks table and ``schemahub_ids_lost_total``), never silently skipped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping

import aiohttp

from schemahub.daemon.ingest import Ingest
from schemahub.errors import HistoryUnavailableError, SchemaHubError
from schemahub.sequencing import Gap
from schemahub.venues import HistoryClient
from schemahub.venues.backoff import RetryPolicy, full_jitter

log = logging.getLogger(__name__)
_RETRY = RetryPolicy(base_seconds=1.0, cap_seconds=60.0)


class GapFiller:
    """Fills the sequencer's open gaps from the venues' REST history."""

    def __init__(
        self,
        ingest: Ingest,
        clients: Mapping[str, HistoryClient],
        *,
        min_gap_age: float = 1.0,
        probe_quiet_seconds: float = 30.0,
        poll_seconds: float = 0.25,
    ) -> None:
        self._ingest = ingest
        self._clients = dict(clients)
        self._probe_quiet = probe_quiet_seconds
        # When each stream's probe was sent (it schedules the next), and when the newest
        # answered probe was sent (what probed_at reports: a check that is complete).
        self._asked_at: dict[tuple[str, str], float] = {}
        self._probed_at: dict[tuple[str, str], float] = {}
        self._started = time.time()
        # A gap younger than this may still close by itself (overlapping connections during a
        # rotation deliver the same ids a moment apart).
        self._min_gap_age = min_gap_age
        self._poll = poll_seconds
        self._first_seen: dict[Gap, float] = {}
        self.busy: dict[str, Gap | None] = dict.fromkeys(self._clients)

    async def run(self) -> None:
        """Run one worker per venue until cancelled."""
        async with asyncio.TaskGroup() as group:
            for venue in self._clients:
                group.create_task(self._worker(venue), name=f"gapfill-{venue}")

    def probed_at(self, venue: str, symbol: str) -> float | None:
        """When the venue was last asked for this stream's newest id (epoch seconds), counted
        once its answer is applied: any gap it revealed is then open in the sequencer."""
        return self._probed_at.get((venue, symbol))

    def pending(self) -> list[Gap]:
        """The open gaps of the venues this filler serves."""
        return [g for g in self._ingest.sequencer.open_gaps() if g.exchange in self._clients]

    async def _worker(self, venue: str) -> None:
        failures = 0
        while True:
            gap = self._next_gap(venue)
            probe = None if gap is not None else self._next_probe(venue)
            if gap is None and probe is None:
                await asyncio.sleep(self._poll)
                continue
            self.busy[venue] = gap
            try:
                if gap is not None:
                    await self._fill(venue, gap)
                else:
                    await self._probe(venue, probe)
                failures = 0
            except HistoryUnavailableError as exc:
                self._give_up(gap, str(exc))
            except (SchemaHubError, aiohttp.ClientError, TimeoutError) as exc:
                failures += 1
                delay = full_jitter(failures, _RETRY, random.random)
                log.warning(
                    "REST request for a gap failed; will retry",
                    extra={"venue": venue, "gap": _describe(gap), "error": str(exc)},
                )
                await asyncio.sleep(max(delay, self._poll))
            finally:
                self.busy[venue] = None
            self._forget_closed(venue, gap.symbol if gap is not None else probe)

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
        requests = self._ingest.probe_requests
        for key in sorted(requests):
            if key[0] == venue:
                requests.discard(key)
                if self._ingest.sequencer.state(*key).high_water is not None:
                    return key[1]
        now = time.time()
        due: list[tuple[float, str]] = []
        for exchange, symbol in self._ingest.sequencer.streams():
            if exchange != venue:
                continue
            key = (exchange, symbol)
            checked = max(
                self._ingest.last_seen.get(key, self._started), self._asked_at.get(key, 0)
            )
            if now - checked >= self._probe_quiet:
                due.append((checked, symbol))
        # the stream checked longest ago first, so a slow venue cannot starve one of them
        return min(due)[1] if due else None

    async def _probe(self, venue: str, symbol: str) -> None:
        """Ask the venue for the stream's newest id; ids above ours become a gap to fill."""
        asked = self._asked_at[(venue, symbol)] = time.time()
        latest = await self._clients[venue].latest_trade_id(symbol)
        # Stamped only now: a probe still waiting for its answer (a rate limiter, a 429) has
        # checked nothing yet, and whoever reads probed_at takes it for a finished check.
        self._probed_at[(venue, symbol)] = asked
        if latest is None:
            return
        gap = self._ingest.sequencer.expect_through(venue, symbol, latest)
        if gap is not None:
            self._ingest.metrics.gaps_opened.inc()
            key = (venue, symbol)
            self._ingest.gap_began.setdefault(key, self._ingest.last_seen.get(key, time.time()))
            log.info("probe found missed trades", extra={"gap": _describe(gap)})

    async def _fill(self, venue: str, gap: Gap) -> None:
        client = self._clients[venue]
        hint = self._ingest.since_hint(venue, gap.symbol)
        pages = client.fetch_trades(
            gap.symbol, gap.first_missing_id, gap.last_missing_id, since_hint=hint
        )
        async for page in pages:
            admitted = self._ingest.accept(venue, page, f"rest:{venue}", time.time())
            self._ingest.metrics.gap_ids_filled.inc(admitted, venue=venue)
            await self._ingest.wait_for_room()

    def _give_up(self, gap: Gap, reason: str) -> None:
        lost = self._ingest.sequencer.mark_lost(gap, reason)
        count = sum(piece.size for piece in lost)
        self._ingest.metrics.ids_lost.inc(count, venue=gap.exchange)
        log.error(
            "trades lost: the venue no longer holds them",
            extra={"gap": _describe(gap), "ids": count, "reason": reason},
        )

    def _forget_closed(self, venue: str, symbol: str) -> None:
        if not self._ingest.sequencer.gaps_for(venue, symbol):
            self._ingest.gaps_closed(venue, symbol)


def _describe(gap: Gap) -> str:
    return f"{gap.exchange}/{gap.symbol} {gap.first_missing_id}..{gap.last_missing_id}"
