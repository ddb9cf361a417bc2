"""The foundation's acceptance path, through the real CLI: tables init, capture load, unify."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from schemahub.cli import main
from schemahub.config import load_config
from schemahub.lake import QUARANTINE_TABLE, UNIFIED_TABLE, Lake

REPO = Path(__file__).resolve().parents[2]
TAKER = {"BUY": "SELL", "SELL": "BUY"}  # Coinbase labels trades with the maker's side


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory with the shipped config; the embedded lake lands in ./warehouse."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMAHUB_MAPPINGS_DIR", str(REPO / "config" / "mappings"))
    assert main(["tables", "init"]) == 0
    return tmp_path


def workdir_lake() -> Lake:
    return Lake(load_config().lake)


def unified_rows() -> pa.Table:
    return workdir_lake().table(UNIFIED_TABLE).scan().to_arrow()


def expected_coinbase_trades(path: Path) -> dict[int, dict]:
    """An independent reading of the recording with the stdlib json module."""
    trades = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry["dir"] != "recv" or not entry["data"]:
            continue
        frame = json.loads(entry["data"])
        if frame.get("channel") != "market_trades":
            continue
        for event in frame["events"]:
            for t in event["trades"]:
                stamp = t["time"].replace("Z", "+00:00")
                trades[int(t["trade_id"])] = {
                    "symbol": t["product_id"],
                    "side": TAKER[t["side"]],
                    "price": float(Decimal(t["price"])),
                    "quantity": float(Decimal(t["size"])),
                    "trade_ts": datetime.fromisoformat(stamp),
                }
    return trades


def test_coinbase_recording_lands_once_with_taker_side(workdir, recorded, capsys):
    capture = recorded / "coinbase_advanced_ws.jsonl"
    expected = expected_coinbase_trades(capture)
    assert len(expected) > 100

    assert main(["capture", "load", "coinbase", str(capture)]) == 0
    assert main(["run", "unify", "trades_unified"]) == 0

    rows = unified_rows()
    assert rows.num_rows == len(expected)
    by_id = {r["trade_id"]: r for r in rows.to_pylist()}
    assert set(by_id) == set(expected)
    for trade_id, want in expected.items():
        got = by_id[trade_id]
        assert got["exchange"] == "coinbase"
        for column in ("symbol", "side", "price", "quantity", "trade_ts"):
            assert got[column] == want[column], (trade_id, column)
    assert {r["side"] for r in by_id.values()} == {"BUY", "SELL"}

    # Loading and unifying the same file again changes nothing.
    assert main(["capture", "load", "coinbase", str(capture)]) == 0
    assert "already loaded" in capsys.readouterr().out
    assert main(["run", "unify", "trades_unified"]) == 0
    assert unified_rows().num_rows == len(expected)


def test_unify_is_incremental_and_full_rebuild_gives_the_same_rows(workdir, recorded, capsys):
    assert main(["capture", "load", "coinbase", str(recorded / "coinbase_advanced_ws.jsonl")]) == 0
    assert main(["run", "unify"]) == 0
    first = unified_rows()
    capsys.readouterr()

    assert main(["run", "unify"]) == 0
    assert "read nothing new" in capsys.readouterr().out

    exchange = recorded / "coinbase_exchange_ws.jsonl"
    assert main(["capture", "load", "coinbase", str(exchange)]) == 0
    assert main(["run", "unify"]) == 0
    out = capsys.readouterr().out
    # only the new raw snapshot was read: the Exchange file's matches, not the first file again
    matches = sum(
        1 for line in exchange.read_text().splitlines() if '\\"type\\":\\"match' in line
    ) + sum(1 for line in exchange.read_text().splitlines() if '\\"type\\":\\"last_match' in line)
    assert f"read {matches} from raw_coinbase_trades" in out
    incremental = unified_rows()
    assert incremental.num_rows > first.num_rows

    assert main(["run", "unify", "--full"]) == 0
    rebuilt = unified_rows()
    key = ["exchange", "symbol", "trade_id"]
    assert (
        rebuilt.sort_by([(k, "ascending") for k in key])
        .select(["exchange", "symbol", "trade_id", "side", "price", "quantity", "trade_ts"])
        .equals(
            incremental.sort_by([(k, "ascending") for k in key]).select(
                ["exchange", "symbol", "trade_id", "side", "price", "quantity", "trade_ts"]
            )
        )
    )


def test_duckdb_reads_the_same_rows_as_pyiceberg(workdir, recorded, duckdb_con):
    assert main(["capture", "load", "coinbase", str(recorded / "coinbase_advanced_ws.jsonl")]) == 0
    assert main(["run", "unify"]) == 0
    table = workdir_lake().table(UNIFIED_TABLE)
    ours = table.scan().to_arrow().sort_by("trade_id")
    theirs = duckdb_con.execute(
        f"SELECT * FROM iceberg_scan('{table.metadata_location}') ORDER BY trade_id"
    ).to_arrow_table()
    assert theirs.num_rows == ours.num_rows
    for column in ("exchange", "symbol", "trade_id", "side", "price", "quantity"):
        assert theirs[column].to_pylist() == ours[column].to_pylist(), column
    utc = pa.timestamp("us", tz="UTC")
    assert theirs["trade_ts"].cast(utc).to_pylist() == ours["trade_ts"].cast(utc).to_pylist()


def capture_line(data: str, ts: float = 1_786_309_548.5) -> str:
    return json.dumps({"dir": "recv", "ts": ts, "data": data})


def kraken_frame(*trades: dict) -> str:
    return json.dumps({"channel": "trade", "type": "update", "data": list(trades)})


def kraken_trade(trade_id, price=65000.1, **changes) -> dict:
    trade = {
        "symbol": "BTC/USD",
        "side": "buy",
        "price": price,
        "qty": 0.25,
        "ord_type": "market",
        "trade_id": trade_id,
        "timestamp": "2026-08-09T21:05:42.514318Z",
    }
    trade.update(changes)
    return {k: v for k, v in trade.items() if v is not ...}


def test_bad_frames_are_quarantined_per_reason_and_good_ones_land(workdir, capsys):
    capture = workdir / "mixed.jsonl"
    lines = [
        capture_line(kraken_frame(kraken_trade(1), kraken_trade(2, price="NaN"))),
        capture_line(kraken_frame(kraken_trade(3, price="-1"), kraken_trade(4, price=""))),
        capture_line(kraken_frame(kraken_trade(..., price=1.0), kraken_trade(5))),
        capture_line('{"channel":"trade","type":"update","data":[{"symbol"'),  # truncated frame
        '{"dir": "recv", "ts": 1786309548.5, "data": "{\\"chan',  # truncated capture line
        "not json at all",
        capture_line(json.dumps({"channel": "heartbeat"})),
    ]
    capture.write_text("\n".join(lines) + "\n")

    assert main(["capture", "load", "kraken", str(capture)]) == 0
    out = capsys.readouterr().out
    assert "2 trades landed" in out
    assert main(["run", "unify"]) == 0

    assert sorted(unified_rows()["trade_id"].to_pylist()) == [1, 5]
    quarantine = workdir_lake().table(QUARANTINE_TABLE).scan().to_arrow().to_pylist()
    reasons = [q["reason"] for q in quarantine]
    assert len(quarantine) == 7
    assert sum("price" in r for r in reasons) == 3
    assert sum("trade_id" in r for r in reasons) == 1
    assert all(q["exchange"] == "kraken" and q["raw_payload"] for q in quarantine)
    assert any("NaN" in q["raw_payload"] for q in quarantine)


@pytest.mark.parametrize(
    ("content", "venue", "message"),
    [
        ("", "kraken", "is empty"),
        ("\n\n", "kraken", "is empty"),
        ("garbage\nmore garbage\n", "kraken", "holds no kraken frame"),
        (capture_line('{"e":"trade","E":1,"s":"BTCUSDT"}') + "\n", "kraken", "no kraken frame"),
    ],
)
def test_wholly_unusable_capture_exits_non_zero_and_writes_nothing(
    workdir, capsys, content, venue, message
):
    capture = workdir / "bad.jsonl"
    capture.write_text(content)
    before = workdir_lake().table("raw_kraken_trades").metadata_location

    assert main(["capture", "load", venue, str(capture)]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("schemahub: error:")
    assert workdir_lake().table("raw_kraken_trades").metadata_location == before
    assert workdir_lake().table(QUARANTINE_TABLE).current_snapshot() is None


def test_capture_of_another_venue_is_refused_by_name(workdir, recorded, capsys):
    assert main(["capture", "load", "coinbase", str(recorded / "binance_ws.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "recorded from binance" in err and "capture load binance" in err


def test_missing_file_is_a_clear_error(workdir, capsys):
    assert main(["capture", "load", "kraken", str(workdir / "nope.jsonl")]) == 2
    assert "cannot read capture" in capsys.readouterr().err


def test_tables_list_shows_rows_and_a_metadata_file_duckdb_can_read(
    workdir, recorded, capsys, duckdb_con
):
    assert main(["capture", "load", "coinbase", str(recorded / "coinbase_advanced_ws.jsonl")]) == 0
    assert main(["run", "unify"]) == 0
    capsys.readouterr()
    assert main(["tables", "list"]) == 0
    listed = {
        line.split("\t")[0]: line.split("\t")[1:] for line in capsys.readouterr().out.splitlines()
    }
    rows, location = listed["schemahub.trades_unified"]
    count = unified_rows().num_rows
    assert rows == f"{count} rows"
    (got,) = duckdb_con.execute(f"SELECT count(*) FROM iceberg_scan('{location}')").fetchone()
    assert got == count


def test_tables_init_reads_mappings_beside_a_product_seed(tmp_path: Path) -> None:
    """``update-seed`` writes its seed into the mappings folder; ``tables init`` skips it."""
    import shutil

    from schemahub.config import LakeConfig
    from schemahub.jobs.tables import init_all
    from schemahub.lake import Lake

    mappings = tmp_path / "mappings"
    shutil.copytree(REPO / "config" / "mappings", mappings)
    (mappings / "product_ids_seed.yaml").write_text(
        "product_ids: [BTC-USD]\nmetadata: {source: coinbase, last_updated: x, count: 1}\n"
    )
    lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
    changes = init_all(lake, mappings)
    assert "trades_unified" in changes
