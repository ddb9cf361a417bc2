"""One pass of the lake's background upkeep: compaction of the compacted tables and deletion of
old orphan files (snapshot expiry stays with the commits). The daemon runs it on an interval
(``daemon/compaction.py``); ``schemahub maintain`` (``jobs/maintain.py``) does the same per
table with a report."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from schemahub.errors import LakeError
from schemahub.lake import QUARANTINE_TABLE, RAW_TABLES, UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.lake.compaction import PartitionResult, compact_table
from schemahub.lake.orphans import delete_orphans

COMPACTED_TABLES = (UNIFIED_TABLE, *RAW_TABLES.values())
MAINTAINED_TABLES = (*COMPACTED_TABLES, QUARANTINE_TABLE, WATERMARKS_TABLE)
log = logging.getLogger(__name__)


def compact_all(lake: Lake, horizon_seconds: float, orphan_age_seconds: float) -> UpkeepPass:
    """What the daemon's worker runs: compact every compacted table of ours that exists, then
    delete the orphan files of every table (snapshot expiry stays in the commit thread). A
    table that fails is logged and the others are still maintained."""
    existing = {ident[-1] for ident in lake.catalog.list_tables(lake.namespace)}
    done = UpkeepPass([], 0)
    for name in MAINTAINED_TABLES:
        if name not in existing:
            continue
        try:
            table = lake.table(name)
            if name in COMPACTED_TABLES:
                done.partitions.extend(compact_table(table, horizon_seconds))
                table.refresh()
            done.orphans_deleted += delete_orphans(table, orphan_age_seconds).deleted
        except LakeError as exc:
            log.warning("table upkeep failed", extra={"table": name, "error": str(exc)})
    return done


@dataclass
class UpkeepPass:
    """What one pass of the daemon's worker did."""

    partitions: list[PartitionResult]
    orphans_deleted: int
