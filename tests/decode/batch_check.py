"""The equivalence rule of decode_batch, checked frame by frame against decode_frame."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from schemahub.decode import FrameKind, decoder_for
from schemahub.decode.batch import FRAME_COLUMN, DecodedBatch, decode_batch
from schemahub.decode.columnar import output_schema


def typed(record: dict[str, Any]) -> list[tuple[str, type, Any]]:
    """A record with each value's type, so 1 and 1.0 (or True and 1) do not compare equal."""
    return [(key, type(value), value) for key, value in sorted(record.items())]


def plain(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns decoded: what equivalence compares (the
    native path hands repetitive string columns over encoded, the msgspec path plain)."""
    fields, columns = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_dictionary(field.type):
            field = field.with_type(field.type.value_type)
            column = column.cast(field.type)
        fields.append(field)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, table.schema.metadata))


def check_encoded(table: pa.Table) -> None:
    """Each dictionary-encoded column is a valid one: int8 indices in range under every
    valid row, and a dictionary of distinct strings."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_dictionary(column.type):
            continue
        assert column.type.index_type == pa.int8(), name
        for chunk in column.chunks:
            chunk.validate(full=True)
            entries = chunk.dictionary.to_pylist()
            assert len(set(entries)) == len(entries), f"{name}: repeated dictionary entries"


def check_batch(venue: str, frames: Sequence[str | bytes], native: bool = True) -> DecodedBatch:
    """decode_batch(venue, frames), after asserting that it keeps the equivalence rule
    (``native=False``: through the msgspec path even where the native one is built)."""
    batch = decode_batch(venue, frames, native=native)
    decoder = decoder_for(venue)
    check_encoded(batch.trades)
    trades = plain(batch.trades)
    assert trades.schema == output_schema(decoder.NATIVE_SCHEMA)
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    order = []
    for row in trades.to_pylist():
        index = row.pop(FRAME_COLUMN)
        order.append(index)
        rows[index].append(row)
    assert order == sorted(order), "rows must come in frame order"
    assert all(0 <= i < len(frames) for i in order) and set(batch.slow) <= set(range(len(frames)))
    for index, frame in enumerate(frames):
        expected = decoder.decode_frame(frame, keep_payload=False)
        if index in batch.slow:
            assert index not in rows, f"frame {index} is both slow and columnar"
            assert batch.slow[index] == expected, frame
        else:
            assert expected.kind is FrameKind.TRADES and not expected.rejects, frame
            assert [typed(r) for r in rows[index]] == [typed(r) for r in expected.trades], frame
    _check_sequence_nums(venue, frames, batch)
    return batch


def _check_sequence_nums(venue: str, frames: Sequence[str | bytes], batch: DecodedBatch) -> None:
    if venue != "coinbase":
        assert batch.sequence_nums is None
        return
    decoder = decoder_for(venue)
    assert batch.sequence_nums is not None and len(batch.sequence_nums) == len(frames)
    for index, frame in enumerate(frames):
        assert batch.sequence_nums[index] == decoder.decode_frame(frame, False).sequence_num
