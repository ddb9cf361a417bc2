"""A backfill killed with SIGKILL, twice, at moments it does not choose, and resumed: S3 holds
the simulator's history exactly once. And the window a kill may hit between a chunk's object
and its checkpoint, reproduced on purpose by rewinding the checkpoint."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.batch.conftest import cli_env, jsonl_records, run, s3_objects, start, truth_ids

pytestmark = pytest.mark.slow
PRODUCTS = ("BTC-USD", "ETH-USD")


def seed(tmp_path: Path) -> str:
    path = tmp_path / "seed.yaml"
    path.write_text("product_ids: [BTC-USD, ETH-USD]\n")
    return str(path)


def landed(endpoint: str, bucket: str) -> dict[str, Counter]:
    records = jsonl_records(s3_objects(endpoint, bucket, "hist/"))
    return {
        p: Counter(int(r["trade_id"]) for r in records if r["product_id"] == p) for p in PRODUCTS
    }


async def kill_after_objects(line, env, cwd, endpoint, bucket, at_least: int) -> None:
    proc = await start(line, env, cwd)
    for _ in range(600):
        if len(s3_objects(endpoint, bucket, "hist/")) >= at_least or proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def test_killed_twice_and_resumed_holds_each_trade_once(
    history_sim, moto_endpoint, bucket, tmp_path
):
    history_sim.pause()
    env = cli_env(history_sim, moto_endpoint, tmp_path)
    line = (
        f"schemahub backfill --seed-path {seed(tmp_path)} --s3-bucket {bucket} "
        "--s3-prefix hist --checkpoint-s3 --chunk-size 50 --workers 2 --resume"
    )
    await kill_after_objects(line, env, tmp_path, moto_endpoint, bucket, 5)
    await kill_after_objects(line, env, tmp_path, moto_endpoint, bucket, 20)
    partial = sum(sum(c.values()) for c in landed(moto_endpoint, bucket).values())
    total = sum(len(truth_ids(history_sim, "coinbase", p)) for p in PRODUCTS)
    assert 0 < partial < total  # the kills did interrupt the walk

    done = await run(line, env, tmp_path)
    assert done.code == 0, done.err
    counts = landed(moto_endpoint, bucket)
    for product in PRODUCTS:
        assert sorted(counts[product]) == truth_ids(history_sim, "coinbase", product)
        assert set(counts[product].values()) == {1}, "a trade landed twice"
        assert f"hist/checkpoints/{product}.json" in s3_objects(moto_endpoint, bucket, "hist/")


async def test_chunks_written_after_the_last_checkpoint_are_replaced_not_doubled(
    history_sim, moto_endpoint, bucket, tmp_path
):
    history_sim.pause()
    env = cli_env(history_sim, moto_endpoint, tmp_path)
    line = (
        f"schemahub backfill --seed-path {seed(tmp_path)} --s3-bucket {bucket} "
        "--s3-prefix hist --chunk-size 200 --resume"
    )
    first = await run(line, env, tmp_path)
    assert first.code == 0, first.err
    keys_before = set(s3_objects(moto_endpoint, bucket, "hist/"))
    # As if killed after three more objects than the checkpoint covers.
    state = tmp_path / "state" / "BTC-USD.json"
    newest = truth_ids(history_sim, "coinbase", "BTC-USD")[-1]
    state.write_bytes(orjson.dumps({"last_trade_id": newest + 1 - 600, "trades_processed": 0,
                                    "last_updated": "2026-01-01T00:00:00Z"}))  # fmt: skip
    again = await run(line, env, tmp_path)
    assert again.code == 0, again.err
    assert "BTC-USD: " in again.out
    assert set(s3_objects(moto_endpoint, bucket, "hist/")) == keys_before
    counts = landed(moto_endpoint, bucket)
    assert sorted(counts["BTC-USD"]) == truth_ids(history_sim, "coinbase", "BTC-USD")
    assert set(counts["BTC-USD"].values()) == {1}


async def test_without_a_bucket_backfill_lands_in_the_lake_exactly_once(
    history_sim, moto_endpoint, tmp_path
):
    history_sim.pause()
    env = cli_env(history_sim, moto_endpoint, tmp_path)
    line = f"schemahub backfill --seed-path {seed(tmp_path)} --chunk-size 300 --workers 2 --resume"
    first = await run(line, env, tmp_path)
    assert first.code == 0, first.err
    again = await run(line, env, tmp_path)  # resumes below the oldest: nothing more
    assert again.code == 0, again.err
    assert "backfill done: 0 trades" in again.out
    from schemahub.config import LakeConfig
    from schemahub.lake import Lake

    lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
    raw = lake.table("raw_coinbase_trades").scan().to_arrow()
    unified = lake.table("trades_unified").scan().to_arrow()
    for product in PRODUCTS:
        truth = truth_ids(history_sim, "coinbase", product)
        raw_ids = [
            int(t)
            for t, p in zip(raw["trade_id"].to_pylist(), raw["product_id"].to_pylist(), strict=True)
            if p == product
        ]
        assert sorted(raw_ids) == truth
        ids = [
            t
            for t, p in zip(
                unified["trade_id"].to_pylist(), unified["symbol"].to_pylist(), strict=True
            )
            if p == product
        ]
        assert sorted(ids) == truth
    assert not (tmp_path / "state").exists()  # checkpoints live in the table
