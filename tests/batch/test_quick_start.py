"""The original tool's quick start, as the README writes it, against the simulator's Coinbase
and a moto S3 server: every trade of the history lands in S3 once, and import-jsonl lands
that history in the lake, idempotently."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

from schemahub.config import LakeConfig
from schemahub.lake import Lake
from tests.batch.conftest import (
    cli_env,
    jsonl_records,
    run,
    s3_client,
    s3_objects,
    truth_ids,
)

pytestmark = pytest.mark.slow
PRODUCTS = ("BTC-USD", "ETH-USD")
ORIGINAL_FIELDS = {
    "trade_id", "product_id", "price", "size", "time", "side",
    "_source", "_source_ingest_ts", "_raw_payload",
}  # fmt: skip
QUICK_START = (
    "schemahub update-seed --fetch --write",
    "schemahub backfill --s3-bucket my-bucket --dry-run",
    "schemahub backfill --s3-bucket my-bucket --workers 4 --resume",
)
INGEST = "schemahub ingest BTC-USD --s3-bucket my-bucket"
IMPORT = "schemahub import-jsonl s3://my-bucket/schemahub/raw_coinbase_trades"


def test_the_readme_shows_these_commands():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for line in (*QUICK_START, INGEST, IMPORT):
        assert line in readme


async def test_quick_start_then_import(history_sim, moto_endpoint, tmp_path: Path):
    s3_client(moto_endpoint).create_bucket(Bucket="my-bucket")
    history_sim.pause()  # a fixed history: what S3 must hold is known exactly
    env = cli_env(history_sim, moto_endpoint, tmp_path)

    seed = await run(QUICK_START[0], env, tmp_path)
    assert seed.code == 0, seed.err
    written = yaml.safe_load((tmp_path / "config/mappings/product_ids_seed.yaml").read_text())
    assert written["product_ids"] == list(PRODUCTS)
    assert written["metadata"]["count"] == 2 and written["metadata"]["source"]

    plan = await run(QUICK_START[1], env, tmp_path)
    assert plan.code == 0, plan.err
    for product in PRODUCTS:
        ids = truth_ids(history_sim, "coinbase", product)
        assert f"{product}: ids {ids[0]}..{ids[-1]} ({len(ids)} trades)" in plan.out
    assert "requests/s" in plan.out and "nothing written" in plan.out
    assert s3_objects(moto_endpoint, "my-bucket") == {}
    assert not (tmp_path / "state").exists()

    done = await run(QUICK_START[2], env, tmp_path)
    assert done.code == 0, done.err
    progress = [orjson.loads(x) for x in done.err.splitlines() if '"schemahub.progress"' in x]
    assert progress and progress[-1]["done"] == progress[-1]["total"]

    objects = s3_objects(moto_endpoint, "my-bucket", "schemahub/raw_coinbase_trades/")
    records = jsonl_records(objects)
    assert all(set(r) == ORIGINAL_FIELDS for r in records)
    for product in PRODUCTS:
        got = [int(r["trade_id"]) for r in records if r["product_id"] == product]
        assert sorted(got) == truth_ids(history_sim, "coinbase", product)  # all, once
        name = f"schemahub/raw_coinbase_trades/raw_coinbase_trades_{product}_"
        assert any(key.startswith(name) for key in objects)
        state = orjson.loads((tmp_path / "state" / f"{product}.json").read_bytes())
        assert set(state) == {"last_trade_id", "trades_processed", "last_updated"}
        assert state["trades_processed"] == len(got)
        assert state["last_trade_id"] == min(got)

    ingested = await run(INGEST, env, tmp_path)  # the history is paused: nothing newer
    assert ingested.code == 0, ingested.err
    assert "BTC-USD: 100 new trades" in ingested.out  # a first run takes the newest --limit
    imported = await run(IMPORT, env, tmp_path)
    assert imported.code == 0, imported.err
    again = await run(IMPORT, env, tmp_path)
    assert again.code == 0, again.err
    assert "0 new in raw_coinbase_trades" in again.out and "+0 rows" in again.out
    lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
    unified = lake.table("trades_unified").scan().to_arrow()
    raw = lake.table("raw_coinbase_trades").scan().to_arrow()
    for product in PRODUCTS:
        truth = truth_ids(history_sim, "coinbase", product)
        rows = unified.filter(unified["symbol"].to_numpy(zero_copy_only=False) == product)
        assert sorted(rows["trade_id"].to_pylist()) == truth
        raw_ids = [
            int(i)
            for i, p in zip(raw["trade_id"].to_pylist(), raw["product_id"].to_pylist(), strict=True)
            if p == product
        ]
        assert Counter(raw_ids) == Counter(truth)
