"""``schemahub ingest``: every trade newer than each product's watermark.

The watermark (``{"last_trade_id", "last_updated"}``) is the newest id written. A run asks the
venue for its newest id, then fetches ``watermark+1 .. newest`` in chunks of ``limit`` trades,
oldest first, writing each chunk and then moving the watermark past it. Chunks start at fixed
ids (watermark + 1 + k * limit, ids being consecutive), so a run killed between a chunk and its
watermark writes the same object again on the next run: no duplicates across runs. Without a
watermark (first run, or ``--skip-checkpoint``) a run takes the newest ``limit`` trades.
``after`` / ``before`` bound the ids (exclusive): only ids > after and < before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemahub.jobs.checkpoints import Checkpoint, now_iso
from schemahub.jobs.progress import Progress
from schemahub.jobs.rawjsonl import validate_product
from schemahub.jobs.sinks import ChunkSink
from schemahub.venues.history import trade_id
from schemahub.venues.rest import VenueHistory


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """What to fetch."""

    venue: str
    products: Sequence[str]
    limit: int = 100
    after: int | None = None
    before: int | None = None
    skip_checkpoint: bool = False


@dataclass
class IngestReport:
    """Trades written per product."""

    trades: dict[str, int] = field(default_factory=dict)
    chunks: int = 0


async def run_ingest(
    history: VenueHistory, sink: ChunkSink, options: IngestOptions, progress: Progress
) -> IngestReport:
    """Bring every product up to the venue's newest trade (within ``after``/``before``)."""
    for product in options.products:
        validate_product(options.venue, product)
    report = IngestReport()
    for product in options.products:
        report.trades[product] = await _ingest_one(
            history, sink, product, options, progress, report
        )
    return report


async def _ingest_one(
    history: VenueHistory,
    sink: ChunkSink,
    product: str,
    options: IngestOptions,
    progress: Progress,
    report: IngestReport,
) -> int:
    stored = None if options.skip_checkpoint else await asyncio.to_thread(sink.checkpoint, product)
    newest = await history.latest_trade_id(product)
    if newest is None:
        return 0
    last = newest if options.before is None else min(newest, options.before - 1)
    if stored is not None:
        start = stored.last_trade_id
    elif options.after is not None:
        start = options.after
    else:
        start = max(0, last - options.limit)
    if options.after is not None:
        start = max(start, options.after)
    progress.add_total(max(0, last - start))
    size = min(options.limit, history.page_limit)
    written = 0
    low = start
    while low < last:
        chunk = await history.newer_trades(product, low, min(low + size, last))
        if not chunk:
            skipped_to = await _skip_to_held(history, product, start, low, size, last)
            progress.add_total(-max(0, skipped_to - low - size))  # ids the venue never held
            low = skipped_to
            continue
        low += size
        top = max(trade_id(t) for t in chunk)
        await asyncio.to_thread(sink.write_chunk, product, chunk, Checkpoint(top, None, now_iso()))
        report.chunks += 1
        written += len(chunk)
        progress.advance(len(chunk))
    return written


async def _skip_to_held(
    history: VenueHistory, product: str, start: int, low: int, size: int, last: int
) -> int:
    """After an empty chunk: the start of the chunk holding the venue's oldest trade when the
    range begins below it (``--after 0``), else the next chunk. Chunks stay aligned on
    ``start + k * size`` so reruns name their objects the same."""
    oldest = await history.oldest_trade_id(product, last)
    if oldest is None:
        return last
    if oldest > low + size:
        return start + ((oldest - 1 - start) // size) * size
    return low + size
