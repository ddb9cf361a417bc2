"""Deleting files under a table's folder that no snapshot, metadata file or property references.

They come from commits that lost a race (their manifests and manifest lists), writers that died
between writing a data file and committing it, and files of expired snapshots that expiry could
not trace (``lake/maintenance.py``). A file counts as referenced when the current metadata, a
metadata file in its log, a kept snapshot's manifest list, manifests or live data files, a
statistics file or a snapshot property file (``lake/sidecar.py``) names it. Only files older
than ``older_than_seconds`` are deleted: a writer's data files exist before its commit names
them, so the age must exceed the longest write-to-commit time of every writer (a day by default).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from pyarrow import fs as pafs
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table

from schemahub.errors import LakeError
from schemahub.lake.sidecar import sidecar_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrphanResult:
    """What one orphan scan of one table found and deleted."""

    table: str
    found: int
    deleted: int
    bytes: int
    skipped: str | None = None  # why the table was not scanned


def referenced_files(table: Table) -> set[str]:
    """Every file path the table's metadata references (as storage paths, without scheme)."""
    metadata, io = table.metadata, table.io
    paths = {table.metadata_location, *(e.metadata_file for e in metadata.metadata_log)}
    paths |= {s.statistics_path for s in metadata.statistics}
    paths |= {s.statistics_path for s in metadata.partition_statistics}
    paths |= sidecar_files(table, metadata.snapshots)
    seen: set[str] = set()
    for snapshot in metadata.snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            paths.add(manifest.manifest_path)
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=False):
                if entry.status != ManifestEntryStatus.DELETED:
                    paths.add(entry.data_file.file_path)
    return {_storage_path(p) for p in paths}


def _storage_path(location: str) -> str:
    return PyArrowFileIO.parse_location(location)[2]


def delete_orphans(
    table: Table, older_than_seconds: float, *, now: float | None = None, dry_run: bool = False
) -> OrphanResult:
    """Delete the table's orphan files older than ``older_than_seconds`` (see module
    docstring); ``dry_run`` only counts them. Raises :class:`LakeError` when the folder or the
    metadata cannot be read."""
    name = ".".join(table.name())
    io = table.io
    if not isinstance(io, PyArrowFileIO):
        return OrphanResult(name, 0, 0, 0, f"listing files needs PyArrowFileIO, not {type(io)}")
    cutoff = (time.time() if now is None else now) - older_than_seconds
    scheme, netloc, root = PyArrowFileIO.parse_location(table.metadata.location)
    try:
        filesystem = io.fs_by_scheme(scheme, netloc)
        listed = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
        keep = referenced_files(table)
    except OSError as exc:
        raise LakeError(f"cannot list the files of {name}: {exc}") from exc
    orphans = [
        f
        for f in listed
        if f.type == pafs.FileType.File
        and f.path not in keep
        and f.mtime is not None
        and f.mtime.timestamp() < cutoff
    ]
    deleted = size = 0
    for info in orphans:
        if dry_run:
            continue
        try:
            filesystem.delete_file(info.path)
        except OSError as exc:
            log.warning("orphan file not deleted", extra={"path": info.path, "error": str(exc)})
            continue
        deleted += 1
        size += info.size or 0
    return OrphanResult(name, len(orphans), deleted, size)
