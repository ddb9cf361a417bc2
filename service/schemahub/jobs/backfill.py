"""``schemahub backfill``: each product's history, newest trade down to the oldest.

A fresh walk first records its anchor (the newest id + 1) as the checkpoint, so every later
chunk is fixed by its cursor: ``older_trades(cursor, chunk_size)`` returns the same trades each
time it is asked. Each chunk is written, then the checkpoint moves to the chunk's oldest id.
Killed at any moment and rerun with ``--resume``, the walk starts from the last checkpoint;
the chunk written without its checkpoint is fetched again and replaces its own object. The
walk stops when the venue returns an empty page.

Products run ``workers`` at a time; all share the venue client's rate limiter, which also
honours Retry-After and backs off (``venues/rest.py``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemahub.jobs.checkpoints import Checkpoint, now_iso
from schemahub.jobs.progress import Progress
from schemahub.jobs.rawjsonl import validate_product
from schemahub.jobs.sinks import ChunkSink
from schemahub.venues.history import trade_id
from schemahub.venues.rest import VenueHistory


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    """What to walk and how."""

    venue: str
    products: Sequence[str]
    chunk_size: int = 100
    workers: int = 1
    resume: bool = False


@dataclass
class ProductPlan:
    """One product's walk, as the dry run prints it."""

    product: str
    newest_id: int | None
    oldest_id: int | None
    start_below: int | None
    trades: int
    requests: int


@dataclass
class BackfillReport:
    """What a run wrote."""

    trades: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    requests: int = 0
    retries: int = 0


async def plan_backfill(
    history: VenueHistory, sink: ChunkSink, options: BackfillOptions
) -> list[ProductPlan]:
    """Per product: the id range still to fetch and the requests it takes (a few probe
    requests a product, nothing written)."""
    plans: list[ProductPlan] = []
    page = min(options.chunk_size, history.page_limit)
    for product in options.products:
        validate_product(options.venue, product)
        stored = sink.checkpoint(product) if options.resume else None
        newest = await history.latest_trade_id(product)
        searchable = newest is not None and history.oldest_probe_requests is not None
        oldest = await history.oldest_trade_id(product, newest) if searchable else None
        below = stored.last_trade_id if stored else (newest + 1 if newest is not None else None)
        trades = max(0, below - oldest) if below is not None and oldest is not None else 0
        requests = math.ceil(trades / page) + 1  # the last, empty page ends the walk
        plans.append(ProductPlan(product, newest, oldest, below, trades, requests))
    return plans


async def run_backfill(
    history: VenueHistory, sink: ChunkSink, options: BackfillOptions, progress: Progress
) -> BackfillReport:
    """Walk every product down to its oldest trade, ``options.workers`` products at a time."""
    for product in options.products:
        validate_product(options.venue, product)
    report = BackfillReport()
    slots = asyncio.Semaphore(options.workers)
    # Every checkpoint is read before anything is written: a corrupt one stops the run clean.
    stored = {
        p: await asyncio.to_thread(sink.checkpoint, p) if options.resume else None
        for p in options.products
    }

    async def one(product: str) -> None:
        async with slots:
            await _walk(history, sink, product, stored[product], progress, report, options)

    await asyncio.gather(*(one(p) for p in options.products))
    report.requests = history.client.requests
    report.retries = history.client.retries
    return report


async def _walk(
    history: VenueHistory,
    sink: ChunkSink,
    product: str,
    checkpoint: Checkpoint | None,
    progress: Progress,
    report: BackfillReport,
    options: BackfillOptions,
) -> None:
    if checkpoint is None:
        newest = await history.latest_trade_id(product)
        if newest is None:
            report.trades[product] = 0
            return
        checkpoint = Checkpoint(newest + 1, 0, now_iso())
        await asyncio.to_thread(sink.anchor, product, checkpoint)
    await _count_remaining(history, product, checkpoint.last_trade_id, progress)
    cursor, processed = checkpoint.last_trade_id, checkpoint.trades_processed or 0
    size = min(options.chunk_size, history.page_limit)
    written = 0
    while chunk := await history.older_trades(product, cursor, size):
        cursor = min(trade_id(t) for t in chunk)
        processed += len(chunk)
        written += len(chunk)
        moved = Checkpoint(cursor, processed, now_iso())
        await asyncio.to_thread(sink.write_chunk, product, chunk, moved)
        report.chunks += 1
        progress.advance(len(chunk))
    report.trades[product] = written


async def _count_remaining(
    history: VenueHistory, product: str, below: int, progress: Progress
) -> None:
    """Grow the progress total by what lies below ``below`` when the venue says cheaply."""
    if history.oldest_probe_requests is None:
        return  # on this venue the search costs more than an ETA is worth
    oldest = await history.oldest_trade_id(product, below - 1)
    if oldest is not None:
        progress.add_total(max(0, below - oldest))
