"""``schemahub maintain``: compact, expire snapshots and delete orphan files, table by table.

Per table, in this order: compaction of its partitions (``lake/compaction.py``; the unified and
raw tables only), snapshot expiry and, when it expired any, the trim of the metadata log
(``lake/maintenance.py``), then orphan deletion (``lake/orphans.py``), so files that compaction
replaced and expiry released, and the old metadata files listing them, are gone by the end of
one run. A failure on one table is reported and the others are still maintained.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from schemahub.errors import CommitConflictError, LakeError, UsageError
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.compaction import BeforeCommit, PartitionResult, compact_table
from schemahub.lake.maintenance import (
    ExpiryResult,
    expire_snapshots,
    plan_expiry,
    trim_metadata_log,
)
from schemahub.lake.orphans import OrphanResult, delete_orphans
from schemahub.lake.upkeep import COMPACTED_TABLES, MAINTAINED_TABLES
from schemahub.sequencing import OFFSETS_PROPERTY

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
    metadata_files_deleted: int = 0  # old metadata files dropped from the log after expiry
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
        if done.expired and not options.dry_run:
            done.metadata_files_deleted = trim_metadata_log(table)
        table.refresh()
        done.orphans = delete_orphans(
            table, options.orphan_age_seconds, now=now, dry_run=options.dry_run
        )
    except LakeError as exc:  # a conflict too: the next run tries again
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
        if t.metadata_files_deleted:
            line += f", {t.metadata_files_deleted} old metadata files deleted"
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
