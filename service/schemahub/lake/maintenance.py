"""Snapshot retention: expire old snapshots of a table and delete the files only they used.

Every flush adds a snapshot to each table, and pyiceberg rewrites the whole table metadata on
every commit, so both the commit CPU and the metadata size grow with the snapshot count until
old snapshots are expired. What one run of :func:`expire_snapshots` keeps:

- the current snapshot and every snapshot newer than the retention cutoff;
- the newest snapshot at or before the cutoff, so time travel to any moment of the retention
  window still finds the snapshot that was current then;
- the chain from the current snapshot back to the newest one carrying ``keep_property`` (for
  ``trades_unified``, the stream offsets), because readers find it by walking parent links;
- snapshots named by a branch or a tag.

Unify positions (``schemahub.unify.<raw>``) are not protected: keeping the raw snapshot a
batch unify last read would stop a daemon-fed raw table from ever expiring. A unify whose
position was expired rereads the raw table whole and drops the keys ``trades_unified`` already
holds (``jobs/unify.py``): the same rows, slower.

The expiry commit asserts that the table head did not move (a raw update with a requirement,
staged through :func:`schemahub.lake.pyiceberg_private.apply_updates`: pyiceberg's public
``ExpireSnapshots`` takes no requirement on the head). When a concurrent writer moved it,
expiry plans again on the new head: the same plan (the writer only appended on top) is
committed again; a different one fails with :class:`CommitConflictError` and nothing is
removed; the next run tries again.

Files: after the commit, the manifest lists of the expired snapshots are deleted (each belongs
to one snapshot). When the history is one chain and only its oldest part was expired, manifests
that no kept snapshot lists and data files that an expired snapshot deleted are deleted too
(every kept snapshot descends from the oldest kept one, so it can only list that one's manifests
or newer ones). Anything else leaves those files for an orphan-file cleanup by other engines.
Property files (``lake/sidecar.py``, e.g. large stream offsets) that only expired snapshots
reference are deleted too.

The metadata log: every metadata file written before the expiry still lists the expired
snapshots, whose manifest lists expiry deleted, and each is as large as the history it lists.
The table keeps ``write.metadata.previous-versions-max`` of them until later commits rotate them
out, which a stopped lake never does. :func:`trim_metadata_log` drops them at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot, ancestors_of
from pyiceberg.table.update import AssertRefSnapshotId, RemoveSnapshotsUpdate
from pyiceberg.utils.properties import property_as_bool

from schemahub.errors import CommitConflictError, LakeError
from schemahub.lake.pyiceberg_private import LeanTransaction, apply_updates
from schemahub.lake.sidecar import sidecar_files

log = logging.getLogger(__name__)
_MAIN = "main"
_SAME_PLAN_ATTEMPTS = 5  # a busy writer (a daemon flushing often) may win several times
_PROPERTY_ATTEMPTS = 5
_PREVIOUS_VERSIONS = "write.metadata.previous-versions-max"
_DELETE_AFTER_COMMIT = "write.metadata.delete-after-commit.enabled"


@dataclass(frozen=True)
class ExpiryPlan:
    """Which snapshots one run expires, and whether their files can be traced exactly."""

    expire: tuple[Snapshot, ...]
    oldest_kept: Snapshot | None
    linear: bool  # one chain of history, and only its oldest part expires


@dataclass(frozen=True)
class ExpiryResult:
    """What one run did to one table."""

    table: str
    expired: int
    kept: int
    files_deleted: int
    files_not_deleted: int = 0


def plan_expiry(
    metadata: TableMetadata, cutoff_ms: int, keep_property: str | None = None
) -> ExpiryPlan:
    """The snapshots of ``metadata`` that may go, by the rules in the module docstring."""
    current = metadata.current_snapshot()
    if current is None:
        return ExpiryPlan((), None, True)
    pinned = {ref.snapshot_id for ref in metadata.refs.values()}
    chain = list(ancestors_of(current, metadata))  # newest first
    keep_to = _oldest_kept_index(chain, cutoff_ms, keep_property)
    chain_ids = {s.snapshot_id for s in chain}
    old_chain = [s for s in chain[keep_to + 1 :] if s.snapshot_id not in pinned]
    off_chain = [
        s
        for s in metadata.snapshots
        if s.snapshot_id not in chain_ids
        and s.snapshot_id not in pinned
        and s.timestamp_ms < cutoff_ms
    ]
    expire = tuple(old_chain + off_chain)
    linear = len(metadata.snapshots) == len(chain) and len(old_chain) == len(chain) - keep_to - 1
    return ExpiryPlan(expire, chain[keep_to], linear)


def _oldest_kept_index(chain: list[Snapshot], cutoff_ms: int, keep_property: str | None) -> int:
    by_time = next((i for i, s in enumerate(chain) if s.timestamp_ms <= cutoff_ms), len(chain) - 1)
    by_property = 0
    if keep_property is not None:
        by_property = next((i for i, s in enumerate(chain) if _has(s, keep_property)), 0)
    return max(by_time, by_property)


def _has(snapshot: Snapshot, key: str) -> bool:
    summary = snapshot.summary
    return summary is not None and key in summary.additional_properties


def expire_snapshots(
    table: Table,
    retention_seconds: float,
    *,
    keep_property: str | None = None,
    now: float | None = None,
    refresh: bool = True,
) -> ExpiryResult:
    """Expire the snapshots of ``table`` older than ``retention_seconds`` (see module docstring)
    and delete the files only they used. ``now`` is the clock reading (default: the time);
    ``refresh=False`` plans on the metadata ``table`` holds instead of reloading it.

    Raises :class:`CommitConflictError` when another writer moved the table meanwhile (nothing
    was removed; try again later) and :class:`LakeError` when the catalog refused the commit.
    """
    name = ".".join(table.name())
    try:
        if refresh:
            table.refresh()
    except Exception as exc:  # catalogs and their drivers raise many unrelated types here
        raise LakeError(f"cannot refresh {name} before snapshot expiry: {exc}") from exc
    cutoff_ms = int(((time.time() if now is None else now) - retention_seconds) * 1000)
    plan = plan_expiry(table.metadata, cutoff_ms, keep_property)
    if not plan.expire:
        return ExpiryResult(name, 0, len(table.metadata.snapshots), 0)
    try:
        doomed = _files_of(table, plan)  # read before the commit: the manifest lists go with it
        doomed += _sidecars_only_of(table, plan)
    except OSError as exc:
        raise LakeError(f"cannot read the manifests of {name}'s old snapshots: {exc}") from exc
    _commit_replanned(table, plan, cutoff_ms, keep_property)
    deleted, failed = _delete(table, doomed)
    return ExpiryResult(name, len(plan.expire), len(table.metadata.snapshots), deleted, failed)


def _commit_replanned(
    table: Table, plan: ExpiryPlan, cutoff_ms: int, keep_property: str | None
) -> None:
    """Commit ``plan``; when a concurrent commit won, plan again on the new head and commit
    again if the plan is the same (a writer that only appended on top changes nothing that
    expiry removes or deletes). A different plan raises the conflict: nothing was removed."""
    for attempt in range(1, _SAME_PLAN_ATTEMPTS + 1):
        try:
            _commit_removal(table, plan)
            return
        except CommitConflictError:
            if attempt == _SAME_PLAN_ATTEMPTS:
                raise
            table.refresh()
            again = plan_expiry(table.metadata, cutoff_ms, keep_property)
            if not _same_plan(plan, again):
                raise


def _same_plan(first: ExpiryPlan, second: ExpiryPlan) -> bool:
    def ids(plan: ExpiryPlan) -> set[int]:
        return {s.snapshot_id for s in plan.expire}

    kept = [p.oldest_kept.snapshot_id if p.oldest_kept else None for p in (first, second)]
    return ids(first) == ids(second) and kept[0] == kept[1] and first.linear == second.linear


def _commit_removal(table: Table, plan: ExpiryPlan) -> None:
    head = table.metadata.current_snapshot_id
    ids = [s.snapshot_id for s in plan.expire]
    name = ".".join(table.name())
    try:
        with LeanTransaction(table) as txn:
            apply_updates(
                txn,
                (RemoveSnapshotsUpdate(snapshot_ids=ids),),
                (AssertRefSnapshotId(ref=_MAIN, snapshot_id=head),),
            )
    except CommitFailedException as exc:
        raise CommitConflictError(
            f"snapshot expiry of {name} lost to a concurrent commit; it is retried later: {exc}"
        ) from exc
    except (OSError, ValueError) as exc:
        raise LakeError(f"snapshot expiry of {name} failed: {exc}") from exc


def _files_of(table: Table, plan: ExpiryPlan) -> list[str]:
    """The files that only the expired snapshots use (see the module docstring)."""
    files = [s.manifest_list for s in plan.expire]
    if not plan.linear or plan.oldest_kept is None:
        return files
    io = table.io
    expired_ids = {s.snapshot_id for s in plan.expire}
    kept = {m.manifest_path for m in plan.oldest_kept.manifests(io)}
    seen: set[str] = set()
    for snapshot in plan.expire:
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            if manifest.added_snapshot_id in expired_ids:
                files.extend(_deleted_by(manifest.fetch_manifest_entry(io, False), expired_ids))
            if manifest.manifest_path not in kept:
                files.append(manifest.manifest_path)
    return files


def _sidecars_only_of(table: Table, plan: ExpiryPlan) -> list[str]:
    """Property files (lake/sidecar.py) that expired snapshots reference and no kept one does."""
    expired_ids = {s.snapshot_id for s in plan.expire}
    kept = [s for s in table.metadata.snapshots if s.snapshot_id not in expired_ids]
    return sorted(sidecar_files(table, plan.expire) - sidecar_files(table, kept))


def _deleted_by(entries: Iterable, snapshot_ids: set[int]) -> list[str]:
    """Data files whose entry says one of ``snapshot_ids`` deleted them."""
    return [
        e.data_file.file_path
        for e in entries
        if e.status == ManifestEntryStatus.DELETED and e.snapshot_id in snapshot_ids
    ]


def _delete(table: Table, paths: list[str]) -> tuple[int, int]:
    deleted = failed = 0
    for path in dict.fromkeys(paths):
        try:
            table.io.delete(path)
            deleted += 1
        except FileNotFoundError:
            pass  # already gone (another cleaner); nothing to do
        except OSError as exc:
            failed += 1
            log.warning(
                "file of an expired snapshot not deleted", extra={"path": path, "error": str(exc)}
            )
    return deleted, failed


def trim_metadata_log(table: Table) -> int:
    """Drop the previous metadata files from ``table``'s log and delete them; returns how many.

    Meant right after :func:`expire_snapshots`: the files it drops list snapshots that are gone.
    pyiceberg trims the log at a commit to the limit that commit leaves, and deletes the files it
    dropped: a first commit sets the limit to one, so the log keeps only the file it replaced
    (the expiry's, which lists no expired snapshot), and a second puts the table's own limit
    back. A concurrent writer's commit between the two trims the same way. A table that keeps
    its old metadata files (``write.metadata.delete-after-commit.enabled`` off) is left alone:
    trimming would leave them to orphan deletion. Raises :class:`CommitConflictError` when
    concurrent commits kept winning, and :class:`LakeError` when the catalog refused a commit.
    """
    table.refresh()
    logged = {entry.metadata_file for entry in table.metadata.metadata_log}
    if len(logged) <= 1 or not property_as_bool(table.properties, _DELETE_AFTER_COMMIT, False):
        return 0
    own_limit = table.properties.get(_PREVIOUS_VERSIONS)
    _commit_property(table, _PREVIOUS_VERSIONS, "1")
    _commit_property(table, _PREVIOUS_VERSIONS, own_limit)
    return len(logged - {entry.metadata_file for entry in table.metadata.metadata_log})


def _commit_property(table: Table, key: str, value: str | None) -> None:
    """Set (or with None, remove) one table property, again on the new head when a concurrent
    commit won: a property change does not depend on what the other writer committed."""
    name = ".".join(table.name())
    for attempt in range(1, _PROPERTY_ATTEMPTS + 1):
        try:
            with table.transaction() as txn:
                if value is None:
                    txn.remove_properties(key)
                else:
                    txn.set_properties({key: value})
            return
        except CommitFailedException as exc:
            if attempt == _PROPERTY_ATTEMPTS:
                raise CommitConflictError(
                    f"setting {key} on {name} kept losing to concurrent commits: {exc}"
                ) from exc
            table.refresh()
        except (OSError, ValueError) as exc:
            raise LakeError(f"setting {key} on {name} failed: {exc}") from exc


@dataclass
class MaintenanceRun:
    """What one maintenance pass over several tables did; a table that failed is named with
    the reason, and the other tables were still maintained."""

    results: list[ExpiryResult]
    conflicts: list[str]
    failures: dict[str, str]

    @property
    def expired(self) -> int:
        """Snapshots expired over all tables."""
        return sum(r.expired for r in self.results)


def maintain_tables(
    tables: dict[str, Table],
    retention_seconds: float,
    keep_properties: dict[str, str] | None = None,
    *,
    now: float | None = None,
    refresh: bool = True,
) -> MaintenanceRun:
    """Expire old snapshots of each table (by name). A conflict with a concurrent writer or a
    lake failure on one table is reported in the result, never raised: a long-running process
    simply tries again at its next pass."""
    keep_properties = keep_properties or {}
    run = MaintenanceRun([], [], {})
    for name, table in tables.items():
        try:
            run.results.append(
                expire_snapshots(
                    table,
                    retention_seconds,
                    keep_property=keep_properties.get(name),
                    now=now,
                    refresh=refresh,
                )
            )
        except CommitConflictError:
            run.conflicts.append(name)
        except LakeError as exc:
            run.failures[name] = str(exc)
    return run
