"""The equivalence rule of decode_batch, checked frame by frame against decode_frame."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from schemahub.decode import FrameKind, decoder_for
from schemahub.decode.batch import FRAME_COLUMN, DecodedBatch, decode_batch
from schemahub.decode.columnar import output_schema


def typed(record: dict[str, Any]) -> list[tuple[str, type, Any]]:
    """A record with each value's type, so 1 and 1.0 (or True and 1) do not compare equal."""
    return [(key, type(value), value) for key, value in sorted(record.items())]


def check_batch(venue: str, frames: Sequence[str | bytes], native: bool = True) -> DecodedBatch:
    """decode_batch(venue, frames), after asserting that it keeps the equivalence rule
    (``native=False``: through the msgspec path even where the native one is built)."""
    batch = decode_batch(venue, frames, native=native)
    decoder = decoder_for(venue)
    assert batch.trades.schema == output_schema(decoder.NATIVE_SCHEMA)
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    order = []
    for row in batch.trades.to_pylist():
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
