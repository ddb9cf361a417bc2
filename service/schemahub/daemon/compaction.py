"""The daemon's periodic compaction and orphan deletion, on the lake's upkeep pass."""

from __future__ import annotations

import asyncio
import logging

from schemahub.config import LakeConfig, S3Config
from schemahub.lake import Lake
from schemahub.lake.upkeep import compact_all

log = logging.getLogger(__name__)


async def compaction_worker(config: LakeConfig, s3: S3Config | None = None) -> None:
    """The daemon's periodic compaction and orphan deletion (:func:`compact_all`): every
    ``compaction_interval_seconds`` (0: never), in a thread of its own with its own catalog
    connection, so ingestion and commits go on meanwhile; a commit of the daemon that lands
    first only makes a compaction stage again."""
    interval = config.compaction_interval_seconds
    if interval <= 0:
        return
    lake = Lake(config, s3 or S3Config())
    while True:
        await asyncio.sleep(interval)
        try:
            done = await asyncio.to_thread(
                compact_all, lake, config.compaction_horizon_seconds, config.orphan_age_seconds
            )
        except Exception as exc:  # the lake may be away for a while: try at the next interval
            log.warning("compaction pass failed", extra={"error": str(exc)})
            continue
        log.info(
            "compacted",
            extra={
                "partitions": len(done.partitions),
                "files_before": sum(r.files_before for r in done.partitions),
                "files_after": sum(r.files_after for r in done.partitions),
                "outcomes": sorted({r.outcome.split(":")[0] for r in done.partitions}),
                "orphans_deleted": done.orphans_deleted,
            },
        )
