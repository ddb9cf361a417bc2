"""The raw buffers of all venues under one row cap (backpressure, invariant 3).

Rows count against the cap from ``append`` until the commit that carries them is released,
so a slow or unavailable lake makes ``has_room()`` turn False (the daemon stops reading its
websockets) instead of letting drained-but-uncommitted tables pile up in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from schemahub.batching.buffer import RawBuffer
from schemahub.decode.base import Reject
from schemahub.errors import UsageError


@dataclass(frozen=True, slots=True)
class Drained:
    """What one :meth:`BufferSet.drain` took out: counted against the cap until released."""

    tables: dict[str, pa.Table]  # buffer name -> rows; only buffers that held rows
    rejects: dict[str, list[Reject]]  # buffer name -> records refused since the last drain
    rows: int
    nbytes: int
    token: int = field(repr=False)


class BufferSet:
    """Named :class:`RawBuffer` s (e.g. by raw table name) sharing ``max_buffered_rows``."""

    def __init__(self, buffers: Mapping[str, RawBuffer], max_buffered_rows: int) -> None:
        """Group ``buffers``; at ``max_buffered_rows`` rows held, :meth:`has_room` says stop."""
        if max_buffered_rows < 1:
            raise UsageError(f"max_buffered_rows must be at least 1, got {max_buffered_rows}")
        self.max_buffered_rows = max_buffered_rows
        self._buffers = dict(buffers)
        self._each = tuple(self._buffers.values())  # checked once a frame: no dict view
        self._in_flight: dict[int, Drained] = {}
        self._in_flight_rows = 0
        self._tokens = itertools.count(1)

    def __getitem__(self, name: str) -> RawBuffer:
        try:
            return self._buffers[name]
        except KeyError:
            raise UsageError(
                f"no buffer named {name!r}; buffers are {sorted(self._buffers)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._buffers)

    @property
    def buffered_rows(self) -> int:
        """Rows appended and not yet drained."""
        rows = 0
        for buffer in self._each:
            rows += buffer.rows
        return rows

    @property
    def in_flight_rows(self) -> int:
        """Rows drained whose commit has not been released yet."""
        return self._in_flight_rows

    @property
    def total_rows(self) -> int:
        """Rows held in memory: buffered plus in flight. This is what the cap limits."""
        return self.buffered_rows + self.in_flight_rows

    @property
    def total_bytes(self) -> int:
        """Memory held: the buffers' estimates plus the drained tables in flight."""
        buffered = sum(b.nbytes for b in self._buffers.values())
        return buffered + sum(d.nbytes for d in self._in_flight.values())

    def has_room(self) -> bool:
        """Whether more rows may be read; False at the cap (stop reading, gaps will be filled)."""
        rows = self._in_flight_rows  # total_rows, written out: this runs after every frame
        for buffer in self._each:
            rows += buffer.rows
        return rows < self.max_buffered_rows

    def drain(self) -> Drained:
        """Take every buffer's rows (and rejects) for one commit; they stay counted until
        :meth:`release`."""
        tables = {n: b.drain() for n, b in self._buffers.items() if b.rows}
        rejects = {n: r for n, b in self._buffers.items() if (r := b.take_rejects())}
        drained = Drained(
            tables,
            rejects,
            rows=sum(t.num_rows for t in tables.values()),
            nbytes=sum(t.get_total_buffer_size() for t in tables.values()),
            token=next(self._tokens),
        )
        self._in_flight[drained.token] = drained
        self._in_flight_rows += drained.rows
        return drained

    def release(self, drained: Drained) -> None:
        """The commit of ``drained`` is done (landed, or given up): stop counting its rows."""
        if self._in_flight.pop(drained.token, None) is None:
            raise UsageError("this drained batch was already released or is not from this set")
        self._in_flight_rows -= drained.rows
