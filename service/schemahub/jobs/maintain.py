"""``schemahub maintain``: compact, expire snapshots and delete orphan files, table by table.

Per table, in this order: compaction of its partitions (``lake/compaction.py``; the unified and
raw tables only), snapshot expiry (``lake/maintenance.py``), then orphan deletion
(``lake/orphans.py``), so files that compaction replaced and expiry released are gone by the
end of one run. A failure on one table is reported and the others are still maintained.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from schemahub.config import LakeConfig, S3Config
from schemahub.errors import CommitConflictError, LakeError, UsageError
from schemahub.lake import QUARANTINE_TABLE, RAW_TABLES, UNIFIED_TABLE, WATERMARKS_TABLE, Lake
from schemahub.lake.compaction import BeforeCommit, PartitionResult, compact_table
from schemahub.lake.maintenance import ExpiryResult, expire_snapshots, plan_expiry
from schemahub.lake.orphans import OrphanResult, delete_orphans
from schemahub.sequencing import OFFSETS_PROPERTY

COMPACTED_TABLES = (UNIFIED_TABLE, *RAW_TABLES.values())
MAINTAINED_TABLES = (*COMPACTED_TABLES, QUARANTINE_TABLE, WATERMARKS_TABLE)
_KEEP_PROPERTY = {UNIFIED_TABLE: OFFSETS_PROPERTY}
_EXPIRY_ATTEMPTS = 3
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaintainOptions:
    """What one run does."""

    retention_seconds: float
    orphan_age_seconds: float
    horizon_seconds: float = 86_400.0
    tables: tuple[str, ...] = ()  # empty: every table of ours that exists
    dry_run: bool = False


@dataclass
class TableMaintenance:
    """What one run did to one table."""

    table: str
    partitions: list[PartitionResult] = field(default_factory=list)
    expired: int = 0
    files_deleted: int = 0
    orphans: OrphanResult | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class MaintainReport:
    """What one run did, table by table, and how long it took."""

    tables: list[TableMaintenance]
    seconds: float

    @property
    def failed(self) -> bool:
        """Whether any table had an error."""
        return any(t.errors for t in self.tables)


def options_from(lake: Lake, horizon_seconds: float | None = None, **kwargs) -> MaintainOptions:
    """Options with the configured retention, orphan age and horizon unless given."""
    config = lake.config
    horizon = config.compaction_horizon_seconds if horizon_seconds is None else horizon_seconds
    return MaintainOptions(
        retention_seconds=config.snapshot_retention_seconds,
        orphan_age_seconds=config.orphan_age_seconds,
        horizon_seconds=horizon,
        **kwargs,
    )


def maintain(
    lake: Lake,
    options: MaintainOptions,
    *,
    now: float | None = None,
    before_commit: BeforeCommit | None = None,
) -> MaintainReport:
    """Maintain each table of ``options`` (see module docstring)."""
    started = time.monotonic()
    names = _table_names(lake, options.tables)
    done = [_maintain_one(lake, name, options, now, before_commit) for name in names]
    return MaintainReport(done, round(time.monotonic() - started, 3))


def _table_names(lake: Lake, wanted: tuple[str, ...]) -> list[str]:
    for name in wanted:
        if name not in MAINTAINED_TABLES:
            raise UsageError(
                f"--table {name!r} is not a SchemaHub table; expected one of "
                f"{', '.join(MAINTAINED_TABLES)}"
            )
    if wanted:
        return list(wanted)
    existing = {ident[-1] for ident in lake.catalog.list_tables(lake.namespace)}
    return [name for name in MAINTAINED_TABLES if name in existing]


def _maintain_one(
    lake: Lake,
    name: str,
    options: MaintainOptions,
    now: float | None,
    before_commit: BeforeCommit | None,
) -> TableMaintenance:
    done = TableMaintenance(name)
    try:
        table = lake.table(name)
        if name in COMPACTED_TABLES:
            done.partitions = compact_table(
                table,
                options.horizon_seconds,
                dry_run=options.dry_run,
                now=now,
                before_commit=before_commit,
            )
        _expire(table, name, options, now, done)
        table.refresh()
        done.orphans = delete_orphans(
            table, options.orphan_age_seconds, now=now, dry_run=options.dry_run
        )
    except LakeError as exc:
        done.errors.append(str(exc))
    return done


def _expire(table, name: str, options: MaintainOptions, now, done: TableMaintenance) -> None:
    keep = _KEEP_PROPERTY.get(name)
    if options.dry_run:
        table.refresh()
        clock = time.time() if now is None else now
        cutoff_ms = int((clock - options.retention_seconds) * 1000)
        done.expired = len(plan_expiry(table.metadata, cutoff_ms, keep).expire)
        return
    for attempt in range(1, _EXPIRY_ATTEMPTS + 1):
        try:
            result: ExpiryResult = expire_snapshots(
                table, options.retention_seconds, keep_property=keep, now=now
            )
        except CommitConflictError:
            if attempt == _EXPIRY_ATTEMPTS:
                done.errors.append("snapshot expiry kept losing to concurrent commits")
            continue
        done.expired, done.files_deleted = result.expired, result.files_deleted
        return


def report_lines(report: MaintainReport, *, dry_run: bool = False) -> list[str]:
    """What the run did (or, with ``dry_run``, would do), as lines for a person."""
    lines = []
    for t in report.tables:
        for p in t.partitions:
            lines.append(
                f"{t.table} {p.partition}: {p.files_before} files {_size(p.bytes_before)} -> "
                + (
                    f"{p.rows} rows to rewrite"
                    if dry_run
                    else f"{p.files_after} files {_size(p.bytes_after)} ({p.outcome}, "
                    f"{p.rows} rows, {p.seconds:.1f} s)"
                )
            )
        if not t.partitions:
            lines.append(f"{t.table}: no partition to compact")
        orphans = t.orphans
        verb = "to expire" if dry_run else "expired"
        line = f"{t.table}: {t.expired} snapshots {verb}, {t.files_deleted} files of theirs deleted"
        if orphans is not None and orphans.skipped:
            line += f"; orphan files not scanned: {orphans.skipped}"
        elif orphans is not None:
            line += (
                f"; {orphans.found} orphan files found"
                if dry_run
                else f"; {orphans.deleted} orphan files deleted ({_size(orphans.bytes)})"
            )
        lines.append(line)
        lines.extend(f"{t.table}: error: {e}" for e in t.errors)
    lines.append(f"{'planned' if dry_run else 'done'} in {report.seconds:.1f} s")
    return lines


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


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
