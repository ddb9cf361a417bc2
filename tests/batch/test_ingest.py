"""``ingest`` run three times while the simulator trades: each new trade is written once, the
watermark follows the data, and without a bucket the same command fills the lake."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
import pytest

from schemahub.config import LakeConfig
from schemahub.lake import Lake
from tests.batch.conftest import cli_env, jsonl_records, run, s3_objects, truth_ids

pytestmark = pytest.mark.slow


async def test_three_runs_write_each_new_trade_once(history_sim, moto_endpoint, bucket, tmp_path):
    env = cli_env(history_sim, moto_endpoint, tmp_path)
    line = f"schemahub ingest BTC-USD --s3-bucket {bucket} --limit 100"
    watermarks = []
    for _ in range(3):
        done = await run(line, env, tmp_path)
        assert done.code == 0, done.err
        mark = s3_objects(
            moto_endpoint, bucket, "schemahub/raw_coinbase_trades/ingest_checkpoints/"
        )
        body = orjson.loads(mark["schemahub/raw_coinbase_trades/ingest_checkpoints/BTC-USD.json"])
        assert set(body) == {"last_trade_id", "last_updated"}
        watermarks.append(body["last_trade_id"])
        await asyncio.sleep(1.5)  # about 30 new trades
    assert watermarks[0] < watermarks[1] < watermarks[2]
    records = jsonl_records(s3_objects(moto_endpoint, bucket, "schemahub/raw_coinbase_trades/"))
    counts = Counter(int(r["trade_id"]) for r in records)
    assert set(counts.values()) == {1}, "a trade was written twice"
    truth = truth_ids(history_sim, "coinbase", "BTC-USD")
    first_run = watermarks[0] - 99  # the first run takes the newest 100 trades
    assert sorted(counts) == [t for t in truth if first_run <= t <= watermarks[2]]


async def test_without_a_bucket_ingest_lands_in_the_lake_once(history_sim, moto_endpoint, tmp_path):
    history_sim.pause()
    env = cli_env(history_sim, moto_endpoint, tmp_path)
    line = "python3 -m schemahub.cli ingest ETH-USD --after 0 --limit 500"
    first = await run(line, env, tmp_path)
    assert first.code == 0, first.err
    second = await run(line, env, tmp_path)
    assert second.code == 0, second.err
    assert "ETH-USD: 0 new trades" in second.out
    lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
    truth = truth_ids(history_sim, "coinbase", "ETH-USD")
    raw = lake.table("raw_coinbase_trades").scan().to_arrow()
    assert sorted(int(i) for i in raw["trade_id"].to_pylist()) == truth
    unified = lake.table("trades_unified").scan().to_arrow()
    assert sorted(unified["trade_id"].to_pylist()) == truth
    assert set(unified["exchange"].to_pylist()) == {"coinbase"}
