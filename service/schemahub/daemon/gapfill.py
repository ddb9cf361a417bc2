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
        poll_seconds: float = 0.25,
    ) -> None:
        self._ingest = ingest
        self._clients = dict(clients)
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

    def pending(self) -> list[Gap]:
        """The open gaps of the venues this filler serves."""
        return [g for g in self._ingest.sequencer.open_gaps() if g.exchange in self._clients]

    async def _worker(self, venue: str) -> None:
        failures = 0
        while True:
            gap = self._next_gap(venue)
            if gap is None:
                await asyncio.sleep(self._poll)
                continue
            self.busy[venue] = gap
            try:
                await self._fill(venue, gap)
                failures = 0
            except HistoryUnavailableError as exc:
                self._give_up(gap, str(exc))
            except (SchemaHubError, aiohttp.ClientError, TimeoutError) as exc:
                failures += 1
                delay = full_jitter(failures, _RETRY, random.random)
                log.warning(
                    "gap fill failed; will retry",
                    extra={"venue": venue, "gap": _describe(gap), "error": str(exc)},
                )
                await asyncio.sleep(max(delay, self._poll))
            finally:
                self.busy[venue] = None
            self._forget_closed(venue, gap.symbol)

    def _next_gap(self, venue: str) -> Gap | None:
        now = time.monotonic()
        open_now = [g for g in self._ingest.sequencer.open_gaps() if g.exchange == venue]
        self._first_seen = {
            g: self._first_seen.get(g, now) for g in self.pending() if g.exchange in self._clients
        }
        for gap in open_now:
            if now - self._first_seen[gap] >= self._min_gap_age:
                return gap
        return None

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
