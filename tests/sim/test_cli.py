"""``schemahub sim`` as a process: logs its URLs, serves, writes the ground truth on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pyarrow.parquet as pq
from websockets.asyncio.client import connect

from schemahub.config import load_config
from schemahub.sim import SimConfig, Simulator, sim_venue_overrides
from tests.sim.conftest import recv_json


async def _ready_urls(proc: asyncio.subprocess.Process) -> dict[str, str]:
    urls: dict[str, str] = {}
    assert proc.stderr is not None
    while len(urls) < 3:
        line = await asyncio.wait_for(proc.stderr.readline(), 20)
        assert line, "the simulator exited before logging its URLs"
        entry = json.loads(line)
        if entry.get("msg") == "simulated venue ready":
            urls[entry["venue"]] = entry["ws_url"]
    return urls


async def test_cli_serves_and_writes_truth_on_sigterm(tmp_path: Path) -> None:
    truth = tmp_path / "truth.parquet"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemahub.cli", "sim", "--port-base", "0", "--rate", "50",
        "--symbols", "BTC,SOL", "--seed", "4", "--truth-out", str(truth),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        urls = await _ready_urls(proc)
        async with connect(f"{urls['binance']}/ws/solusdt@trade") as ws:
            trade = await recv_json(ws, timeout=10)
        await asyncio.sleep(0.5)  # every stream trades 50 times a second
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    table = pq.read_table(truth)
    rows = [r for r in table.to_pylist() if r["symbol"] == "SOLUSDT"]
    assert trade["t"] in {r["trade_id"] for r in rows}
    assert set(table["symbol"].to_pylist()) == {
        "BTCUSDT", "SOLUSDT", "BTC-USD", "SOL-USD", "BTC/USD", "SOL/USD"
    }  # fmt: skip


async def test_overrides_point_a_config_at_the_simulator(tmp_path: Path) -> None:
    async with Simulator(SimConfig(rate_per_stream=0)) as sim:
        overrides = sim_venue_overrides(sim)
        path = tmp_path / "config.yaml"
        path.write_text(json.dumps({"venues": overrides}))  # JSON is YAML
        config = load_config(path, environ={})
    assert config.venues.kraken.ws_url == sim.ws_url("kraken")
    assert config.venues.kraken.ws_url.endswith("/v2")
    assert config.venues.binance.rest_url == sim.rest_url("binance")
    assert config.venues.coinbase.symbols == ["BTC-USD", "ETH-USD"]
