"""Columnar buffers of admitted native records, drained as Arrow tables at each commit.

Typical use by the daemon::

    buffers = BufferSet({binance.RAW_TABLE: RawBuffer(binance.NATIVE_SCHEMA)}, 2_000_000)
    buffers[binance.RAW_TABLE].append(fresh_records, "ws:binance/0", now_us)
    if not buffers.has_room(): ...         # stop reading websockets
    drained = buffers.drain()              # every flush interval or at flush.max_rows
    ...                                    # commit drained.tables, quarantine drained.rejects
    buffers.release(drained)
"""

from schemahub.batching.buffer import RawBuffer
from schemahub.batching.bufferset import BufferSet, Drained

__all__ = ["BufferSet", "Drained", "RawBuffer"]
