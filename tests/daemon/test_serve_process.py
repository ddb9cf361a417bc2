"""`schemahub serve` as a process: SIGTERM stops it cleanly with everything committed."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request

import pytest

from schemahub.capture import CaptureLine, read_capture
from schemahub.native import native_enabled
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import daemon_config, spawn_serve, unified

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_sigterm_flushes_commits_and_exits_zero(tmp_path):
    async with Simulator(SimConfig(seed=31, rate_per_stream=40)) as sim:
        # A long flush interval: whatever is buffered at SIGTERM is only committed by the stop.
        config = daemon_config(sim, tmp_path / "warehouse", flush={"interval_seconds": 3600})
        log_file = tmp_path / "daemon.log"
        with log_file.open("wb") as log:
            captures = str(tmp_path / "captures")
            process = await spawn_serve(config, tmp_path, log, "--capture", captures)
            port = None
            for _ in range(300):  # wait (bounded) for the "serving" line with the HTTP port
                await asyncio.sleep(0.1)
                for line in log_file.read_text().splitlines():
                    if '"msg":"serving"' in line:
                        port = json.loads(line)["http_port"]
                if port:
                    break
            assert port, log_file.read_text()[-2000:]
            base = f"http://127.0.0.1:{port}"
            status, body = await asyncio.to_thread(_get, f"{base}/healthz")
            assert status == 200 and "alive" in body
            for _ in range(100):
                status, body = await asyncio.to_thread(_get, f"{base}/readyz")
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            assert status == 200, body
            await asyncio.sleep(2)
            status, metrics = await asyncio.to_thread(_get, f"{base}/metrics")
            assert 'schemahub_websocket_total{venue="binance",counter="frames"}' in metrics
            assert "schemahub_frames_slow_path_total" in metrics

            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 60)  # a hang guard, not a timing
        lines = [json.loads(x) for x in log_file.read_text().splitlines() if x.startswith("{")]
    assert code == 0
    serving = [x for x in lines if x["msg"] == "serving"]
    # the daemon runs the C decoder CI built, or the fallback when the run switched it off
    assert serving[0]["frame_decoder"] == ("native" if native_enabled() else "msgspec")
    stopped = [x for x in lines if x["msg"] == "stopped"]
    assert stopped and stopped[0]["uncommitted_rows"] == 0
    flushes = [x for x in lines if x["msg"] == "flush"]
    assert len(flushes) == 1  # only the stop flushed: the buffered rows were not lost
    table = unified(config.lake)
    assert table.num_rows == flushes[0]["rows"]["trades_unified"] > 0
    captures = sorted((tmp_path / "captures").glob("*.jsonl"))
    assert {c.name.split("-")[0] for c in captures} == {"binance", "coinbase", "kraken"}
    recorded = [line for c in captures for line in read_capture(c)]
    assert all(isinstance(line, CaptureLine) for line in recorded)
    assert sum(line.dir == "recv" for line in recorded) > table.num_rows / 10
