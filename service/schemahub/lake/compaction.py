"""Compaction: rewrite a partition's many small data files as a few large ones, sorted.

A streaming writer adds one small file per table per flush (a day at a 10 s flush is ~8,640
files), and every reader opens each one. A compaction reads every data file of one partition,
sorts the rows by the table's sort order (``trades_unified``: symbol, trade_ts; the raw tables:
their symbol column and venue time), writes them in files of ``write.target-file-size-bytes``
and commits one ``replace`` snapshot for that partition (:mod:`schemahub.lake.replace`).

Files written by a compaction carry the table's sort order id; a partition is compacted when one
of its files does not (new appends, late gap-fills), and its newest row is older than the
horizon (``horizon_seconds=0``: every partition, today's included).

Concurrent writers are never overwritten: the replace deletes exactly the files that were read.
When another writer committed meanwhile (the daemon, a gap-fill, a ``run`` job), the commit is
staged again on the new head with the same files, and the files are re-checked there; when one
of the files read is no longer live (another compaction won), the partition is given up and the
files this run wrote are deleted. Rows appended meanwhile stay in their own files either way.

Each replace snapshot also lists a manifest of the files it deleted (readers skip its entries,
snapshot expiry reads them), and pyiceberg's replace keeps those of other partitions' earlier
replaces: a run over three days leaves three, each naming a day's ~8,640 small files, which
every reader still fetches and decodes. Appends drop such manifests, so after a run that
compacted anything an empty append does (:func:`drop_deleted_manifests`) unless another writer
already did.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.conversions import from_bytes
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.table import FileScanTask, Table
from pyiceberg.transforms import DayTransform

from schemahub.errors import LakeError
from schemahub.lake.append import data_files, single_partition_key
from schemahub.lake.replace import commit_replace, mark_sorted, read_files

log = logging.getLogger(__name__)
_DAY_US = 86_400_000_000
COMPACTED_PROPERTY = "schemahub.compacted-partition"

# Called after the new files are written and before the first commit attempt: where a test
# lets a real second writer commit, to prove the replace keeps that writer's rows.
BeforeCommit = Callable[[Table, "PartitionPlan"], None]


@dataclass(frozen=True)
class PartitionPlan:
    """One partition to compact: the files read, as the scan planned them."""

    table: str
    partition: str
    tasks: tuple[FileScanTask, ...]
    newest_us: int | None

    @property
    def files(self) -> int:
        """How many data files the partition has now."""
        return len(self.tasks)

    @property
    def bytes(self) -> int:
        """Their total size on storage."""
        return sum(t.file.file_size_in_bytes for t in self.tasks)

    @property
    def rows(self) -> int:
        """Their total row count."""
        return sum(t.file.record_count for t in self.tasks)


@dataclass(frozen=True)
class PartitionResult:
    """What compacting one partition did (``outcome``: compacted, planned, or gave up: why)."""

    table: str
    partition: str
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int
    rows: int
    outcome: str
    attempts: int = 0
    seconds: float = 0.0


def sort_columns(table: Table) -> list[str]:
    """The columns of the table's sort order, or [] when the table is unsorted."""
    schema = table.metadata.schema()
    order = table.sort_order()
    return [schema.find_column_name(f.source_id) for f in order.fields if f.source_id]


def plan_compaction(
    table: Table, horizon_seconds: float, *, now: float | None = None
) -> list[PartitionPlan]:
    """The partitions of ``table`` worth compacting now, oldest first (see module docstring)."""
    head = table.current_snapshot()
    order_id = table.sort_order().order_id
    if head is None or not sort_columns(table) or table.spec().is_unpartitioned():
        return []
    name = ".".join(table.name())
    cutoff_us = int(((time.time() if now is None else now) - horizon_seconds) * 1_000_000)
    groups: dict[tuple, list[FileScanTask]] = defaultdict(list)
    for task in table.scan(snapshot_id=head.snapshot_id).plan_files():
        groups[(task.file.spec_id, *_values(task))].append(task)
    plans = []
    for key in sorted(groups, key=repr):
        tasks = groups[key]
        if all(t.file.sort_order_id == order_id for t in tasks):
            continue  # compacted already, nothing added since
        if any(t.delete_files for t in tasks):
            log.warning("partition with delete files not compacted", extra={"table": name})
            continue
        newest = _newest_us(table, tasks)
        if horizon_seconds > 0 and (newest is None or newest > cutoff_us):
            continue
        plans.append(PartitionPlan(name, _label(table, tasks[0]), tuple(tasks), newest))
    return plans


def _values(task: FileScanTask) -> tuple:
    partition = task.file.partition
    return tuple(partition[i] for i in range(len(partition)))


def _label(table: Table, task: FileScanTask) -> str:
    spec = table.metadata.specs()[task.file.spec_id]
    return spec.partition_to_path(task.file.partition, table.metadata.schema())


