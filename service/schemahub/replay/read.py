"""Reading a pair's trades for a window from trades_unified, at the current or an older
version of the table (Iceberg time travel)."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan, Or
from pyiceberg.table import Table

from schemahub.config import DiscrepancyConfig
from schemahub.errors import UsageError
from schemahub.replay.budget import Checkpoint, no_checkpoint
from schemahub.replay.window import Window, iso, parse_at

COLUMNS = ("exchange", "symbol", "trade_id", "side", "price", "quantity", "trade_ts")


def members(config: DiscrepancyConfig, pair: str) -> list[tuple[str, str]]:
    """The (exchange, symbol) streams of pair group ``pair``."""
    group = config.groups.get(pair)
    if group is None:
        known = ", ".join(config.groups)
        raise UsageError(f"--pair {pair!r}: unknown pair; expected one of: {known}")
    return [(venue, member.symbol) for venue, member in group.members.items()]


def snapshot_for(table: Table, as_of: str | None) -> int | None:
    """The snapshot id ``as_of`` names: an id, a tag or branch, or a time (the snapshot
    current then); None for the current one."""
    if as_of is None:
        return None
    metadata = table.metadata
    if as_of.isdigit() and metadata.snapshot_by_id(int(as_of)) is not None:
        return int(as_of)
    if as_of in metadata.refs:
        return metadata.refs[as_of].snapshot_id
    moment = parse_at(as_of, "--as-of")
    millis = int(moment.timestamp() * 1000)
    current = None
    for entry in metadata.snapshot_log:
        if entry.timestamp_ms <= millis:
            current = entry.snapshot_id
    if current is None:
        raise UsageError(
            f"--as-of {as_of!r}: the table has no snapshot at or before {iso(moment)} "
            "(it did not exist yet, or that snapshot was expired)"
        )
    return current


def read_window(
    table: Table,
    streams: list[tuple[str, str]],
    window: Window,
    snapshot: int | None,
    checkpoint: Checkpoint = no_checkpoint,
) -> pa.Table:
    """The trades of ``streams`` with ``window.start <= trade_ts < window.end``, read batch by
    batch with ``checkpoint`` called after each (so a long scan can be stopped)."""
    which = None
    for exchange, symbol in streams:
        one = And(EqualTo("exchange", exchange), EqualTo("symbol", symbol))
        which = one if which is None else Or(which, one)
    assert which is not None
    when = And(
        GreaterThanOrEqual("trade_ts", window.start.isoformat()),
        LessThan("trade_ts", window.end.isoformat()),
    )
    scan = table.scan(row_filter=And(when, which), selected_fields=COLUMNS, snapshot_id=snapshot)
    reader = scan.to_arrow_batch_reader()
    batches = []
    for batch in reader:
        batches.append(batch)
        checkpoint()
    return pa.Table.from_batches(batches, schema=reader.schema)
