"""``schemahub run unify trades_unified``: raw tables -> the unified table, incrementally.

Where each raw table was read up to is a snapshot summary property of the unified table's own
commit (``schemahub.unify.<raw table>`` = the raw snapshot id consumed), so the position moves
atomically with the rows. Each run reads only raw snapshots appended since, maps them with the
compiled YAML rules, drops keys the unified table already holds, and commits once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of

from schemahub.errors import UsageError
from schemahub.lake import QUARANTINE_TABLE, RAW_TABLE_VENUES, UNIFIED_TABLE, Lake
from schemahub.lake.dedupe import dedupe_within, drop_committed
from schemahub.lake.mapped import unified_arrow_schema, unified_mappings
from schemahub.lake.quarantine import QuarantineEntry, quarantine_rows, rejected_entries
from schemahub.lake.writer import commit_append, latest_property
from schemahub.schemas import (
    UNIFIED_KEY,
)

log = logging.getLogger(__name__)
POSITION_PREFIX = "schemahub.unify."
UNIFY_TARGETS = (UNIFIED_TABLE,)


@dataclass
class UnifyReport:
    """What one unify run read, refused and wrote."""

    read: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    duplicates: int = 0
    written: int = 0
    snapshot_id: int | None = None


def run_unify(lake: Lake, mappings_dir: Path, target: str = UNIFIED_TABLE, full: bool = False):
    """Bring ``target`` up to date with the raw tables; ``full`` rebuilds it from scratch."""
    if target not in UNIFY_TARGETS:
        raise UsageError(f"unknown unify target {target!r}; expected one of {UNIFY_TARGETS}")
    unified = lake.table(target)
    mappings = unified_mappings(unified, mappings_dir)
    report = UnifyReport()
    mapped: list[pa.Table] = []
    rejects: list[QuarantineEntry] = []
    positions: dict[str, str] = {}
    for raw_name, mapping in mappings.items():
        raw = lake.table(raw_name)
        snapshot = raw.current_snapshot()
        since = None if full else _position(unified, raw)
        if snapshot is None or (since is not None and since == snapshot.snapshot_id):
            continue
        rows = _read_appended(raw, since, snapshot.snapshot_id, mapping.source_schema)
        report.read[raw_name] = rows.num_rows
        result = mapping.apply(rows)
        mapped.append(result.table)
        venue = RAW_TABLE_VENUES[raw_name]
        rejects.extend(rejected_entries(venue, f"unify:{raw_name}", result.rejected))
        positions[POSITION_PREFIX + raw_name] = str(snapshot.snapshot_id)
    if not positions:
        return report
    schema = unified_arrow_schema(unified)
    batch = pa.concat_tables([t.cast(schema) for t in mapped]) if mapped else schema.empty_table()
    unique = dedupe_within(batch, UNIFIED_KEY)
    report.rejected = len(rejects)
    _write(unified, unique, positions, full, report)
    report.duplicates = batch.num_rows - report.written
    if rejects:
        table = lake.table(QUARANTINE_TABLE)
        commit_append(table, lambda _t: (quarantine_rows(rejects), {}))
    return report


def _position(unified: Table, raw: Table) -> int | None:
    """The raw snapshot id consumed by the last unify, if it is still in the raw history."""
    value = latest_property(unified, POSITION_PREFIX + raw.name()[-1])
    if value is None:
        return None
    snapshot_id = int(value)
    history = {s.snapshot_id for s in ancestors_of(raw.current_snapshot(), raw.metadata)}
    if snapshot_id not in history:
        log.warning(
            "unify position no longer in raw history; rereading the whole table",
            extra={"table": raw.name()[-1], "snapshot_id": snapshot_id},
        )
        return None
    return snapshot_id


def _read_appended(raw: Table, since: int | None, until: int, schema: pa.Schema) -> pa.Table:
    if since is None:
        rows = raw.scan(snapshot_id=until).to_arrow()
    else:
        rows = raw.incremental_append_scan(
            from_snapshot_id_exclusive=since, to_snapshot_id_inclusive=until
        ).to_arrow()
    # pyiceberg reads strings back as large_string; the mapping was compiled for our schema.
    return rows.select(schema.names).cast(schema)


def _write(
    unified: Table, rows: pa.Table, positions: dict[str, str], full: bool, report: UnifyReport
) -> None:
    if full:
        with unified.transaction() as txn:
            txn.overwrite(rows, snapshot_properties=positions)
        report.written = rows.num_rows
    else:

        def prepare(table: Table) -> tuple[pa.Table, dict[str, str]]:
            fresh = drop_committed(table, rows)
            report.written = fresh.num_rows
            return fresh, positions

        commit_append(unified, prepare)
    snapshot = unified.current_snapshot()
    report.snapshot_id = snapshot.snapshot_id if snapshot else None
