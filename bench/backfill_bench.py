"""Backfill against its physical ceiling: ``schemahub backfill --workers 4`` (a real process,
S3 on a moto server, the simulator's Coinbase with its rate limit on: 10 requests/s, burst 15).

The ceiling is requests/s x trades per page (10 x --chunk-size). Reported per run: trades,
wall time, steady-state trades/s (from the command's own progress lines, so start-up and the
few probe requests of the ETA are outside it) and its fraction of the ceiling, requests the
simulator refused with 429, and the command's peak RSS (sampled every 50 ms). The original
tool's design is run on the same history: 4 threads, each pacing itself at a fixed 10
requests/s, no backoff (a 429 is counted and the request sent again at the next tick).

    python bench/backfill_bench.py [--history-seconds 60] [--rate 100] [--deep-factor 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import psutil

from schemahub.sim import SimConfig, Simulator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the moto launcher the tests use
from tests.batch.conftest import cli_env  # noqa: E402
from tests.moto_server import moto_server, s3_client  # noqa: E402

BASES = ("BTC", "ETH", "SOL", "XRP")
PRODUCTS = [f"{b}-USD" for b in BASES]
SIM_RATE = 10.0  # Coinbase's public limit, as the simulator enforces it
CHUNK = 100


async def run_ours(sim: Simulator, endpoint: str, bucket: str, work: Path, rps: float | None):
    seed = work / "seed.yaml"
    seed.write_text(orjson.dumps({"product_ids": PRODUCTS}).decode())
    env = cli_env(sim, endpoint, work)  # the environment the tests give the commands
    env.pop("SCHEMAHUB_VENUES__COINBASE__REST_REQUESTS_PER_SECOND")
    if rps is not None:
        env["SCHEMAHUB_VENUES__COINBASE__REST_REQUESTS_PER_SECOND"] = str(rps)
    refused_before = sim.stats().rest_rate_limited.get("coinbase", 0)
    argv = [sys.executable, "-m", "schemahub.cli", "backfill", "--seed-path", str(seed),
            "--s3-bucket", bucket, "--workers", "4", "--chunk-size", str(CHUNK),
            "--state-dir", str(work / f"state-{bucket}")]  # fmt: skip
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=work, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    peak = 0
    watched = psutil.Process(proc.pid)
    waiter = asyncio.ensure_future(proc.communicate())
    while not waiter.done():
        with contextlib.suppress(psutil.Error):
            peak = max(peak, watched.memory_info().rss)
        await asyncio.sleep(0.05)
    out, err = waiter.result()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"backfill failed: {err.decode()[-2000:]}")
    lines = [orjson.loads(x) for x in err.splitlines() if b'"schemahub.progress"' in x]
    first, last = lines[0], lines[-1]
    span = last["elapsed_seconds"] - first["elapsed_seconds"]
    # Progress lines come every 5 s: a shorter run has no steady state to measure.
    steady = (last["done"] - first["done"]) / span if span > 0 else None
    return {
        "trades": last["done"],
        "wall_s": round(wall, 1),
        "steady_trades_per_s": steady and round(steady, 1),
        "fraction_of_ceiling": steady and round(steady / (SIM_RATE * CHUNK), 3),
        "refused_429": sim.stats().rest_rate_limited.get("coinbase", 0) - refused_before,
        "peak_rss_mib": round(peak / 2**20, 1),
        "summary": out.decode().strip().splitlines()[-1],
    }


def run_original(sim: Simulator, endpoint: str, bucket: str) -> dict:
    """Threads, each at a fixed 10 requests/s, no backoff: the original tool's design."""
    client = s3_client(endpoint)
    base = sim.rest_url("coinbase")
    counts = {"trades": 0, "refused": 0, "requests": 0}
    lock = threading.Lock()

    def walk(product: str) -> None:
        newest = orjson.loads(
            urllib.request.urlopen(f"{base}/products/{product}/trades?limit=1").read()
        )
        cursor = newest[0]["trade_id"] + 1
        while True:
            time.sleep(1 / 10)
            url = f"{base}/products/{product}/trades?limit={CHUNK}&after={cursor}"
            with lock:
                counts["requests"] += 1
            try:
                page = orjson.loads(urllib.request.urlopen(url).read())
            except urllib.error.HTTPError as exc:
                if exc.code != 429:
                    raise
                with lock:
                    counts["refused"] += 1
                continue
            if not page:
                return
            cursor = min(t["trade_id"] for t in page)
            body = b"\n".join(orjson.dumps(t) for t in page)
            client.put_object(Bucket=bucket, Key=f"orig/{product}_{cursor}.jsonl", Body=body)
            client.put_object(Bucket=bucket, Key=f"orig/state/{product}.json", Body=b"{}")
            with lock:
                counts["trades"] += len(page)

    started = time.monotonic()
    threads = [threading.Thread(target=walk, args=(p,)) for p in PRODUCTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {
        "trades": counts["trades"],
        "wall_s": round(wall, 1),
        "trades_per_s": round(counts["trades"] / wall, 1),
        "fraction_of_ceiling": round(counts["trades"] / wall / (SIM_RATE * CHUNK), 3),
        "requests": counts["requests"],
        "refused_429": counts["refused"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history-seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0, help="trades/s a product")
    parser.add_argument("--deep-factor", type=float, default=3.0, help="deeper run for memory")
    args = parser.parse_args()
    results = {}
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for label, depth in (("shallow", args.history_seconds),
                             ("deep", args.history_seconds * args.deep_factor)):  # fmt: skip
            config = SimConfig(symbols=BASES, rate_per_stream=args.rate, history_seconds=depth)
            async with Simulator(config) as sim:
                sim.pause()
                runs = [("ours, 10 req/s", 10.0)]
                if label == "shallow":
                    runs.append(("ours, default bucket", None))
                for name, rps in runs:
                    bucket = f"bench-{len(results)}"
                    s3_client(endpoint).create_bucket(Bucket=bucket)
                    await asyncio.sleep(2)  # let the simulator's bucket refill
                    results[f"{label}: {name}"] = await run_ours(sim, endpoint, bucket, work, rps)
                if label == "shallow":
                    bucket = f"bench-{len(results)}"
                    s3_client(endpoint).create_bucket(Bucket=bucket)
                    await asyncio.sleep(2)
                    results["shallow: original design"] = await asyncio.to_thread(
                        run_original, sim, endpoint, bucket
                    )
    load = os.getloadavg()
    print(orjson.dumps({"load_avg": load, "cpus": os.cpu_count(), "runs": results},
                       option=orjson.OPT_INDENT_2).decode())  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
