"""The feed served by the daemon against the simulator: its numbers are the truth's."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import pytest

from schemahub.sim import SimConfig, Simulator
from tests.discrepancy.helpers import (
    collect,
    feed_daemon,
    iso,
    parse_ts,
    scrape,
    stop_collecting,
    stuck_client,
    truth_index,
)

VENUES = {"BINANCE", "COINBASE", "KRAKEN"}
# How long a trade may take from the simulator through the daemon into an update (a tick of
# the tape, a burst, the coalescing interval), with room for a busy machine. Used only to say
# which truth trades an update should already know about.
DELIVERY_ALLOWANCE_S = 2.0


def _check_against_truth(updates: list[dict], truth: dict) -> int:
    """Every venue entry's last trade is in the truth with its price, size, side and time,
    ids never go back, and no truth trade older than the allowance was missed. Returns how
    many entries were checked."""
    checked = 0
    newest: dict[tuple[str, str], int] = {}
    by_stream: dict[tuple[str, str], list[dict]] = {}
    for row in truth.values():
        by_stream.setdefault((row["exchange"].upper(), row["symbol"]), []).append(row)
    for update in updates:
        assert set(update["venues"]) == VENUES
        now = parse_ts(update["ts"])
        for venue, entry in update["venues"].items():
            if entry["trade_id"] is None:
                continue
            row = truth[(venue, entry["symbol"], entry["trade_id"])]
            assert entry["price"] == row["price"], (venue, entry)
            assert entry["size"] == row["quantity"] and entry["side"] == row["side"]
            assert entry["trade_ts"] == iso(row["trade_ts"]), (venue, entry)
            age = now * 1000 - row["trade_ts"].timestamp() * 1000
            assert abs(entry["age_ms"] - age) <= 1, (entry, age)
            key = (venue, entry["symbol"])
            trade_id = int(entry["trade_id"])
            assert trade_id >= newest.get(key, 0), "a feed's last trade went back"
            newest[key] = trade_id
            missed = [
                r
                for r in by_stream[key]
                if r["trade_id"] > trade_id
                and r["trade_ts"].timestamp() < now - DELIVERY_ALLOWANCE_S
            ]
            assert not missed, (venue, entry, missed[:1])
            checked += 1
    return checked


async def test_ws_and_sse_updates_match_the_simulators_truth(tmp_path):
    async with (
        Simulator(SimConfig(seed=41, rate_per_stream=15)) as sim,
        feed_daemon(sim, tmp_path, coalesce_ms=100) as (base, daemon),
    ):
        # the venues' bursts close on the feed's 100 ms ticks, just before it publishes
        assert {s.options.burst_seconds for s in daemon.sessions.values()} == {0.1}
        ws_url = base.replace("http", "ws") + "/discrepancy/ws"
        ws_updates: list[dict] = []
        sse_updates: list[dict] = []
        readers = [
            asyncio.create_task(collect(ws_url, ws_updates)),
            asyncio.create_task(collect(f"{base}/discrepancy/sse?pair=ETH", sse_updates)),
        ]
        await asyncio.sleep(4)
        sim.pause()
        last = {}
        for _ in range(100):  # until the feed shows each stream's final trade (bounded)
            await asyncio.sleep(0.2)
            last = {
                (v, e["symbol"]): e["trade_id"]
                for u in ws_updates[-6:]
                for v, e in u["venues"].items()
            }
            final = {
                (r["exchange"].upper(), r["symbol"]): str(r["trade_id"])
                for r in sim.ground_truth().to_pylist()
            }
            if last == final:
                break
        await stop_collecting(*readers)
        truth = truth_index(sim.ground_truth())
    assert last == final  # after the pause nothing the venues sent is missing from the feed
    assert _check_against_truth(ws_updates, truth) > 100
    assert _check_against_truth(sse_updates, truth) > 30
    assert {u["pair"] for u in ws_updates} == {"BTC", "ETH"}
    assert {u["pair"] for u in sse_updates} == {"ETH"}
    assert set(sse_updates[-1]) == set(ws_updates[-1])
    # the simulator quotes on every venue, so the spread is measured on mid-prices
    assert ws_updates[-1]["basis"] == "mid"
    for entry in ws_updates[-1]["venues"].values():
        assert entry["bid"] < entry["ask"] and entry["bid"] <= entry["price"] <= entry["ask"]
        assert entry["used"] == "mid"


async def test_unknown_pairs_are_refused_with_a_json_error(tmp_path):
    async with (
        Simulator(SimConfig(seed=42, rate_per_stream=5)) as sim,
        feed_daemon(sim, tmp_path) as (base, _daemon),
        aiohttp.ClientSession() as http,
    ):
        for path in ("/discrepancy", "/discrepancy/ws", "/discrepancy/sse"):
            async with http.get(f"{base}{path}?pair=BTC,DOGE") as response:
                assert response.status == 400, path
                body = await response.json()
            assert body == {"error": "unknown pair 'DOGE'; expected one of: BTC, ETH"}
        async with http.get(f"{base}/discrepancy?pair=BTC") as response:
            assert response.status == 200
            assert list((await response.json())["groups"]) == ["BTC"]
        async with http.get(f"{base}/discrepancy/sse?pair=ETH") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
        async with http.get(f"{base}/web/secrets.txt") as response:
            assert response.status == 404


@pytest.mark.slow
async def test_stuck_clients_are_dropped_while_ingestion_and_readers_go_on(tmp_path):
    async with (
        Simulator(SimConfig(seed=43, rate_per_stream=30)) as sim,
        feed_daemon(sim, tmp_path, coalesce_ms=10, client_queue=4) as (base, daemon),
    ):
        port = int(base.rsplit(":", 1)[1])
        reading: list[dict] = []
        reader = asyncio.create_task(
            collect(base.replace("http", "ws") + "/discrepancy/ws", reading)
        )
        stuck = [
            await stuck_client(port, "/discrepancy/ws?pair=BTC"),
            await stuck_client(port, "/discrepancy/sse"),
        ]
        feed = daemon.feed
        for _ in range(600):  # until both stuck clients are dropped (bounded wait)
            await asyncio.sleep(0.1)
            if feed.stats.clients_dropped >= 2:
                break
        admitted_at_drop = daemon.sequencer.stats.admitted
        seen_at_drop = len(reading)
        connected = await scrape(base, "schemahub_discrepancy_clients")
        dropped = await scrape(base, "schemahub_discrepancy_clients_dropped_total")
        await asyncio.sleep(1.5)
        await stop_collecting(reader)
        await asyncio.sleep(0.5)  # the daemon sees the reader leave
        admitted_after = daemon.sequencer.stats.admitted
        left = await scrape(base, "schemahub_discrepancy_clients")
        for sock in stuck:
            sock.close()
    assert feed.stats.clients_dropped == 2, feed.stats
    assert admitted_after > admitted_at_drop  # ingestion went on
    assert len(reading) > seen_at_drop  # and so did the client that reads
    assert len(feed.clients) == 0  # the reader left, the stuck ones were cut
    # the same, as metrics: the reader still connected at the drop, then gone
    assert connected == {'transport="websocket"': 1, 'transport="sse"': 0}
    assert sum(dropped.values()) == 2
    assert set(dropped) == {'reason="not_reading"', 'reason="queue_full"'}
    assert left == {'transport="websocket"': 0, 'transport="sse"': 0}


async def test_cli_prints_the_table_once_and_names_a_bad_pair(tmp_path):
    async with (
        Simulator(SimConfig(seed=44, rate_per_stream=10)) as sim,
        feed_daemon(sim, tmp_path) as (base, _daemon),
    ):
        await asyncio.sleep(1.5)
        port = base.rsplit(":", 1)[1]
        env = {"SCHEMAHUB_HTTP__PORT": port, "PATH": "/usr/bin:/bin"}
        out, err, code = await _run(tmp_path, env, "schemahub discrepancy --once")
        assert code == 0, err
        assert "BTC in USD" in out and "ETH in USD" in out
        for word in ("BINANCE", "COINBASE", "KRAKEN", "BTCUSDT (USDT)", "last trade", "live"):
            assert word in out
        out, err, code = await _run(tmp_path, env, "schemahub discrepancy --once --pair NOPE")
        assert code == 2 and out == ""
        assert err.strip().endswith("HTTP 400: unknown pair 'NOPE'; expected one of: BTC, ETH")
        command = "schemahub discrepancy --follow --pair BTC"
        out, err, code = await _run(tmp_path, env, command, until="BTC in USD")
        assert out.count("BTC in USD") >= 3 and "ETH" not in out, err
        assert code == 130 and "interrupted" in err  # stopped with Ctrl-C


async def _run(folder, env, command: str, until: str | None = None) -> tuple[str, str, int]:
    """``command`` (as the README writes it) run with our interpreter; a following command
    is interrupted (SIGINT, as Ctrl-C) once ``until`` has been printed three times."""
    words = command.split()
    assert words[0] == "schemahub"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemahub.cli",
        *words[1:],
        cwd=folder,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    seen = b""
    if until is not None:
        while seen.count(until.encode()) < 3:
            line = await asyncio.wait_for(process.stdout.readline(), 60)  # a hang guard
            assert line, "the command ended early"
            seen += line
        process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 60)  # a hang guard
    return (seen + out).decode(), err.decode(), process.returncode
