"""Coalesced updates fanned out to clients, each behind a bounded queue.

One task (:meth:`Feed.run`) wakes every ``coalesce_ms``, at the multiples of it on the wall
clock plus PUBLISH_LAG of it: the venue connections hand their bursts on at those multiples
(their burst windows divide ``coalesce_ms``; see ``schemahub.venues.connection.burst_period``),
so a trade waits for at most one window and the lag, not a window and a coalescing interval.
It builds an update for each group that
changed (and at least once a second for each group, so ages and staleness move on a quiet
market), serializes it once, and offers the text to every client of that group without
waiting. A client whose queue is full is dropped (its connection aborted): a slow or stuck
reader costs one queue of updates and nothing else; ingestion never waits on a client.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from schemahub.discrepancy.metrics import FeedMetrics
from schemahub.discrepancy.tracker import GroupState, Tracker
from schemahub.discrepancy.update import build_update

log = logging.getLogger(__name__)
REFRESH_SECONDS = 1.0  # an unchanged group is still sent this often (ages move)
# A client that has taken nothing from a non-empty queue for this long is dropped, however
# slowly its queue fills (a quiet market fills it slowly; the socket buffers hide a stuck
# reader for a while).
STUCK_SECONDS = 10.0
EVENTS_KEPT = 100
# How long after the venues' burst windows close the feed publishes, as a share of its
# interval: the time the bursts take to be decoded and tracked.
PUBLISH_LAG = 0.1


@dataclass(eq=False)
class Client:
    """One connected reader: which groups it follows and the updates waiting for it."""

    groups: frozenset[str]
    queue: asyncio.Queue[bytes]
    taken_at: float  # when the client's writer last took updates (epoch seconds)
    transport: str = "websocket"  # or "sse" (the clients metric's label)
    abort: Callable[[], None] = lambda: None  # cut the connection (set by the handler)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, text: bytes) -> bool:
        """Queue ``text``; False when the queue is full (the client is not keeping up)."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def take_all(self, now: float) -> list[bytes]:
        """Every queued update, oldest first (the writer sends them in one go)."""
        self.taken_at = now
        taken = []
        while not self.queue.empty():
            taken.append(self.queue.get_nowait())
        return taken

    def stuck(self, now: float) -> bool:
        """Updates wait and nothing was taken for STUCK_SECONDS."""
        return not self.queue.empty() and now - self.taken_at > STUCK_SECONDS


@dataclass
class FeedStats:
    """Counters for /discrepancy and the load check."""

    updates: int = 0
    clients_dropped: int = 0
    events: int = 0


class Feed:
    """The live feed: coalescing loop, clients and the latest update of every group."""

    def __init__(
        self,
        tracker: Tracker,
        clock: Callable[[], float] | None = None,
        metrics: FeedMetrics | None = None,
    ) -> None:
        self.tracker = tracker
        self.config = tracker.config
        self.clock = clock or tracker.clock
        self.clients: set[Client] = set()
        self.latest: dict[str, bytes] = {}
        self.events: collections.deque[dict] = collections.deque(maxlen=EVENTS_KEPT)
        self.stats = FeedStats()
        self.metrics = metrics or FeedMetrics.create()
        self._sent_at: dict[str, float] = {}

    @property
    def pairs(self) -> list[str]:
        """The group names, as configured."""
        return list(self.tracker.groups)

    async def run(self) -> None:
        """Publish due updates every ``coalesce_ms`` until cancelled."""
        interval = self.config.coalesce_ms / 1000.0
        while True:
            await asyncio.sleep(self._until_next_publish(interval))
            self.publish_due()

    def _until_next_publish(self, interval: float) -> float:
        """Seconds until PUBLISH_LAG past the next multiple of ``interval`` on the clock."""
        now = self.clock()
        due = (math.floor(now / interval - PUBLISH_LAG) + 1 + PUBLISH_LAG) * interval
        return min(interval, max(0.0, due - now))

    def publish_due(self) -> int:
        """Build and fan out the update of every group that changed or is due for a
        refresh; returns how many were sent."""
        now = self.clock()
        sent = 0
        for name, group in self.tracker.groups.items():
            if group.dirty or now - self._sent_at.get(name, 0.0) >= REFRESH_SECONDS:
                self._publish(group, now)
                sent += 1
        return sent

    def _publish(self, group: GroupState, now: float) -> None:
        update = build_update(group, now, self.config.stale_after_ms)
        group.dirty = False
        self._sent_at[group.name] = now
        if update["event"] is not None:
            self._note_event(update)
        text = orjson.dumps(update)
        self.latest[group.name] = text
        self.stats.updates += 1
        for client in [c for c in self.clients if group.name in c.groups]:
            if client.stuck(now):
                self.drop(client, "not_reading")
            elif not client.offer(text):
                self.drop(client, "queue_full")

    def _note_event(self, update: dict) -> None:
        event = {"pair": update["pair"], **update["event"]}
        self.events.append(event)
        self.stats.events += 1
        log.info("discrepancy threshold crossed", extra=event)

    def snapshot(self, pairs: list[str]) -> dict:
        """The newest update of each of ``pairs`` (built now if none was sent yet)."""
        now = self.clock()
        groups = {}
        for name in pairs:
            text = self.latest.get(name)
            if text is None:
                self._publish(self.tracker.groups[name], now)
                text = self.latest[name]
            groups[name] = orjson.loads(text)
        return {
            "groups": groups,
            "events": [e for e in self.events if e["pair"] in pairs],
            "clients": len(self.clients),
            "clients_dropped": self.stats.clients_dropped,
        }

    # -- clients ---------------------------------------------------------------------------

    def subscribe(self, pairs: list[str], transport: str = "websocket") -> Client:
        """A new client of ``pairs`` over ``transport``, with their newest updates already
        queued."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(self.config.client_queue)
        client = Client(frozenset(pairs), queue, self.clock(), transport)
        for name in pairs:
            text = self.latest.get(name)
            if text is not None:
                client.offer(text)
        self.clients.add(client)
        self._count(transport)
        return client

    def full(self) -> bool:
        """Whether ``max_clients`` are connected."""
        return len(self.clients) >= self.config.max_clients

    def unsubscribe(self, client: Client) -> None:
        """The client left (or was dropped)."""
        if client in self.clients:
            self.clients.remove(client)
            self._count(client.transport)
        client.closed.set()

    def _count(self, transport: str) -> None:
        count = sum(1 for c in self.clients if c.transport == transport)
        self.metrics.clients.set(count, transport=transport)

    def drop(self, client: Client, reason: str) -> None:
        """Cut a client that does not keep up."""
        if client not in self.clients:
            return
        self.stats.clients_dropped += 1
        self.metrics.dropped.inc(reason=reason)
        self.unsubscribe(client)
        client.abort()
        log.info("discrepancy client dropped", extra={"reason": reason})

    def close_all(self) -> None:
        """End every client's stream (the daemon is stopping)."""
        for client in list(self.clients):
            self.unsubscribe(client)
