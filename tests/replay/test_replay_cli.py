"""`schemahub replay` on a lake the daemon filled from the simulator, run as the README says."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest
import yaml

from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import daemon_config, running, settle, unified

pytestmark = pytest.mark.slow


async def _run(folder, *args: str) -> tuple[str, str, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemahub.cli",
        *args,
        cwd=folder,
        env=os.environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)  # a hang guard
    return out.decode(), err.decode(), process.returncode


def _widest_second(table) -> float:
    """The widest cross-venue spread (bps) among each second's last BTC prices."""
    last: dict[int, dict[str, float]] = {}
    rows = [r for r in table.to_pylist() if r["symbol"] in ("BTCUSDT", "BTC-USD", "BTC/USD")]
    for row in sorted(rows, key=lambda r: r["trade_ts"]):
        last.setdefault(int(row["trade_ts"].timestamp()), {})[row["exchange"]] = row["price"]
    spreads = [
        (max(p.values()) - min(p.values())) / ((max(p.values()) + min(p.values())) / 2) * 1e4
        for p in last.values()
        if len(p) > 1
    ]
    return max(spreads)


def _middle(truth) -> str:
    times = sorted(truth.column("trade_ts").to_pylist())
    return times[len(times) // 2].strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _served_replays(base: str, truth) -> dict:
    """``/replay`` on the running daemon: JSON and the page, and bad queries refused."""
    at = _middle(truth)
    async with aiohttp.ClientSession() as http:
        query = {"pair": "BTC", "at": at, "window": "4s"}
        async with http.get(f"{base}/replay", params={**query, "format": "json"}) as response:
            assert response.status == 200, await response.text()
            report = await response.json()
        async with http.get(f"{base}/replay", params=query) as response:
            assert response.status == 200 and '<input id="slider"' in await response.text()
        bad = [
            ({**query, "junk": "1"}, "unknown parameter 'junk'"),
            ({**query, "pair": "DOGE"}, "unknown pair"),
            ({**query, "at": "soon"}, "ISO 8601"),
            ({**query, "window": "1h"}, "at most 600 s"),
            ({"pair": "BTC"}, "missing parameter 'at'"),
        ]
        for params, words in bad:
            async with http.get(f"{base}/replay", params=params) as response:
                assert response.status == 400, params
                assert words in (await response.json())["error"], params
    return report


async def test_replay_reports_the_window_from_the_lake_and_refuses_bad_input(tmp_path):
    async with Simulator(SimConfig(seed=71, rate_per_stream=25)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        async with running(config) as daemon:
            await asyncio.sleep(8)
            sim.pause()
            await settle(daemon)
            truth = sim.ground_truth()
            served = await _served_replays(f"http://127.0.0.1:{daemon.http_port}", truth)
    table = unified(config.lake)
    config_file = tmp_path / "schemahub.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    at_text = _middle(truth)
    at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
    base = ["--config", str(config_file), "replay", "--pair", "BTC", "--at", at_text]
    out, err, code = await _run(tmp_path, *base, "--window", "4s", "--format", "json")
    assert code == 0, err
    report = orjson.loads(out)
    assert served == report  # /replay answers what the command prints
    start, end = at - timedelta(seconds=2), at + timedelta(seconds=2)
    expected = {}
    for row in table.to_pylist():
        if row["symbol"] in ("BTCUSDT", "BTC-USD", "BTC/USD") and start <= row["trade_ts"] < end:
            expected[row["exchange"].upper()] = expected.get(row["exchange"].upper(), 0) + 1
    assert report["trades"] == expected and sum(expected.values()) > 150
    assert report["pair"] == "BTC" and set(report["window"]) == {"start", "end"}
    assert len(report["timeline"]) == sum(expected.values())
    pairs = {(e["leader"], e["follower"]) for e in report["lead_lag"]}
    assert len(pairs) == 3
    for entry in report["lead_lag"]:
        assert entry["lag_ms"] is None or 0 <= entry["confidence"] <= 1
    # text, to a file, and a chart
    out_file, png = tmp_path / "replay.txt", tmp_path / "replay.png"
    out, err, code = await _run(
        tmp_path, *base, "--window", "4s", "--out", str(out_file), "--png", str(png)
    )
    assert code == 0 and out == "", err
    assert out_file.read_text().startswith("BTC from ")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    # bad input: one line, exit 2
    cases = {
        ("--window", "4s", "--pair", "DOGE"): "unknown pair",
        ("--window", "forever"): "expected a duration",
        ("--window", "1h"): "at most 600 s",
        ("--window", "4s", "--as-of", "2001-01-01T00:00:00Z"): "has no snapshot at or before",
    }
    for extra, words in cases.items():
        out, err, code = await _run(tmp_path, *base, *extra)
        assert code == 2 and words in err and err.count("\n") == 1, (extra, err)
    # finding the moments to replay: the widest spread is that of the lake's rows
    since = min(truth.column("trade_ts").to_pylist()).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    spikes = ["--config", str(config_file), "replay", "--pair", "BTC", "--find-spikes"]
    out, err, code = await _run(
        tmp_path, *spikes, "--since", since, "--until", until, "--format", "json", "--top", "3"
    )
    assert code == 0, err
    found = orjson.loads(out)
    assert len(found["spread"]) == 3 and len(found["return"]) == 3
    assert found["spread"][0]["spread_bps"] == pytest.approx(_widest_second(table), abs=1e-3)
    out, err, code = await _run(tmp_path, *spikes, "--since", since)
    assert code == 2 and "needs --since and --until" in err
    # the README's commands, exactly as written: this lake holds no 2024 trades, so each says so
    readme = {
        "schemahub replay --pair BTC --at 2024-02-08T15:12:04Z --window 12s": (
            "no BTC trades between 2024-02-08T15:11:58.000000Z and 2024-02-08T15:12:10.000000Z"
        ),
        "schemahub replay --pair BTC --find-spikes --since 2024-02-08T15:00:00Z "
        "--until 2024-02-08T16:00:00Z": "no BTC trades between 2024-02-08T15:00:00.000000Z",
    }
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "schemahub.yaml").write_text(config_file.read_text())
    for command, words in readme.items():
        out, err, code = await _run(tmp_path, *command.split()[1:])
        assert code == 2 and words in err, (command, err)
    empty_at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bad = ["--config", str(config_file), "replay", "--pair", "BTC"]
    for at_value, words in ((empty_at, "no BTC trades between"), ("yesterday", "ISO 8601")):
        out, err, code = await _run(tmp_path, *bad, "--at", at_value, "--window", "4s")
        assert code == 2 and words in err, err
