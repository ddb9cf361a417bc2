"""Where the stream state lives in the lake: the offsets in ``trades_unified``'s snapshots (the
truth, invariant 2) and their mirror in ``schemahub_watermarks`` (for humans and SQL).

The offsets are one snapshot summary property (``sequencing.offsets`` encodes it); a value too
large for the table metadata goes to a sidecar file the property points at (``sidecar.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
import pyarrow as pa
from pyiceberg.table import Table

from schemahub.lake.pyiceberg_private import LeanTransaction
from schemahub.lake.sidecar import load_value, store_value
from schemahub.lake.tables import UNIFIED_TABLE, WATERMARKS_SCHEMA
from schemahub.lake.writer import latest_property
from schemahub.sequencing import (
    OFFSETS_PROPERTY,
    StreamKey,
    StreamState,
    decode_offsets,
    encode_offsets,
)

if TYPE_CHECKING:
    from schemahub.lake import Lake


def load_offsets(lake: Lake) -> tuple[dict[StreamKey, StreamState], int | None]:
    """The committed state of every stream, read from the unified table's snapshots (never from
    a local file), and the snapshot it was read at."""
    table = lake.table(UNIFIED_TABLE)
    snapshot = table.current_snapshot()
    return committed_offsets(table), snapshot.snapshot_id if snapshot else None


def committed_offsets(table: Table) -> dict[StreamKey, StreamState]:
    """The stream states of the newest ``trades_unified`` snapshot that records them."""
    stored = latest_property(table, OFFSETS_PROPERTY)
    if stored is None:
        return {}
    return decode_offsets({OFFSETS_PROPERTY: load_value(table, stored)})


def offsets_properties(
    table: Table, states: Mapping[tuple[str, str], StreamState]
) -> dict[str, str]:
    """The snapshot properties that record ``states`` in the next commit to ``table`` (a large
    value written to a sidecar file first)."""
    encoded = encode_offsets(states)
    return {key: store_value(table, value) for key, value in encoded.items()}


def watermark_rows(offsets: Mapping[StreamKey, StreamState]) -> pa.Table:
    """The offsets as rows of ``schemahub_watermarks``."""
    now = datetime.now(UTC)
    rows = []
    for (exchange, symbol), state in sorted(offsets.items()):
        gaps = [list(g) for g in state.gaps]
        rows.append(
            {
                "exchange": exchange,
                "symbol": symbol,
                "lost_ids": sum(hi - lo + 1 for lo, hi in state.lost),
                "high_water": state.high_water,
                "open_gaps": len(gaps),
                "missing_ids": sum(hi - lo + 1 for lo, hi in gaps),
                "gaps": orjson.dumps(gaps).decode(),
                "updated_at": now,
            }
        )
    return pa.Table.from_pylist(rows, schema=WATERMARKS_SCHEMA)


def write_watermarks(table: Table, offsets: Mapping[StreamKey, StreamState]) -> None:
    """Replace the rows of ``schemahub_watermarks`` (``table``) with ``offsets``."""
    rows = watermark_rows(offsets)
    with warnings.catch_warnings():
        # pyiceberg warns when the overwrite's delete finds nothing (the first time).
        warnings.simplefilter("ignore", UserWarning)
        with LeanTransaction(table) as txn:
            txn.overwrite(rows)
