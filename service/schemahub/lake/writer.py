"""Committing Arrow data to Iceberg tables: atomic, conflict-retried, with snapshot properties.

Stream offsets and unify positions travel as snapshot summary properties of the commit that
carries the rows they describe (invariant 2), so they are read back by walking the snapshot
ancestry, never from a local file.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from schemahub.errors import CommitConflictError, LakeError
from schemahub.lake.append import append_table

log = logging.getLogger(__name__)

# Given the refreshed table, return what to append and the snapshot properties to write.
PrepareCommit = Callable[[Table], tuple[pa.Table, dict[str, str]]]


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What a commit wrote."""

    table: str
    rows: int
    snapshot_id: int | None
    attempts: int


def commit_append(
    table: Table,
    prepare: PrepareCommit,
    *,
    retries: int = 8,
    base_delay: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> CommitResult:
    """Append what ``prepare`` returns, retrying from a refreshed table when another writer won.

    ``prepare`` runs again on every attempt, against the refreshed table, so it can drop rows that
    the other writer committed meanwhile and merge properties. Either the whole append lands in one
    snapshot or nothing does.
    """
    for attempt in range(1, retries + 2):
        data, properties = prepare(table)
        try:
            append_table(table, data, properties)
        except CommitFailedException as exc:
            if attempt > retries:
                raise CommitConflictError(
                    f"commit to {_name(table)} kept conflicting after {attempt} attempts: {exc}"
                ) from exc
            log.info("commit conflict, retrying", extra={"table": _name(table), "attempt": attempt})
            sleep(base_delay * (2 ** (attempt - 1)) * (0.5 + random.random()))
            table.refresh()
            continue
        except (OSError, ValueError) as exc:
            raise LakeError(f"commit to {_name(table)} failed: {exc}") from exc
        snapshot = table.current_snapshot()
        return CommitResult(
            _name(table), data.num_rows, snapshot.snapshot_id if snapshot else None, attempt
        )
    raise AssertionError("unreachable")


def latest_property(table: Table, key: str) -> str | None:
    """The value of snapshot summary property ``key`` in the newest snapshot that has it."""
    for snapshot in snapshot_ancestry(table):
        summary = snapshot.summary
        if summary is not None and key in summary.additional_properties:
            return summary.additional_properties[key]
    return None


def snapshot_ancestry(table: Table) -> Iterable[Snapshot]:
    """The current snapshot and its ancestors, newest first."""
    return ancestors_of(table.current_snapshot(), table.metadata)


def _name(table: Table) -> str:
    return ".".join(table.name())
