"""``update-seed`` on every venue, backfill of Binance and Kraken into S3, the progress bar,
and ``import-jsonl`` of a folder written as the original tool wrote it."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

from schemahub.cli import main
from schemahub.config import LakeConfig
from schemahub.jobs.progress import Progress
from schemahub.lake import Lake
from schemahub.sim import Simulator
from tests.batch.conftest import VENUE_ENV, fast_config, jsonl_records, s3_objects, truth_ids

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fast_sim():
    """Every venue's REST limit raised, so a test walks history in seconds."""
    async with Simulator(fast_config(rate_per_stream=20.0, history_seconds=20.0, seed=4)) as sim:
        sim.pause()
        yield sim


def point_at(sim: Simulator, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for venue, upper in VENUE_ENV.items():
        monkeypatch.setenv(f"SCHEMAHUB_VENUES__{upper}__REST_URL", sim.rest_url(venue))
        monkeypatch.setenv(f"SCHEMAHUB_VENUES__{upper}__REST_REQUESTS_PER_SECOND", "100")
    monkeypatch.setenv("SCHEMAHUB_LAKE__WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("SCHEMAHUB_MAPPINGS_DIR", str(REPO / "config" / "mappings"))


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.parametrize(
    ("venue", "listed"),
    [
        ("coinbase", ["BTC-USD", "ETH-USD"]),
        ("binance", ["BTCUSDT", "ETHUSDT"]),
        ("kraken", ["BTC/USD", "ETH/USD"]),
    ],
)
async def test_update_seed_prints_then_writes_merges_and_filters(
    fast_sim, monkeypatch, tmp_path, capsys, venue, listed
):
    point_at(fast_sim, monkeypatch, tmp_path)
    name = "product_ids_seed.yaml" if venue == "coinbase" else f"product_ids_seed_{venue}.yaml"
    path = tmp_path / "config" / "mappings" / name
    assert await cli("update-seed", "--venue", venue, "--fetch") == 0
    assert not path.exists()
    out = capsys.readouterr().out
    assert all(f"  + {p}" in out for p in listed) and "nothing written" in out
    assert await cli("update-seed", "--venue", venue, "--fetch", "--write", "--dry-run") == 0
    assert not path.exists()
    assert await cli("update-seed", "--venue", venue, "--fetch", "--write") == 0
    document = yaml.safe_load(path.read_text())
    assert document["product_ids"] == listed and document["metadata"]["count"] == 2
    path.write_text(yaml.safe_dump({"product_ids": ["OLD-ONE", listed[0]]}))
    capsys.readouterr()
    assert await cli("update-seed", "--venue", venue, "--fetch", "--filter-regex", "^ETH") == 0
    out = capsys.readouterr().out
    assert f"  + {listed[1]}" in out and "  - OLD-ONE" in out and f"  - {listed[0]}" in out
    assert await cli("update-seed", "--venue", venue, "--fetch", "--merge", "--write") == 0
    assert yaml.safe_load(path.read_text())["product_ids"] == sorted(["OLD-ONE", *listed])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("venue", "product", "key"),
    [("binance", "ETHUSDT", "ETHUSDT"), ("kraken", "ETH/USD", "ETH-USD")],
)
async def test_backfill_of_other_venues_lands_each_trade_once(
    fast_sim, moto_endpoint, bucket, monkeypatch, tmp_path, venue, product, key
):
    point_at(fast_sim, monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump({"product_ids": [product]}))
    argv = ["backfill", "--venue", venue, "--seed-path", str(seed), "--s3-bucket", bucket,
            "--chunk-size", "250", "--resume"]  # fmt: skip
    assert await cli(*argv) == 0
    objects = s3_objects(moto_endpoint, bucket, f"schemahub/raw_{venue}_trades/")
    assert all(f"raw_{venue}_trades_{key}_" in k for k in objects if k.endswith(".jsonl"))
    counts = Counter(int(r["trade_id"]) for r in jsonl_records(objects))
    assert sorted(counts) == truth_ids(fast_sim, venue, product)
    assert set(counts.values()) == {1}
    assert (tmp_path / "state" / f"{key}.json").exists()


def test_a_terminal_gets_a_bar_with_rate_and_eta():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = Progress("backfill coinbase", 1000, stream=screen)
    bar.advance(400)
    bar.close()
    shown = screen.getvalue()
    assert "backfill coinbase" in shown and "400/1000" in shown and "/s" in shown


def test_elsewhere_json_lines_carry_the_same_figures(caplog):
    caplog.set_level("INFO", logger="schemahub.progress")
    progress = Progress("ingest kraken", None, stream=io.StringIO(), interval=0.0)
    progress.add_total(10)
    progress.advance(4)
    progress.close()
    figures = [r for r in caplog.records if r.name == "schemahub.progress"]
    assert [r.getMessage() for r in figures] == [
        "ingest kraken: progress",
        "ingest kraken: finished",
    ]
    assert figures[0].done == 4 and figures[0].total == 10 and figures[0].eta_seconds is not None


def test_import_of_a_folder_as_the_original_tool_wrote_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMAHUB_LAKE__WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("SCHEMAHUB_MAPPINGS_DIR", str(REPO / "config" / "mappings"))
    folder = tmp_path / "history"
    folder.mkdir()
    lines = [
        {"trade_id": 900 + i, "product_id": "SOL-USD", "price": "150.10000000",
         "size": "0.50000000", "time": f"2024-05-01T10:00:0{i}.250000Z",
         "side": "buy", "_source": "coinbase_rest", "_source_ingest_ts": "2024-05-01T10:01:00Z",
         "_raw_payload": None}
        for i in range(5)
    ]  # fmt: skip
    body = b"\n".join(orjson.dumps(x) for x in lines) + b"\n"
    (folder / "raw_coinbase_trades_SOL-USD_20240501T100000Z_900.jsonl").write_bytes(body)
    (folder / "raw_coinbase_trades_SOL-USD_20240501T100002Z_902.jsonl").write_bytes(body)
    (folder / "notes.txt").write_text("not an object of the layout")
    assert main(["import-jsonl", str(folder)]) == 0
    assert main(["import-jsonl", str(folder)]) == 0
    assert "0 new in raw_coinbase_trades" in capsys.readouterr().out
    lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
    unified = lake.table("trades_unified").scan().to_arrow().sort_by("trade_id")
    assert unified["trade_id"].to_pylist() == [900, 901, 902, 903, 904]
    assert set(unified["side"].to_pylist()) == {"SELL"}  # Coinbase REST labels the maker side
    assert lake.table("raw_coinbase_trades").scan().to_arrow().num_rows == 5
    (folder / "raw_coinbase_trades_SOL-USD_20240501T100009Z_999.jsonl").write_bytes(b"{broken\n")
    assert main(["import-jsonl", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "raw_coinbase_trades_SOL-USD_20240501T100009Z_999.jsonl line 1" in err


def test_a_seed_file_beside_the_mappings_is_not_read_as_one(tmp_path):
    import shutil

    from schemahub.lake.tables import raw_schemas
    from schemahub.mapping import load_mappings
    from schemahub.schemas import UNIFIED_SCHEMA

    folder = tmp_path / "mappings"
    shutil.copytree(REPO / "config" / "mappings", folder)
    (folder / "product_ids_seed.yaml").write_text("product_ids: [BTC-USD]\n")
    (folder / "product_ids_seed_kraken.yaml").write_text("product_ids: [BTC/USD]\n")
    compiled = load_mappings(folder, raw_schemas(), UNIFIED_SCHEMA)
    assert set(compiled) == {"raw_binance_trades", "raw_coinbase_trades", "raw_kraken_trades"}
