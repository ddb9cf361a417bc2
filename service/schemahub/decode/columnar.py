"""The venue-independent machinery of :func:`schemahub.decode.batch.decode_batch`.

A venue describes its usual trade frame once (:class:`ColumnarVenue`): msgspec decoders for the
frame shapes, a function that spreads decoded frames into per-row column values, and value rules
per column. :func:`decode_columnar` then does the rest for any venue:

1. each text frame is decoded by msgspec into typed structs (types, ranges, enums and unknown
   keys checked in C); any failure sends the frame to the slow path;
2. the rows of the accepted frames are checked column by column (:class:`ColumnRule`); a row
   that fails sends its whole frame to the slow path and its rows are dropped;
3. the slow frames are decoded one by one by the venue's ``decode_frame``.

The structs and rules accept a SUBSET of what the venue's per-frame fast path accepts, so a
frame taken here is one that ``decode_frame`` would decode to TRADES without rejects, and its
rows are that frame's records. Being stricter only costs speed; anything unusual goes slow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from schemahub.decode.base import DecodedFrame, VenueDecoder

FRAME_COLUMN = "_frame"  # int32: index, in the batch, of the frame a row came from

# What a failed msgspec decode can raise: msgspec.DecodeError/ValidationError (ValueError
# subclasses), UnicodeEncodeError for a str holding a lone surrogate (also a ValueError).
# The frame then goes to decode_frame, which decides and explains; nothing is lost.
_REFUSED = (ValueError, RecursionError)


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """A value rule of one column.

    ``row_ok`` is the per-value predicate (the per-frame fast path's own, or a stricter one);
    ``all_ok`` answers for a whole column at once and may only say True when ``row_ok`` holds
    for every value. It gets the values as a list and, for output columns, the Arrow array
    already built from them (None otherwise).
    """

    row_ok: Callable[[Any], bool]
    all_ok: Callable[[list[Any], pa.Array | None], bool]


@dataclass(slots=True)
class Rows:
    """The rows of the frames msgspec accepted, as Python values per column."""

    # Output column -> one value per row.
    columns: dict[str, list[Any]]
    # Rows per accepted frame, in order; None when every frame has exactly one row.
    counts: list[int] | None = None
    # Output column -> one value per accepted frame, repeated for each of its rows.
    per_frame: dict[str, list[Any]] = field(default_factory=dict)
    # Values that are only checked, not output (one per row).
    checked: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ColumnarVenue:
    """What a venue tells the machinery about its usual trade frame."""

    schema: pa.Schema  # the venue's NATIVE_SCHEMA (no payload column)
    decoders: tuple[msgspec.json.Decoder, ...]  # one per frame shape, tried in turn
    explode: Callable[[list[Any]], Rows]  # decoded frames -> rows
    rules: tuple[tuple[str, ColumnRule], ...]  # (column of Rows, rule)
    decode_frame: Callable[..., DecodedFrame]  # the per-frame path, for the slow frames
    constants: tuple[tuple[str, Any], ...] = ()  # output columns with one value for all rows
    # Decoded frame -> its sequence number, for venues that number frames (else None).
    sequence_num: Callable[[Any], int | None] | None = None
    # The struct of one trade and which of its fields gives each output column: what
    # schemahub.decode.grammar checks against the schema, field by field.
    wire: tuple[type, tuple[tuple[str, str], ...]] | None = None


@dataclass(slots=True)
class DecodedBatch:
    """The outcome of decoding ``frames`` (a sequence of N frames) of one venue."""

    # Trades of the frames the columnar path took: the venue's NATIVE_SCHEMA columns (no
    # _raw_payload) plus FRAME_COLUMN, in frame order and, within a frame, in the frame's order.
    # A string column may come dictionary-encoded (int8 indices; the native path encodes the
    # repetitive ones), so the schema equals NATIVE_SCHEMA's once dictionaries are decoded.
    trades: pa.Table
    # Frames the columnar path did not take, by index: decode_frame(frame, keep_payload=False).
    slow: dict[int, DecodedFrame] = field(default_factory=dict)
    # Per frame (all N), the frame's sequence number where the venue has one (Coinbase
    # Advanced ``sequence_num``), else None. None (not a list) for venues without the notion.
    sequence_nums: list[int | None] | None = None

    @property
    def trade_count(self) -> int:
        """Trades in the batch: columnar rows plus the slow frames' trades."""
        return self.trades.num_rows + sum(len(d.trades) for d in self.slow.values())


def output_schema(schema: pa.Schema) -> pa.Schema:
    """The columnar table's schema: the venue's native columns plus the frame index."""
    return schema.append(pa.field(FRAME_COLUMN, pa.int32(), nullable=False))


def decode_columnar(venue: ColumnarVenue, frames: Sequence[str | bytes]) -> DecodedBatch:
    """Decode ``frames`` of one venue: columnar where the usual shape holds, else per frame."""
    taken, values, slow_idx = _parse(venue.decoders, frames)
    rows = venue.explode(values)
    positions = _row_positions(rows.counts, len(values))
    arrays = _arrays(venue, rows, positions)
    bad = _failed_frames(venue.rules, rows, arrays, positions)
    table = pa.Table.from_arrays(
        [*arrays.values(), _frame_index(taken, positions)],
        schema=output_schema(venue.schema),
    )
    if bad:
        table = table.filter(pa.array(~np.isin(positions, list(bad))))
        slow_idx.extend(taken[p] for p in bad)
        slow_idx.sort()
    slow = {i: venue.decode_frame(frames[i], keep_payload=False) for i in slow_idx}
    sequence_nums = None
    if venue.sequence_num is not None:
        sequence_nums = _sequence_nums(venue.sequence_num, len(frames), taken, values, slow)
    return DecodedBatch(table, slow, sequence_nums)


def decode_per_frame(decoder: VenueDecoder, frames: Sequence[str | bytes]) -> DecodedBatch:
    """Decode ``frames`` of a venue with no columnar grammar: every frame is a slow one."""
    table = output_schema(decoder.NATIVE_SCHEMA).empty_table()
    slow = {i: decoder.decode_frame(frame, keep_payload=False) for i, frame in enumerate(frames)}
    return DecodedBatch(table, slow)


def _parse(
    decoders: tuple[msgspec.json.Decoder, ...], frames: Sequence[str | bytes]
) -> tuple[list[int], list[Any], list[int]]:
    """(indices of the frames msgspec accepted, their decoded values, indices of the rest).

    Only ``str`` frames are tried: the per-frame path treats bytes differently in places, and
    a bytes frame is rare enough to leave to it. Runs of frames are decoded by ``map`` (no
    Python loop per frame); at a frame the first decoder refuses, the others are tried, and
    one that succeeds is tried first from then on (a connection sends one shape).
    """
    taken: list[int] = []
    values: list[Any] = []
    slow: list[int] = []
    order = list(decoders)
    texts_only = set(map(type, frames)) <= {str}
    start, count = 0, len(frames)
    while start < count:
        if texts_only:
            start = _decode_run(order[0], frames, start, taken, values)
            if start >= count:
                break
        value = _any_shape(order, frames[start])
        if value is None:
            slow.append(start)
        else:
            values.append(value)
            taken.append(start)
        start += 1
    return taken, values, slow


def _decode_run(
    decoder: msgspec.json.Decoder,
    frames: Sequence[str | bytes],
    start: int,
    taken: list[int],
    values: list[Any],
) -> int:
    """Decode ``frames[start:]`` until the first refusal; returns the index of that frame.

    ``list.extend`` keeps the items appended before the iterator raised, so the count of new
    values says where the run stopped.
    """
    before = len(values)
    # The refused frame is tried with every decoder by the caller, so nothing is dropped here.
    with suppress(*_REFUSED):
        values.extend(map(decoder.decode, islice(frames, start, None)))
    decoded = len(values) - before
    taken.extend(range(start, start + decoded))
    return start + decoded


def _any_shape(order: list[msgspec.json.Decoder], frame: str | bytes) -> Any | None:
    """``frame`` decoded by the first decoder that accepts it (moved to the front), or None."""
    if type(frame) is not str:
        return None
    for position, decoder in enumerate(order):
        try:
            value = decoder.decode(frame)
        except _REFUSED:
            continue
        order.insert(0, order.pop(position))
        return value
    return None


def _row_positions(counts: list[int] | None, frames: int) -> np.ndarray:
    """For each row, the position (among the accepted frames) of the frame it came from."""
    if counts is None:
        return np.arange(frames, dtype=np.int64)
    return np.repeat(np.arange(frames, dtype=np.int64), np.asarray(counts, dtype=np.int64))


def _arrays(venue: ColumnarVenue, rows: Rows, positions: np.ndarray) -> dict[str, pa.Array]:
    """The output columns in schema order, built from the rows' Python values."""
    arrays: dict[str, pa.Array] = {}
    constants = dict(venue.constants)
    for column in venue.schema:
        name, kind = column.name, column.type
        if name in rows.columns:
            arrays[name] = pa.array(rows.columns[name], kind)
        elif name in rows.per_frame:
            arrays[name] = pa.array(rows.per_frame[name], kind).take(positions)
        else:
            arrays[name] = pa.repeat(pa.scalar(constants[name], kind), len(positions))
    return arrays


def _failed_frames(
    rules: tuple[tuple[str, ColumnRule], ...],
    rows: Rows,
    arrays: dict[str, pa.Array],
    positions: np.ndarray,
) -> set[int]:
    """Positions (among the accepted frames) of frames with a row that breaks a rule."""
    bad: set[int] = set()
    for name, rule in rules:
        values = rows.columns.get(name)
        if values is None:
            values = rows.checked[name]
        if rule.all_ok(values, arrays.get(name)):
            continue
        row_ok = rule.row_ok
        bad.update(int(positions[i]) for i, value in enumerate(values) if not row_ok(value))
    return bad


def _frame_index(taken: list[int], positions: np.ndarray) -> pa.Array:
    """The ``_frame`` column: each row's frame index in the batch."""
    return pa.array(np.asarray(taken, dtype=np.int32)[positions], pa.int32())


def _sequence_nums(
    sequence_num: Callable[[Any], int | None],
    count: int,
    taken: list[int],
    values: list[Any],
    slow: dict[int, DecodedFrame],
) -> list[int | None]:
    """Per frame of the batch, its sequence number (slow frames: from their DecodedFrame)."""
    numbers: list[int | None] = [None] * count
    for index, value in zip(taken, values, strict=True):
        numbers[index] = sequence_num(value)
    for index, decoded in slow.items():
        numbers[index] = decoded.sequence_num
    return numbers
