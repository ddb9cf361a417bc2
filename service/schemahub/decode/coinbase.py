"""Coinbase Advanced Trade / Exchange trade frames and REST pages -> native records."""

from __future__ import annotations

import pyarrow as pa

VENUE = "coinbase"
RAW_TABLE = "raw_coinbase_trades"
NATIVE_SCHEMA = pa.schema(
    [
        pa.field("product_id", pa.string(), nullable=False),
        pa.field("trade_id", pa.string(), nullable=False),  # as sent (a string of digits)
        pa.field("price", pa.string(), nullable=False),
        pa.field("size", pa.string(), nullable=False),
        pa.field("side", pa.string(), nullable=False),  # the MAKER side, as sent
        pa.field("time", pa.string(), nullable=False),  # ISO 8601, as sent
        pa.field("sequence_num", pa.int64(), nullable=True),  # frame counter / Exchange sequence
        pa.field("feed", pa.string(), nullable=False),  # advanced | exchange | rest
    ]
)
