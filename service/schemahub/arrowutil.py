"""Small Arrow helpers shared by the buffers (batching) and the Parquet writer (lake), which
must not import each other."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

_SAMPLE = 512  # rows looked at to guess whether dictionary encoding pays off
# In that sample; above this a column is left plain. Encoding costs a hash per row (about as
# much CPU as the rest of buffering a trade) and pays back in CPU downstream (the Parquet writer
# and the mapping work on the dictionary) only when values repeat a lot: symbols, sides, feeds.
# Times and prices that repeat a few times are cheaper kept plain; memory stays far below target.
_MAX_DISTINCT_SHARE = 1 / 16


def repeats_a_lot(values: pa.Array | pa.ChunkedArray) -> bool:
    """Whether the first values of a column repeat enough for dictionary encoding to pay off
    (a cheap sample: the distinct share of the first few hundred values)."""
    sample = values.slice(0, _SAMPLE)
    distinct = pc.count_distinct(sample).as_py()
    return distinct <= _MAX_DISTINCT_SHARE * max(len(sample), 1)
