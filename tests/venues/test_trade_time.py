"""A native record's venue trade time, read from the column the venue registry names (the
function the raw-JSONL layout and the REST time search share)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemahub.errors import UsageError
from schemahub.jobs.rawjsonl import object_key
from schemahub.venues.history import trade_seconds, trade_time

CASES = [
    # Binance: epoch milliseconds.
    ("binance", "BTCUSDT", {"trade_id": 7, "trade_time": 1_672_515_782_134},
     datetime(2022, 12, 31, 19, 43, 2, 134_000, UTC)),
    # Coinbase: ISO text with Z and nine fraction digits (the last three are dropped).
    ("coinbase", "BTC-USD", {"trade_id": "8", "time": "2023-09-25T07:49:37.708706123Z"},
     datetime(2023, 9, 25, 7, 49, 37, 708_706, UTC)),
    # Kraken: ISO text with Z and microseconds, as the decoder writes REST times.
    ("kraken", "BTC/USD", {"trade_id": 9, "timestamp": "2024-02-29T23:59:59.000001Z"},
     datetime(2024, 2, 29, 23, 59, 59, 1, UTC)),
]  # fmt: skip


@pytest.mark.parametrize(("venue", "product", "record", "expected"), CASES)
def test_trade_time_reads_the_venue_time_column(venue, product, record, expected):
    assert trade_time(venue, record) == expected
    assert trade_seconds(venue, record) == expected.timestamp()
    # The raw-JSONL object key is stamped with the same time.
    key = object_key("raw", venue, product, [record])
    stamp = expected.strftime("%Y%m%dT%H%M%SZ")
    assert (
        key
        == f"raw/raw_{venue}_trades_{product.replace('/', '-')}_{stamp}_{record['trade_id']}.jsonl"
    )


def test_an_unknown_venue_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown venue 'nasdaq'"):
        trade_time("nasdaq", {"time": "2023-01-01T00:00:00Z"})
