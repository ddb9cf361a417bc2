"""Binance spot trade frames and REST pages -> native records (raw_binance_trades columns)."""

from __future__ import annotations

import pyarrow as pa

VENUE = "binance"
RAW_TABLE = "raw_binance_trades"
NATIVE_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),  # s
        pa.field("trade_id", pa.int64(), nullable=False),  # t / id
        pa.field("price", pa.string(), nullable=False),  # p / price, as sent
        pa.field("qty", pa.string(), nullable=False),  # q / qty, as sent
        pa.field("trade_time", pa.int64(), nullable=False),  # T / time, epoch ms
        pa.field("is_buyer_maker", pa.bool_(), nullable=False),  # m / isBuyerMaker
        pa.field("event_time", pa.int64(), nullable=True),  # E, epoch ms; null from REST
    ]
)
