"""Per-stream sequencing: drop duplicates, turn holes into gaps, persist offsets with commits.

Typical use by the daemon::

    seq = Sequencer(decode_offsets(latest_snapshot_properties))
    fresh = seq.admit_records("coinbase", records, symbol_field="product_id")
    ...                                    # buffer ``fresh``; at flush time:
    properties = encode_offsets(seq.snapshot())   # committed with the rows
    for gap in seq.open_gaps(): ...        # for the REST gap filler
"""

from schemahub.sequencing.offsets import OFFSETS_PROPERTY, decode_offsets, encode_offsets
from schemahub.sequencing.sequencer import (
    Gap,
    LostGap,
    Sequencer,
    SequencerStats,
    StreamKey,
    StreamState,
)

__all__ = [
    "OFFSETS_PROPERTY",
    "Gap",
    "LostGap",
    "Sequencer",
    "SequencerStats",
    "StreamKey",
    "StreamState",
    "decode_offsets",
    "encode_offsets",
]
