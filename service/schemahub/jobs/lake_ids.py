"""Which trade ids of a stream ``trades_unified`` holds: scans by id range or time window.

Trade ids are consecutive per stream on all three venues, so the ids a scan returns, sorted,
show every hole between the first and the last of them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysFalse,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    In,
    LessThanOrEqual,
    Or,
)
from pyiceberg.table import Table

from schemahub.sequencing import StreamKey
from schemahub.sequencing.ranges import Range

# Filters nest one Or per range; past this many ranges a scan reads their whole span instead.
MAX_RANGES_IN_FILTER = 64


@dataclass(frozen=True)
class TimeWindow:
    """Trades with ``since <= trade_ts <= until`` (timezone-aware datetimes)."""

    since: datetime
    until: datetime


def committed_ids(
    table: Table,
    key: StreamKey,
    *,
    id_ranges: list[Range] | None = None,
    window: TimeWindow | None = None,
) -> np.ndarray:
    """The stream's trade ids in the table (sorted, distinct), within ``id_ranges`` and/or
    ``window``; only the files whose statistics may match are read."""
    if table.current_snapshot() is None:
        return np.empty(0, dtype=np.int64)
    condition = _stream(key)
    if id_ranges is not None:
        if len(id_ranges) > MAX_RANGES_IN_FILTER:  # one span: a flatter expression to bind
            id_ranges = [(min(lo for lo, _ in id_ranges), max(hi for _, hi in id_ranges))]
        between: BooleanExpression = AlwaysFalse()
        for lo, hi in id_ranges:
            one = And(GreaterThanOrEqual("trade_id", lo), LessThanOrEqual("trade_id", hi))
            between = Or(between, one)
        condition = And(condition, between)
    if window is not None:
        condition = And(
            condition,
            And(
                GreaterThanOrEqual("trade_ts", window.since.isoformat()),
                LessThanOrEqual("trade_ts", window.until.isoformat()),
            ),
        )
    rows = table.scan(row_filter=condition, selected_fields=("trade_id",)).to_arrow()
    ids = rows.column("trade_id").to_numpy()
    return np.unique(ids.astype(np.int64, copy=False))


def trade_times(table: Table, key: StreamKey, ids: set[int]) -> dict[int, float]:
    """The trade time (epoch seconds) of each of ``ids`` the table holds."""
    if not ids or table.current_snapshot() is None:
        return {}
    condition = And(_stream(key), In("trade_id", ids))
    rows = table.scan(row_filter=condition, selected_fields=("trade_id", "trade_ts")).to_arrow()
    micros = pc.cast(rows.column("trade_ts"), "int64").to_pylist()
    return {
        tid: us / 1_000_000
        for tid, us in zip(rows.column("trade_id").to_pylist(), micros, strict=True)
    }


def runs(ids: np.ndarray) -> list[Range]:
    """Sorted distinct ids as ranges of consecutive ids."""
    if len(ids) == 0:
        return []
    breaks = np.flatnonzero(np.diff(ids) != 1)
    starts = np.concatenate(([ids[0]], ids[breaks + 1]))
    ends = np.concatenate((ids[breaks], [ids[-1]]))
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def holes(ids: np.ndarray) -> list[Range]:
    """The ids missing between the first and the last of sorted distinct ``ids``."""
    present = runs(ids)
    return [(prev[1] + 1, nxt[0] - 1) for prev, nxt in itertools.pairwise(present)]


def _stream(key: StreamKey) -> BooleanExpression:
    return And(EqualTo("exchange", key.exchange), EqualTo("symbol", key.symbol))
