"""Tags: names for snapshots that expiry and compaction keep, so "the table as of the incident"
stays readable (``schemahub tag``).

A tag is an Iceberg snapshot reference: snapshot expiry (``lake/maintenance.py``) never expires
a snapshot a reference names, orphan deletion (``lake/orphans.py``) counts every file of every
kept snapshot as referenced, and compaction only changes the newest snapshot, so a tagged
snapshot's files stay where its manifests say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType

from schemahub.errors import LakeError, UsageError


@dataclass(frozen=True)
class TagInfo:
    """One tag of one table."""

    table: str
    name: str
    snapshot_id: int
    committed_at_ms: int | None


def snapshot_at(table: Table, moment: datetime) -> int:
    """The id of the snapshot that was current at ``moment``."""
    snapshot = table.snapshot_as_of_timestamp(int(moment.timestamp() * 1000))
    if snapshot is None:
        raise UsageError(
            f"{_name(table)} had no snapshot at {moment.isoformat()}; its oldest kept one is "
            f"from {_oldest(table)}"
        )
    return snapshot.snapshot_id


def create_tag(table: Table, name: str, snapshot_id: int | None = None) -> TagInfo:
    """Tag ``snapshot_id`` (default: the current snapshot) as ``name``."""
    if name in table.metadata.refs:
        raise UsageError(f"{_name(table)} already has a reference named {name!r}")
    if snapshot_id is None:
        current = table.current_snapshot()
        if current is None:
            raise UsageError(f"{_name(table)} has no snapshot to tag yet")
        snapshot_id = current.snapshot_id
    if table.snapshot_by_id(snapshot_id) is None:
        raise UsageError(f"{_name(table)} has no snapshot {snapshot_id} (expired, or a typo)")
    try:
        table.manage_snapshots().create_tag(snapshot_id, name).commit()
    except (CommitFailedException, ValueError) as exc:
        raise LakeError(f"cannot tag {_name(table)}: {exc}") from exc
    return _info(table, name, snapshot_id)


def delete_tag(table: Table, name: str) -> None:
    """Remove tag ``name``; its snapshot may then expire like any other."""
    ref = table.metadata.refs.get(name)
    if ref is None or ref.snapshot_ref_type != SnapshotRefType.TAG:
        raise UsageError(f"{_name(table)} has no tag {name!r}; `schemahub tag --list` shows them")
    try:
        table.manage_snapshots().remove_tag(name).commit()
    except (CommitFailedException, ValueError) as exc:
        raise LakeError(f"cannot delete tag {name!r} of {_name(table)}: {exc}") from exc


def list_tags(table: Table) -> list[TagInfo]:
    """The table's tags, by name."""
    return [
        _info(table, name, ref.snapshot_id)
        for name, ref in sorted(table.metadata.refs.items())
        if ref.snapshot_ref_type == SnapshotRefType.TAG
    ]


def tagged_snapshot(table: Table, name: str) -> int | None:
    """The snapshot id tag ``name`` names in ``table``, or None."""
    ref = table.metadata.refs.get(name)
    if ref is None or ref.snapshot_ref_type != SnapshotRefType.TAG:
        return None
    return ref.snapshot_id


def _info(table: Table, name: str, snapshot_id: int) -> TagInfo:
    snapshot = table.snapshot_by_id(snapshot_id)
    return TagInfo(_name(table), name, snapshot_id, snapshot.timestamp_ms if snapshot else None)


def _oldest(table: Table) -> str:
    if not table.metadata.snapshots:
        return "never (it is empty)"
    oldest = min(s.timestamp_ms for s in table.metadata.snapshots)
    return datetime.fromtimestamp(oldest / 1000).astimezone().isoformat()


def _name(table: Table) -> str:
    return ".".join(table.name())
