"""Splitting a columnar burst of trades into its streams, for the sequencer.

A burst mixes the streams of one connection (Binance interleaves symbols frame by frame). The
sequencer decides per stream, so the rows are grouped by symbol once, with array operations:
the burst's ids as int64, and per stream its rows (positions in the burst, in arrival order),
its ids and the frames they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemahub.decode.batch import FRAME_COLUMN
from schemahub.errors import DecodeError


@dataclass(frozen=True, slots=True)
class StreamRows:
    """The rows of one stream in a burst."""

    symbol: str
    rows: np.ndarray  # positions in the burst, ascending
    ids: np.ndarray  # int64 trade ids of those rows
    frames: np.ndarray  # the frame index of each of those rows


@dataclass(frozen=True, slots=True)
class Streams:
    """A burst split by stream, and its stream column dictionary-encoded (which the raw buffer
    keeps as it is, so the encoding is done once)."""

    streams: list[StreamRows]
    encoded: pa.DictionaryArray


def split_streams(trades: pa.Table, stream_field: str) -> Streams:
    """The burst's rows grouped by ``stream_field``, each group in arrival order.

    The column may come dictionary-encoded (the native decoder's): encoding it again is a
    no-op, and entries no row uses (a slice of a burst keeps the whole dictionary) are no
    stream."""
    ids = trade_ids(trades.column("trade_id"))
    frames = trades.column(FRAME_COLUMN).to_numpy()
    symbols = single_array(trades.column(stream_field)).dictionary_encode()
    names = symbols.dictionary.to_pylist()
    if len(names) == 1:
        every = np.arange(len(ids))
        return Streams([StreamRows(names[0], every, ids, frames)], symbols)
    codes = symbols.indices.to_numpy()
    # small codes sort by radix: far cheaper than a comparison sort of int32
    width = np.int8 if len(names) <= 127 else np.int16 if len(names) <= 32_767 else np.int32
    codes = codes.astype(width, copy=False)
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes.astype(np.intp), minlength=len(names))).tolist()
    streams, start = [], 0
    for name, end in zip(names, ends, strict=True):
        if end == start:
            continue  # an unused dictionary entry
        rows = order[start:end]
        streams.append(StreamRows(name, rows, ids[rows], frames[rows]))
        start = end
    return Streams(streams, symbols)


def single_array(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: a burst's single chunk as it is (combine_chunks would copy
    it), several chunks combined."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def trade_ids(column: pa.ChunkedArray) -> np.ndarray:
    """Trade ids as int64: as they are, or parsed from strings of ASCII digits (Coinbase)."""
    if pa.types.is_integer(column.type):
        return column.to_numpy().astype(np.int64, copy=False)
    # ascii_is_decimal: non-empty and ASCII 0-9 only, so no sign, space or other script's
    # digits reaches the cast (which would take "+5" or " 5" as 5)
    if not pc.all(pc.ascii_is_decimal(column)).as_py():
        raise DecodeError("trade ids of a burst must be integers or strings of ASCII digits")
    return pc.cast(column, pa.int64()).to_numpy()
