"""A venue's websocket session: its streams spread over connections, each kept alive for weeks.

Each group of streams (a *slot*) has one connection at a time, except during a rotation:

- a failed connection (error close, silence, no acks, refused handshake) is reported as
  :class:`~schemahub.venues.events.Disconnected` and replaced after a backoff that
  :func:`~schemahub.venues.backoff.decide_retry` chooses; a failure it calls fatal (a 4xx
  handshake) ends :meth:`VenueSession.run` with the error; an error of our own code is
  logged with its traceback, counted, and the slot reconnects after a backoff;
- a connection nearing the venue's age limit (Binance: 24 h) is *rotated*: a successor is
  opened and subscribed first, then the old one closes. The overlap delivers some trades twice;
  the sequencer drops them;
- a symbol the venue refuses is reported once and not asked for again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from schemahub.config import VenueConfig
from schemahub.errors import VenueError
from schemahub.logs import RateLimitedLog
from schemahub.venues.backoff import RetryDecision, decide_retry, full_jitter, is_internal
from schemahub.venues.connection import Connection, Decoder, SessionOptions, Shared
from schemahub.venues.events import FrameSink, SessionStats
from schemahub.venues.plan import spread, streams_per_symbol, unique
from schemahub.venues.recording import CaptureRecorder
from schemahub.venues.wsbase import WsVenue

log = logging.getLogger(__name__)

# After a failed rotation attempt, keep the old connection and try again this much later.
ROTATION_RETRY_SECONDS = 60.0


def options_from_config(venue: WsVenue, config: VenueConfig, **overrides: object) -> SessionOptions:
    """Session options for ``venue`` from its config section (explicit overrides win)."""
    age = config.max_connection_age_seconds or venue.max_connection_age_seconds
    values: dict[str, object] = {
        "silence_timeout": config.silence_timeout_seconds,
        "ack_timeout": min(10.0, config.silence_timeout_seconds),
        "max_connection_age": age,
    }
    values.update(overrides)
    return SessionOptions(**values)  # type: ignore[arg-type]


class VenueSession:
    """All the websocket connections of one venue, delivering to one sink."""

    def __init__(
        self,
        venue: WsVenue,
        base_url: str,
        symbols: list[str],
        decoder: Decoder,
        sink: FrameSink,
        *,
        options: SessionOptions | None = None,
        max_streams_per_connection: int | None = None,
        recorder: CaptureRecorder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.venue = venue
        self.options = options or SessionOptions()
        self.stats = SessionStats()
        self._shared = Shared(
            venue=venue,
            base_url=base_url,
            decoder=decoder,
            sink=sink,
            options=self.options,
            stats=self.stats,
            recorder=recorder,
            warn=RateLimitedLog(log),
            clock=clock,
            **Shared.pacing(venue),
        )
        per_connection = min(
            max_streams_per_connection or venue.max_streams_per_connection,
            venue.max_streams_per_connection,
        )
        self.slots: list[list[str]] = spread(
            unique(symbols), per_connection, streams_per_symbol(venue.quote_symbols)
        )
        self.rejected: dict[str, str] = {}
        self._live: dict[int, Connection] = {}

    @property
    def name(self) -> str:
        return self.venue.name

    def new_connection(self, conn_id: str, symbols: list[str]) -> Connection:
        """A connection of this session over ``symbols``, not opened yet."""
        return Connection(self._shared, conn_id, symbols)

    def subscribed(self) -> bool:
        """Every slot has a connection whose subscriptions are all answered (start-up done)."""
        live = self._live
        return len(live) == len(self.slots) and all(c.ready for c in live.values())

    def live_connections(self) -> list[str]:
        """Ids of the connections open right now (two per slot during a rotation)."""
        return [c.conn_id for c in self._live.values()]

    async def run(self) -> None:
        """Run every slot until cancelled; raises the first fatal error (as a VenueError)."""
        try:
            async with asyncio.TaskGroup() as group:
                for index, symbols in enumerate(self.slots):
                    group.create_task(self._run_slot(index, symbols), name=f"{self.name}-{index}")
        except* VenueError as errors:
            raise errors.exceptions[0] from None

    async def _run_slot(self, index: int, symbols: list[str]) -> None:
        attempt = 0
        generation = 0
        while symbols:
            conn = self.new_connection(f"{self.name}-{index}.{generation}", symbols)
            generation += 1
            self._live[index] = conn
            try:
                await self._open(conn)
                attempt = 0
                generation = await self._serve(index, conn, generation)
            except asyncio.CancelledError:
                await self._close_slot(index, conn, "session stopped", symbols)
                raise
            except Exception as exc:
                await self._close_slot(index, conn, f"{type(exc).__name__}: {exc}", symbols)
                decision = self._decide(exc, attempt, conn)
                if not decision.retry:
                    raise VenueError(
                        f"{self.name} websocket {conn.url}: {decision.reason}"
                    ) from exc
                self._shared.warn.warning(
                    f"reconnect-{self.name}-{index}",
                    "reconnecting",
                    venue=self.name,
                    conn_id=conn.conn_id,
                    reason=decision.reason,
                    delay=round(decision.delay, 3),
                )
                self.stats.reconnects += 1
                attempt += 1
                await asyncio.sleep(decision.delay)

    def _decide(self, exc: Exception, attempt: int, conn: Connection) -> RetryDecision:
        """The retry decision for a failed connection. An error of our own code is not the
        venue's refusal: it is logged with its traceback, counted, and the slot reconnects
        after a backoff (the trades missed meanwhile become gaps)."""
        decision = decide_retry(exc, attempt, self.options.retry)
        if decision.retry or not is_internal(exc):
            return decision
        self.stats.internal_errors += 1
        log.error(
            "our code failed on a connection; reconnecting",
            exc_info=exc,
            extra={"venue": self.name, "conn_id": conn.conn_id},
        )
        delay = full_jitter(attempt, self.options.retry, random.random)
        return RetryDecision(True, delay, f"internal error {type(exc).__name__}: {exc}")

    async def _close_slot(
        self, index: int, first: Connection, reason: str, symbols: list[str]
    ) -> None:
        """Close the slot's connections (the first one and, after rotations, the current one)."""
        current = self._live.pop(index, first)
        for conn in {first, current}:
            await self._close_quietly(conn, reason)
            self._forget_rejected(symbols, conn)

    async def _open(self, conn: Connection) -> None:
        await conn.open()
        await conn.wait_ready()

    async def _serve(self, index: int, conn: Connection, generation: int) -> int:
        """Read from ``conn`` until it fails (raises), rotating it when it grows old."""
        while True:
            failure = await conn.wait_ended(self._time_to_rotation(conn))
            if failure is not None:
                raise failure
            successor = Connection(self._shared, f"{self.name}-{index}.{generation}", conn.symbols)
            generation += 1
            try:
                await self._open(successor)
            except Exception as exc:
                await self._close_quietly(successor, f"rotation failed: {exc}")
                self._shared.warn.warning(
                    f"rotate-{self.name}-{index}",
                    "rotation failed; keeping the old connection",
                    venue=self.name,
                    conn_id=conn.conn_id,
                    error=str(exc),
                )
                if (failure := await conn.wait_ended(ROTATION_RETRY_SECONDS)) is not None:
                    raise failure from exc
                continue
            self._live[index] = successor
            await conn.close("rotated before the venue's connection age limit", planned=True)
            conn = successor

    def _time_to_rotation(self, conn: Connection) -> float | None:
        age = self.options.max_connection_age
        if age is None or conn.opened_at is None:
            return None
        return max(0.0, conn.opened_at + age - self._shared.clock())

    def _forget_rejected(self, symbols: list[str], conn: Connection) -> None:
        """Refused symbols are not asked for again (updates the slot's list in place)."""
        for symbol, words in conn.rejected.items():
            self.rejected[symbol] = words
            if symbol in symbols:
                symbols.remove(symbol)

    async def _close_quietly(self, conn: Connection, reason: str) -> None:
        try:
            await conn.close(reason)
        except Exception as exc:  # closing a broken socket may fail again; nothing to save
            log.debug("close failed", extra={"conn_id": conn.conn_id, "error": str(exc)})
