"""Keeping the unified key unique: drop repeated keys in a batch and keys the table holds."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysFalse,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    LessThanOrEqual,
    Or,
)
from pyiceberg.table import Table

from schemahub.lake.schemas import decoded

_ROW = "__schemahub_row"


def dedupe_within(rows: pa.Table, key: Sequence[str]) -> pa.Table:
    """``rows`` with only the first row of each key, in the original order."""
    if rows.num_rows == 0:
        return rows
    indexed = rows.select(list(key)).append_column(_ROW, pa.array(range(rows.num_rows), pa.int64()))
    firsts = indexed.group_by(list(key), use_threads=False).aggregate([(_ROW, "min")])
    keep = pc.sort_indices(firsts[f"{_ROW}_min"])
    return rows.take(pc.take(firsts[f"{_ROW}_min"], keep))


def drop_committed(table: Table, rows: pa.Table) -> pa.Table:
    """``rows`` minus those whose (exchange, symbol, trade_id) the table already holds.

    Only the id range of each stream in ``rows`` is scanned, so manifest statistics prune the
    files that cannot hold a match.
    """
    if rows.num_rows == 0 or table.current_snapshot() is None:
        return rows
    rows = decoded(rows)  # a flush's strings may be dictionary-encoded; joins want them plain
    existing = table.scan(
        row_filter=_key_ranges_filter(rows),
        selected_fields=("exchange", "symbol", "trade_id"),
    ).to_arrow()
    if existing.num_rows == 0:
        return rows
    return _anti_join(rows, existing)


def _key_ranges_filter(rows: pa.Table) -> BooleanExpression:
    ranges = rows.group_by(["exchange", "symbol"], use_threads=False).aggregate(
        [("trade_id", "min"), ("trade_id", "max")]
    )
    streams: list[BooleanExpression] = [
        And(
            And(EqualTo("exchange", entry["exchange"]), EqualTo("symbol", entry["symbol"])),
            And(
                GreaterThanOrEqual("trade_id", entry["trade_id_min"]),
                LessThanOrEqual("trade_id", entry["trade_id_max"]),
            ),
        )
        for entry in ranges.to_pylist()
    ]
    return _any_of(streams)


def _any_of(terms: list[BooleanExpression]) -> BooleanExpression:
    """OR of ``terms`` as a balanced tree: pyiceberg visits expressions recursively, and a
    chain of one OR per stream overflows the recursion limit with a few hundred streams."""
    if not terms:
        return AlwaysFalse()
    while len(terms) > 1:
        pairs = range(0, len(terms) - 1, 2)
        terms = [Or(terms[i], terms[i + 1]) for i in pairs] + terms[len(terms) // 2 * 2 :]
    return terms[0]


def drop_existing(rows: pa.Table, existing: pa.Table, key: Sequence[str]) -> pa.Table:
    """``rows`` minus those whose ``key`` appears in ``existing`` (order kept)."""
    if rows.num_rows == 0 or existing.num_rows == 0:
        return rows
    return _anti_join(rows, existing, list(key))


def _anti_join(rows: pa.Table, existing: pa.Table, key: list[str] | None = None) -> pa.Table:
    key = key or ["exchange", "symbol", "trade_id"]
    indexed = rows.append_column(_ROW, pa.array(range(rows.num_rows), pa.int64()))
    kept = indexed.select([*key, _ROW]).join(
        existing.select(key).cast(indexed.select(key).schema),
        keys=key,
        join_type="left anti",
        use_threads=False,
    )
    return rows.take(pc.take(kept[_ROW], pc.sort_indices(kept[_ROW])))
