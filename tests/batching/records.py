"""Native records of the three venues, shaped as the decoders produce them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def binance_record(i: int) -> dict:
    return {
        "symbol": ("BTCUSDT", "ETHUSDT")[i % 2],
        "trade_id": 5_000_000_000 + i,
        "price": f"{43250 + (i % 7) * 0.01:.8f}",
        "qty": f"{0.001 * (i % 13 + 1):.8f}",
        "trade_time": 1_700_000_000_000 + i,
        "is_buyer_maker": i % 3 == 0,
        "event_time": None if i % 5 == 0 else 1_700_000_000_001 + i,  # null from REST
    }


def coinbase_record(i: int) -> dict:
    return {
        "product_id": "BTC-USD",
        "trade_id": str(900_000_000 + i),
        "price": f"{97000 + i % 11}.{i % 100:02d}",
        "size": f"0.{i:08d}"[-10:],
        "side": ("BUY", "SELL")[i % 2],
        "time": f"2026-08-01T12:00:{i % 60:02d}.123456Z",
        "sequence_num": None if i % 4 == 0 else i,
        "feed": "advanced",
    }


def kraken_record(i: int) -> dict:
    return {
        "symbol": ("BTC/USD", "ETH/USD", "SOL/USD")[i % 3],
        "trade_id": 80_000_000 + i,
        "price": 97000.5 + i,
        "qty": 0.25 * (i % 9 + 1),
        "side": ("buy", "sell")[i % 2],
        "ord_type": None if i % 6 == 0 else "limit",
        "timestamp": f"2026-08-01T12:00:00.{i:06d}Z",
    }


def ts_of(us: int) -> datetime:
    """Microseconds since the epoch -> the datetime Arrow gives back."""
    return EPOCH + timedelta(microseconds=us)
