"""Snapshot summary values too big to repeat in every snapshot, kept in a file beside the table.

Every snapshot's summary stays in the table metadata, which the catalog rewrites on every commit,
for as long as the snapshot is retained. The stream offsets ride along with every
``trades_unified`` commit (invariant 2); with thousands of streams they are tens of KB, times
every retained snapshot. So a value longer than :data:`INLINE_MAX` characters is written to a
new, never-rewritten file under ``<table>/metadata/schemahub/`` *before* the commit, and the
summary holds only ``"f:" + its path``. The commit that lands the rows also lands the reference,
atomically; a file whose commit failed is never referenced (nothing deletes it on failure, since
a commit that timed out may still have landed).

:func:`sidecar_files` names the files a set of snapshots references, so snapshot expiry can
delete the ones only expired snapshots used.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from schemahub.errors import LakeError

REFERENCE = "f:"  # inline values are JSON or "z:" + base64, so they never start like this
INLINE_MAX = 4096
FOLDER = "metadata/schemahub"


def store_value(table: Table, value: str) -> str:
    """What to put in the snapshot summary for ``value``: the value itself when it is short,
    else a reference to a new file holding it (written now, before the commit)."""
    if len(value) <= INLINE_MAX:
        return value
    path = f"{_folder(table)}{uuid.uuid4().hex}.txt"
    try:
        with table.io.new_output(path).create(overwrite=False) as out:
            out.write(value.encode())
    except OSError as exc:
        raise LakeError(f"cannot write the snapshot property file {path}: {exc}") from exc
    return REFERENCE + path


def load_value(table: Table, stored: str) -> str:
    """A summary value as :func:`store_value` stored it, with a reference read back."""
    if not stored.startswith(REFERENCE):
        return stored
    path = stored[len(REFERENCE) :]
    try:
        with table.io.new_input(path).open() as source:
            return source.read().decode()
    except (OSError, UnicodeDecodeError) as exc:
        raise LakeError(
            f"the snapshot property file {path} of {'.'.join(table.name())} cannot be read "
            f"({exc}); the snapshot that references it expects it next to the table metadata"
        ) from exc


def sidecar_files(table: Table, snapshots: Iterable[Snapshot]) -> set[str]:
    """The property files ``snapshots`` reference (only files in this table's folder)."""
    prefix = _folder(table)
    files = set()
    for snapshot in snapshots:
        summary = snapshot.summary
        if summary is None:
            continue
        for value in summary.additional_properties.values():
            if value.startswith(REFERENCE) and value[len(REFERENCE) :].startswith(prefix):
                files.add(value[len(REFERENCE) :])
    return files


def _folder(table: Table) -> str:
    """Where this table's property files live, ending in a slash."""
    return f"{table.metadata.location.rstrip('/')}/{FOLDER}/"
