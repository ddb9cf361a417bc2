"""Rows that cannot be mapped are rejected with a reason; their good siblings always land."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import yaml

from schemahub.mapping import REJECTED_SCHEMA, CompiledMapping, load_mapping
from schemahub.schemas import UNIFIED_SCHEMA

from .conftest import INGEST_TS, SOURCE_SCHEMAS, raw_table


def binance(trade_id: int, price: str = "100.5", qty: str = "1", time: int = 1_000) -> dict:
    return dict(symbol="BTCUSDT", trade_id=trade_id, price=price, qty=qty, trade_time=time,
                is_buyer_maker=False, event_time=None)  # fmt: skip


def coinbase(trade_id: str, time: str = "2026-08-09T21:05:42.514318Z", side: str = "BUY") -> dict:
    return dict(product_id="BTC-USD", trade_id=trade_id, price="10", size="1", side=side,
                time=time, sequence_num=None, feed="advanced")  # fmt: skip


def kraken(trade_id: int, price: float = 10.0, side: str = "buy") -> dict:
    return dict(symbol="BTC/USD", trade_id=trade_id, price=price, qty=1.0, side=side,
                ord_type=None, timestamp="2023-09-25T07:48:36.925533Z")  # fmt: skip


def test_binance_bad_values_are_rejected_and_good_rows_land(
    shipped: dict[str, CompiledMapping],
) -> None:
    natives = [
        binance(1),
        binance(2, price="abc"),
        binance(3, price="-5"),
        binance(4, price="nan"),
        binance(5, qty="0"),
        binance(6, time=2**62),  # far beyond year 9999
        binance(7),
    ]
    result = shipped["raw_binance_trades"].apply(raw_table("raw_binance_trades", natives))
    assert result.table.schema == UNIFIED_SCHEMA
    assert result.table.column("trade_id").to_pylist() == [1, 7]
    assert result.rejected.schema == REJECTED_SCHEMA
    assert result.rejected.column("row").to_pylist() == [1, 2, 3, 4, 5]
    assert result.rejected.column("raw_payload").to_pylist() == [
        f"payload-{row}" for row in (1, 2, 3, 4, 5)
    ]
    assert result.reasons == [
        "price: to_double refused 'abc' (expected a decimal number)",
        "price: positive refused -5.0 (expected a finite number > 0)",
        "price: to_double refused 'nan' (expected a decimal number)",
        "quantity: positive refused 0.0 (expected a finite number > 0)",
        f"trade_ts: from_ms refused {2**62} (expected epoch milliseconds)",
    ]


def test_coinbase_bad_ids_times_and_sides(shipped: dict[str, CompiledMapping]) -> None:
    natives = [
        coinbase("10"),
        coinbase("ten"),
        coinbase("99999999999999999999"),  # digits, but beyond int64: found by bisection
        coinbase("13", time="2026-02-30T00:00:00Z"),  # shaped right, not a date
        coinbase("14", time="yesterday"),
        coinbase("15", side="HOLD"),
        coinbase("16", time="soon", side="x"),
        coinbase("17", side="sell"),
    ]
    result = shipped["raw_coinbase_trades"].apply(raw_table("raw_coinbase_trades", natives))
    assert result.table.column("trade_id").to_pylist() == [10, 17]
    assert result.table.column("side").to_pylist() == ["SELL", "BUY"]
    assert result.rejected.column("row").to_pylist() == [1, 2, 3, 4, 5, 6]
    expected_iso = "(expected ISO 8601 like 2026-08-09T21:05:42.514318Z)"
    assert result.reasons == [
        "trade_id: to_int64 refused 'ten' (expected a whole number)",
        "trade_id: to_int64 refused '99999999999999999999' (expected a whole number)",
        f"trade_ts: iso8601 refused '2026-02-30T00:00:00Z' {expected_iso}",
        f"trade_ts: iso8601 refused 'yesterday' {expected_iso}",
        "side: maker_to_taker refused 'HOLD' (expected buy or sell)",
        # Every failure of a row is listed, in target column order.
        f"side: maker_to_taker refused 'x' (expected buy or sell); "
        f"trade_ts: iso8601 refused 'soon' {expected_iso}",
    ]


def test_kraken_nan_and_negative_numbers(shipped: dict[str, CompiledMapping]) -> None:
    natives = [kraken(1), kraken(2, price=float("nan")), kraken(3, price=-1.0), kraken(4)]
    result = shipped["raw_kraken_trades"].apply(raw_table("raw_kraken_trades", natives))
    assert result.table.column("trade_id").to_pylist() == [1, 4]
    assert result.reasons == [
        "price: positive refused nan (expected a finite number > 0)",
        "price: positive refused -1.0 (expected a finite number > 0)",
    ]


def test_a_few_bad_rows_among_many_are_located_exactly(
    shipped: dict[str, CompiledMapping],
) -> None:
    bad = {17: "1e400", 4_000: "x", 9_999: "-0.1"}
    natives = [binance(i, price=bad.get(i, f"{i}.25")) for i in range(10_000)]
    natives[5_000]["trade_time"] = -(2**62)
    result = shipped["raw_binance_trades"].apply(raw_table("raw_binance_trades", natives))
    assert result.rejected.column("row").to_pylist() == [17, 4_000, 5_000, 9_999]
    assert result.table.num_rows == 10_000 - 4
    kept = [i for i in range(10_000) if i not in (17, 4_000, 5_000, 9_999)]
    assert result.table.column("trade_id").to_pylist() == kept
    assert result.table.column("price").to_pylist() == [i + 0.25 for i in kept]


def test_nulls_in_a_required_column_are_rejected(tmp_path: Path) -> None:
    # event_time is nullable in the raw table (REST pages have none).
    document = {
        "source": "raw_binance_trades",
        "target_table": "trades_unified",
        "mappings": {
            "symbol": "symbol",
            "trade_id": "trade_id",
            "side": "is_buyer_maker",
            "price": "price",
            "quantity": "qty",
            "trade_ts": "event_time",
            "ingest_ts": "_source_ingest_ts",
        },
        "constants": {"exchange": "binance"},
        "transforms": {
            "side": "taker_side_from_buyer_maker",
            "price": "to_double",
            "quantity": "to_double",
            "trade_ts": "from_ms",
        },
    }
    path = tmp_path / "event_time.yaml"
    path.write_text(yaml.safe_dump(document))
    mapping = load_mapping(path, SOURCE_SCHEMAS["raw_binance_trades"], UNIFIED_SCHEMA)
    rows = [
        dict(binance(1), event_time=5),
        binance(2),
        dict(binance(3, price="?"), event_time=None),
    ]
    result = mapping.apply(raw_table("raw_binance_trades", rows))
    assert result.table.column("trade_id").to_pylist() == [1]
    assert result.reasons == [
        "trade_ts: required, but source column 'event_time' is null",
        # Every problem of the row is listed, in target column order.
        "price: to_double refused '?' (expected a decimal number); "
        "trade_ts: required, but source column 'event_time' is null",
    ]


def test_rejects_without_a_raw_payload_column(tmp_path: Path) -> None:
    source_schema = SOURCE_SCHEMAS["raw_kraken_trades"]
    without_payload = pa.schema([f for f in source_schema if f.name != "_raw_payload"])
    mapping = load_mapping(
        Path(__file__).resolve().parents[2] / "config" / "mappings" / "kraken_trades.yaml",
        without_payload,
        UNIFIED_SCHEMA,
    )
    data = raw_table("raw_kraken_trades", [kraken(1, side="hold"), kraken(2)]).drop_columns(
        ["_raw_payload"]
    )
    result = mapping.apply(data)
    assert result.table.column("trade_id").to_pylist() == [2]
    assert result.rejected.to_pylist() == [
        {"row": 0, "reason": "side: normalize_side refused 'hold' (expected buy or sell)",
         "raw_payload": None}
    ]  # fmt: skip


def test_extra_target_columns_from_constants_sources_or_nulls(tmp_path: Path) -> None:
    enriched = pa.schema(
        [*UNIFIED_SCHEMA, pa.field("base_asset", pa.string()), pa.field("quote_asset", pa.string())]
    )
    document = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "config/mappings/kraken_trades.yaml").read_text()
    )
    document["constants"]["base_asset"] = "BTC"
    path = tmp_path / "kraken.yaml"
    path.write_text(yaml.safe_dump(document))
    mapping = load_mapping(path, SOURCE_SCHEMAS["raw_kraken_trades"], enriched)
    result = mapping.apply(raw_table("raw_kraken_trades", [kraken(1), kraken(2)]))
    assert result.table.schema == enriched
    assert result.table.column("base_asset").to_pylist() == ["BTC", "BTC"]
    assert result.table.column("quote_asset").to_pylist() == [None, None]
    assert result.table.column("ingest_ts").to_pylist() == [INGEST_TS, INGEST_TS]

    document["constants"].pop("base_asset")
    document["mappings"]["quote_asset"] = "ord_type"
    document["transforms"]["quote_asset"] = "upper"
    path.write_text(yaml.safe_dump(document))
    mapping = load_mapping(path, SOURCE_SCHEMAS["raw_kraken_trades"], enriched)
    rows = [dict(kraken(1), ord_type="limit"), kraken(2)]
    result = mapping.apply(raw_table("raw_kraken_trades", rows))
    # A null in an optional column is fine: both rows land.
    assert result.table.column("quote_asset").to_pylist() == ["LIMIT", None]
    assert result.table.column("base_asset").to_pylist() == [None, None]
    assert result.rejected.num_rows == 0


def test_the_mapped_table_is_valid_arrow(shipped: dict[str, CompiledMapping]) -> None:
    natives = [binance(1), binance(2, price="bad"), binance(3)]
    table = shipped["raw_binance_trades"].apply(raw_table("raw_binance_trades", natives)).table
    table.validate(full=True)
    for field in UNIFIED_SCHEMA:
        assert table.column(field.name).null_count == 0
