"""Commits drained buffers to Iceberg, off the event loop (it runs in a worker thread).

Order per flush: each raw table, then ``trades_unified`` with the stream offsets in the same
snapshot (invariant 2), then the quarantine and the watermarks mirror. Only tables with
something new are committed: a raw table only with rows, the quarantine only with rejects,
``trades_unified`` with rows or with stream state that moved (an offsets-only commit, e.g. ids
marked lost), the mirror at most once a minute and only when the state moved. A flush whose commit
fails keeps what it already landed (``raw_done``) and is retried whole from where it stopped,
so a retry never lands a raw batch twice. A crash between the raw and the unified commit can
leave rows in a raw table that the restarted daemon fetches and lands again there: raw tables
are the log of what was received; ``trades_unified`` is the exactly-once table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.table import Table

from schemahub.batching import Drained
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.lake import (
    QUARANTINE_TABLE,
    RAW_TABLE_VENUES,
    UNIFIED_TABLE,
    WATERMARKS_TABLE,
    CommitResult,
    Lake,
    QuarantineEntry,
    commit_append,
    committed_offsets,
    drop_committed,
    offsets_properties,
    quarantine_rows,
    rejected_entries,
    write_watermarks,
)
from schemahub.mapping import CompiledMapping
from schemahub.schemas import concat_alike
from schemahub.sequencing import StreamKey, StreamState
from schemahub.sequencing.union import union_offsets

log = logging.getLogger(__name__)
# The mirror is for humans (the offsets in trades_unified are the truth); its overwrite is two
# snapshots, so it is kept off most flushes.
_MIRROR_EVERY_SECONDS = 60.0


@dataclass
class PendingFlush:
    """One drain of the buffers and the stream state it brings the table to."""

    drained: Drained
    offsets: dict[StreamKey, StreamState]
    quarantine: list[QuarantineEntry]
    raw_done: set[str] = field(default_factory=set)
    unified: pa.Table | None = None  # mapped once, kept across retries
    unified_done: bool = False
    attempts: int = 0


class Committer:
    """Lands :class:`PendingFlush` es in the lake. Not thread-safe: one flush at a time."""

    def __init__(
        self,
        lake: Lake,
        mappings: Mapping[str, CompiledMapping],
        metrics: DaemonMetrics,
        known_head: int | None,
        others: Mapping[StreamKey, StreamState],
        retries: int,
    ) -> None:
        self._lake = lake
        self._mappings = dict(mappings)
        self._metrics = metrics
        self._tables: dict[str, Table] = {}
        # The unified snapshot our sequencer state matches; another writer moving the head
        # past it means we must check keys against the table before appending.
        self._known_head = known_head
        # Every stream's state as the table records it at _known_head: the streams other
        # writers own (other shards), carried along so that every snapshot holds the state of
        # every stream, and ours as united with any other writer that committed them too.
        self._committed = dict(others)
        # Our streams whose committed state holds ids our own state does not: another writer
        # commits them too (a rolling deployment's overlap). Ids we admit later may then be in
        # the table already, so every flush is checked against it until we have caught up.
        self._shared: set[StreamKey] = set()
        self._retries = retries
        self.last_offsets: dict[StreamKey, StreamState] = {}
        self._flush_rows: dict[str, int] = {}
        # The mirror holds what the last run left in it (its stop mirrors the final state), so
        # the first one waits a mirror interval like the rest.
        self._mirrored_at = time.monotonic()
        self._mirrored: dict[StreamKey, StreamState] | None = None

    def commit(self, flush: PendingFlush) -> None:
        """Land everything ``flush`` holds that has not landed yet; raises on failure."""
        flush.attempts += 1
        started = time.monotonic()
        self._flush_rows: dict[str, int] = {}
        for name, rows in flush.drained.tables.items():
            if name not in flush.raw_done:
                self._timed(name, lambda t, r=rows: (r, {}))
                flush.raw_done.add(name)
        if not flush.unified_done:
            if self._unified_has_news(flush):
                self._commit_unified(flush)
            flush.unified_done = True
        if flush.quarantine:
            rows = quarantine_rows(flush.quarantine)
            self._timed(QUARANTINE_TABLE, lambda _t: (rows, {}))
            flush.quarantine = []
        elapsed = time.monotonic() - started
        self._metrics.flush_seconds.observe(elapsed)
        self._mirror_watermarks(self._committed)
        open_ids = sum(hi - lo + 1 for s in flush.offsets.values() for lo, hi in s.gaps)
        log.info(
            "flush",
            extra={
                "rows": self._flush_rows,
                "seconds": round(elapsed, 3),
                "attempt": flush.attempts,
                "streams": len(flush.offsets),
                "open_gap_ids": open_ids,
            },
        )

    def _unified_has_news(self, flush: PendingFlush) -> bool:
        """Whether ``trades_unified`` needs a snapshot: mapped rows, or our streams' state
        moved since the last commit (a quarantine-only flush leaves it alone)."""
        if flush.unified is None:
            flush.unified = self._map(flush)
        return flush.unified.num_rows > 0 or flush.offsets != self.last_offsets

    def _commit_unified(self, flush: PendingFlush) -> None:
        if flush.unified is None:
            flush.unified = self._map(flush)
        rows = flush.unified
        merged: dict[StreamKey, StreamState] = {}

        def prepare(table: Table) -> tuple[pa.Table, dict[str, str]]:
            head = table.current_snapshot()
            head_id = head.snapshot_id if head else None
            if head_id != self._known_head:  # another writer committed: reread its states
                self._committed = committed_offsets(table)
            recheck = head_id != self._known_head or self._shared
            fresh = drop_committed(table, rows) if recheck else rows
            merged.clear()
            merged.update(union_offsets(self._committed, flush.offsets, self.last_offsets))
            return fresh, offsets_properties(table, merged)

        result = self._timed(UNIFIED_TABLE, prepare)
        self._known_head = result.snapshot_id
        self._committed = merged
        self._shared = {key for key, state in flush.offsets.items() if merged[key] != state}
        self.last_offsets = flush.offsets
        self._observe_lag(rows)

    def _map(self, flush: PendingFlush) -> pa.Table:
        mapped = []
        for name, raw in flush.drained.tables.items():
            result = self._mappings[name].apply(raw, keep_encoded=True)
            mapped.append(result.table)
            venue = RAW_TABLE_VENUES[name]
            flush.quarantine.extend(rejected_entries(venue, f"map:{name}", result.rejected))
        if not mapped:
            return self._table(UNIFIED_TABLE).schema().as_arrow().empty_table()
        # No key repeats within a flush: the sequencer admitted each (stream, id) once.
        return concat_alike(mapped)

    def _timed(self, name: str, prepare) -> CommitResult:
        started = time.monotonic()
        result = commit_append(self._table(name), prepare, retries=self._retries)
        self._metrics.commit_seconds.observe(time.monotonic() - started, table=name)
        self._metrics.commits.inc(table=name)
        if result.attempts > 1:
            self._metrics.commit_retries.inc(result.attempts - 1)
        log.debug(
            "commit",
            extra={"table": name, "rows": result.rows, "snapshot_id": result.snapshot_id},
        )
        flush_rows = self._flush_rows
        flush_rows[name] = flush_rows.get(name, 0) + result.rows
        return result

    def tables(self) -> dict[str, Table]:
        """Every table this committer writes, by name, as loaded by it (the same objects its
        commits use, so maintenance done through them leaves no stale metadata behind)."""
        names = [*self._mappings, UNIFIED_TABLE, QUARANTINE_TABLE, WATERMARKS_TABLE]
        return {name: self._table(name) for name in names}

    def _table(self, name: str) -> Table:
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self._lake.table(name)
        return table

    def _observe_lag(self, rows: pa.Table) -> None:
        """Every row's tick-to-commit lag into the histogram, counted with vectorised compares."""
        if rows.num_rows == 0:
            return
        now_us = int(time.time() * 1_000_000)
        histogram = self._metrics.tick_to_commit_seconds
        for chunk in rows.column("trade_ts").chunks:  # chunk by chunk: no concatenation
            trade_us = chunk.cast(pa.int64()).to_numpy(zero_copy_only=False)
            histogram.observe_many((now_us - trade_us) / 1_000_000.0)

    def mirror_final_state(self) -> None:
        """Mirror the last committed state now, unless the mirror already holds it (the
        daemon's stop calls this after its final flush)."""
        self._mirror_watermarks(union_offsets(self._committed, self.last_offsets), now=True)

    def _mirror_watermarks(
        self, offsets: dict[StreamKey, StreamState], *, now: bool = False
    ) -> None:
        """Best effort, at most once a minute: the mirror is for humans; the offsets in
        trades_unified's snapshots are the truth."""
        if offsets == self._mirrored:
            return
        if not now and time.monotonic() - self._mirrored_at < _MIRROR_EVERY_SECONDS:
            return
        self._mirrored_at = time.monotonic()
        try:
            write_watermarks(self._table(WATERMARKS_TABLE), offsets)
            self._mirrored = offsets
        except Exception as exc:
            log.warning("watermarks mirror not updated", extra={"error": str(exc)})