def _newest_us(table: Table, tasks: list[FileScanTask]) -> int | None:
    """The newest value of the partition's source column (its row time), from the file
    statistics, or the end of the partition's day when a file has none."""
    spec = table.metadata.specs()[tasks[0].file.spec_id]
    field = spec.fields[0]
    source_type = table.metadata.schema().find_field(field.source_id).field_type
    newest = None
    for task in tasks:
        bound = (task.file.upper_bounds or {}).get(field.source_id)
        if bound is not None:
            value = from_bytes(source_type, bound)
        elif isinstance(field.transform, DayTransform) and task.file.partition[0] is not None:
            value = (task.file.partition[0] + 1) * _DAY_US - 1
        else:
            return None
        newest = value if newest is None else max(newest, value)
    return newest


def compact_partition(
    table: Table,
    plan: PartitionPlan,
    *,
    retries: int = 5,
    before_commit: BeforeCommit | None = None,
) -> PartitionResult:
    """Rewrite ``plan``'s files as sorted large files in one replace commit (see module
    docstring). Raises :class:`LakeError` when the files cannot be read or written."""
    started = time.monotonic()
    order_id = table.sort_order().order_id
    try:
        rows = read_files(table, plan.tasks)
        rows = rows.sort_by([(c, "ascending") for c in sort_columns(table)])
        added = _write(table, rows, order_id)
    except (OSError, ValueError) as exc:
        raise LakeError(f"cannot rewrite {plan.table} {plan.partition}: {exc}") from exc
    if before_commit is not None:
        before_commit(table, plan)
    outcome, attempts = _commit(table, plan, added, retries)
    if outcome != "compacted":
        _delete_quietly(table, [f.file_path for f in added])
        added = []
    return PartitionResult(
        plan.table,
        plan.partition,
        plan.files,
        plan.bytes,
        len(added) if added else plan.files,
        sum(f.file_size_in_bytes for f in added) if added else plan.bytes,
        rows.num_rows,
        outcome,
        attempts,
        round(time.monotonic() - started, 3),
    )


def _write(table: Table, rows: pa.Table, order_id: int) -> list:
    metadata = table.metadata
    if rows.num_rows and single_partition_key(metadata, rows) is None:
        raise ValueError("the rows read span several partitions")
    written = data_files(metadata, rows, table.io, uuid.uuid4()) if rows.num_rows else []
    return [mark_sorted(f, order_id) for f in written]


def _commit(table: Table, plan: PartitionPlan, added: list, retries: int) -> tuple[str, int]:
    deleted = [t.file for t in plan.tasks]
    properties = {COMPACTED_PROPERTY: plan.partition}
    for attempt in range(1, retries + 2):
        try:
            commit_replace(table, deleted, added, properties)
            return "compacted", attempt
        except CommitFailedException:
            log.info("compaction conflict, retrying on the new head", extra={"table": plan.table})
            time.sleep(0.05 * attempt)  # let a burst of commits pass
            table.refresh()  # the files are re-checked against the new head on the next try
        except ValidationException as exc:
            return f"gave up: another writer rewrote these files ({exc})", attempt
    return f"gave up: the table kept moving ({retries + 1} attempts)", retries + 1


def _delete_quietly(table: Table, paths: list[str]) -> None:
    for path in paths:
        try:
            table.io.delete(path)
        except OSError as exc:
            log.warning(
                "unused compaction file not deleted", extra={"path": path, "error": str(exc)}
            )


def compact_table(
    table: Table,
    horizon_seconds: float,
    *,
    dry_run: bool = False,
    now: float | None = None,
    before_commit: BeforeCommit | None = None,
) -> list[PartitionResult]:
    """Compact every partition of ``table`` that :func:`plan_compaction` picks, one replace
    commit each; with ``dry_run`` only report the plan."""
    results = []
    for plan in plan_compaction(table, horizon_seconds, now=now):
        if dry_run:
            results.append(
                PartitionResult(
                    plan.table, plan.partition, plan.files, plan.bytes, 0, 0, plan.rows, "planned"
                )
            )
            continue
        results.append(compact_partition(table, plan, before_commit=before_commit))
    if any(r.outcome == "compacted" for r in results):
        drop_deleted_manifests(table)
    return results


def drop_deleted_manifests(table: Table, retries: int = 5) -> bool:
    """Commit an empty append when ``table``'s current snapshot lists manifests that hold only
    deleted files (see module docstring); True when it did. A concurrent writer's append drops
    them too, so a lost race is checked again on the new head. Raises :class:`LakeError` when
    the table kept moving or the catalog refused the commit."""
    name = ".".join(table.name())
    for _ in range(retries + 1):
        if not _lists_deleted_only_manifests(table):
            return False
        try:
            with table.transaction() as txn, txn.update_snapshot().fast_append():
                pass  # no file: the append keeps only the manifests that hold live files
            return True
        except CommitFailedException:
            time.sleep(0.05)
            table.refresh()
        except (OSError, ValueError) as exc:
            raise LakeError(f"cannot drop the deleted-file manifests of {name}: {exc}") from exc
    raise LakeError(f"cannot drop the deleted-file manifests of {name}: the table kept moving")


def _lists_deleted_only_manifests(table: Table) -> bool:
    snapshot = table.current_snapshot()
    if snapshot is None:
        return False
    return any(
        not (m.has_added_files() or m.has_existing_files()) for m in snapshot.manifests(table.io)
    )
