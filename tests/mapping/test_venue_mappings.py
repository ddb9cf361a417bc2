"""The shipped mapping files, compiled against the real raw schemas, on hand-made native rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from schemahub.decode import coinbase
from schemahub.mapping import CompiledMapping
from schemahub.schemas import UNIFIED_SCHEMA

from .conftest import INGEST_TS, raw_table


def unified(exchange: str, symbol: str, trade_id: int, side: str, price: float, quantity: float,
            trade_ts: datetime) -> dict:  # fmt: skip
    return {
        "exchange": exchange,
        "symbol": symbol,
        "trade_id": trade_id,
        "side": side,
        "price": price,
        "quantity": quantity,
        "trade_ts": trade_ts,
        "ingest_ts": INGEST_TS,
    }


def test_each_venue_has_one_mapping_into_trades_unified(
    shipped: dict[str, CompiledMapping],
) -> None:
    assert set(shipped) == {"raw_binance_trades", "raw_coinbase_trades", "raw_kraken_trades"}
    for source, mapping in shipped.items():
        assert mapping.source == source
        assert mapping.target_table == "trades_unified"
        assert mapping.path.suffix == ".yaml"


def test_binance_rows(shipped: dict[str, CompiledMapping]) -> None:
    natives = [
        # Buyer was the maker, so the taker sold.
        dict(symbol="BTCUSDT", trade_id=3_200_000_001, price="27000.10000000", qty="0.00150000",
             trade_time=1_695_627_716_925, is_buyer_maker=True, event_time=1_695_627_716_926),
        dict(symbol="ETHUSDT", trade_id=7, price="1590.5", qty="2", trade_time=0,
             is_buyer_maker=False, event_time=None),
    ]  # fmt: skip
    result = shipped["raw_binance_trades"].apply(raw_table("raw_binance_trades", natives))
    assert result.table.schema == UNIFIED_SCHEMA
    assert result.table.to_pylist() == [
        unified("binance", "BTCUSDT", 3_200_000_001, "SELL", 27000.1, 0.0015,
                datetime(2023, 9, 25, 7, 41, 56, 925000, tzinfo=UTC)),
        unified("binance", "ETHUSDT", 7, "BUY", 1590.5, 2.0, datetime(1970, 1, 1, tzinfo=UTC)),
    ]  # fmt: skip
    assert result.rejected.num_rows == 0


def test_coinbase_rows(shipped: dict[str, CompiledMapping]) -> None:
    common = dict(product_id="BTC-USD", sequence_num=None, size="0.002186")
    natives = [
        # Advanced Trade: maker BUY -> taker SELL; nanosecond time truncated.
        dict(common, trade_id="1068572090", price="65083.67", side="BUY",
             time="2026-08-09T21:05:48.228568804Z", feed="advanced", sequence_num=3),
        # Exchange feed / REST spell sides in lower case: maker sell -> taker BUY.
        dict(common, trade_id="155", price="57000.01", side="sell",
             time="2021-04-19T10:01:02.2Z", feed="exchange"),
        dict(common, trade_id="156", price="57000", side="buy",
             time="2021-04-19T10:01:03+00:00", feed="rest"),
    ]  # fmt: skip
    result = shipped["raw_coinbase_trades"].apply(raw_table("raw_coinbase_trades", natives))
    assert result.table.to_pylist() == [
        unified("coinbase", "BTC-USD", 1068572090, "SELL", 65083.67, 0.002186,
                datetime(2026, 8, 9, 21, 5, 48, 228568, tzinfo=UTC)),
        unified("coinbase", "BTC-USD", 155, "BUY", 57000.01, 0.002186,
                datetime(2021, 4, 19, 10, 1, 2, 200000, tzinfo=UTC)),
        unified("coinbase", "BTC-USD", 156, "SELL", 57000.0, 0.002186,
                datetime(2021, 4, 19, 10, 1, 3, tzinfo=UTC)),
    ]  # fmt: skip
    assert result.rejected.num_rows == 0


def test_kraken_rows(shipped: dict[str, CompiledMapping]) -> None:
    natives = [
        # Kraken's side is already the taker's.
        dict(symbol="BTC/USD", trade_id=74_006_423, price=26_180.4, qty=0.00049015, side="buy",
             ord_type="market", timestamp="2023-09-25T07:48:36.925533Z"),
        dict(symbol="ETH/USD", trade_id=12, price=1590.25, qty=3.0, side="sell",
             ord_type=None, timestamp="2023-09-25T07:48:37Z"),
    ]  # fmt: skip
    result = shipped["raw_kraken_trades"].apply(raw_table("raw_kraken_trades", natives))
    assert result.table.to_pylist() == [
        unified("kraken", "BTC/USD", 74_006_423, "BUY", 26_180.4, 0.00049015,
                datetime(2023, 9, 25, 7, 48, 36, 925533, tzinfo=UTC)),
        unified("kraken", "ETH/USD", 12, "SELL", 1590.25, 3.0,
                datetime(2023, 9, 25, 7, 48, 37, tzinfo=UTC)),
    ]  # fmt: skip
    assert result.rejected.num_rows == 0


def test_real_coinbase_recording_maps_every_trade(
    shipped: dict[str, CompiledMapping], recorded: Path
) -> None:
    """Real Advanced Trade frames through the real decoder and the shipped mapping."""
    natives = []
    for line in (recorded / "coinbase_advanced_ws.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["dir"] == "recv":
            natives.extend(coinbase.decode_frame(entry["data"]).trades)
    assert len(natives) > 100
    result = shipped["raw_coinbase_trades"].apply(raw_table("raw_coinbase_trades", natives))
    assert result.rejected.num_rows == 0
    rows = result.table.to_pylist()
    assert len(rows) == len(natives)
    for native, row in zip(natives, rows, strict=True):
        assert row["side"] == {"BUY": "SELL", "SELL": "BUY"}[native["side"].upper()]
        assert row["trade_id"] == int(native["trade_id"])
        assert row["price"] == float(native["price"])
        # Python parses up to microseconds; the recording never sends more than six digits.
        stamp = datetime.fromisoformat(native["time"].replace("Z", "+00:00"))
        assert row["trade_ts"] == stamp


def test_record_batch_and_chunked_input_give_the_same_rows(
    shipped: dict[str, CompiledMapping],
) -> None:
    natives = [
        dict(symbol="BTC/USD", trade_id=i, price=1.0 + i, qty=0.5, side="sell", ord_type=None,
             timestamp=f"2023-09-25T07:48:{i:02d}.5Z")
        for i in range(6)
    ]  # fmt: skip
    table = raw_table("raw_kraken_trades", natives)
    chunked = pa.concat_tables([table.slice(0, 2), table.slice(2, 3), table.slice(5)])
    mapping = shipped["raw_kraken_trades"]
    expected = mapping.apply(table).table
    assert mapping.apply(chunked).table.equals(expected)
    assert mapping.apply(table.to_batches()[0]).table.equals(expected)
    assert mapping.apply(table.slice(0, 0)).table.num_rows == 0
