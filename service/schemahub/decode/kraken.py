"""Kraken websocket v2 trade frames and REST pages -> native records (raw_kraken_trades)."""

from __future__ import annotations

import pyarrow as pa

VENUE = "kraken"
RAW_TABLE = "raw_kraken_trades"
NATIVE_SCHEMA = pa.schema(
    [
        pa.field("symbol", pa.string(), nullable=False),  # websocket v2 name, e.g. BTC/USD
        pa.field("trade_id", pa.int64(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),  # JSON number on v2
        pa.field("qty", pa.float64(), nullable=False),
        pa.field("side", pa.string(), nullable=False),  # the TAKER side: buy | sell
        pa.field("ord_type", pa.string(), nullable=True),  # market | limit
        pa.field("timestamp", pa.string(), nullable=False),  # ISO 8601, as sent
    ]
)
