"""Kraken over real sockets: websocket v2 trade channel, REST Trades paging and AssetPairs."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from websockets.asyncio.client import connect

from schemahub.sim import SimConfig, Simulator
from tests.sim.conftest import recv_json, recv_until, send_json, truth_ids


async def test_status_ack_snapshot_updates_and_heartbeat(sim: Simulator) -> None:
    await asyncio.sleep(1.2)  # more than 50 trades so the snapshot is full
    async with connect(sim.ws_url("kraken")) as ws:
        status = await recv_json(ws)
        await send_json(
            ws,
            {
                "method": "subscribe",
                "params": {"channel": "trade", "symbol": ["BTC/USD", "XBT/EUR"]},
                "req_id": 9,
            },
        )
        ack = await recv_json(ws)
        snapshot = await recv_json(ws)
        rejected = await recv_json(ws)
        update = await recv_until(ws, lambda f: f.get("type") == "update")
        await recv_until(ws, lambda f: f == {"channel": "heartbeat"})
        await send_json(ws, {"method": "ping", "req_id": 4})
        pong = await recv_until(ws, lambda f: f.get("method") == "pong")
    assert status["channel"] == "status" and status["data"][0]["api_version"] == "v2"
    assert ack["success"] is True and ack["req_id"] == 9
    assert ack["result"] == {"channel": "trade", "snapshot": True, "symbol": "BTC/USD"}
    assert rejected["success"] is False and rejected["symbol"] == "XBT/EUR"
    assert "XBT/EUR" in rejected["error"]
    assert pong["req_id"] == 4
    assert snapshot["type"] == "snapshot" and len(snapshot["data"]) == 50
    ids = [t["trade_id"] for t in snapshot["data"] + update["data"]]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    truth = {r["trade_id"]: r for r in sim.ground_truth().to_pylist() if r["exchange"] == "kraken"}
    for trade in snapshot["data"]:
        row = truth[trade["trade_id"]]
        assert isinstance(trade["price"], float) and trade["price"] == row["price"]
        assert trade["qty"] == row["quantity"] and trade["side"] == row["side"].lower()
        assert trade["ord_type"] in ("market", "limit")
        assert len(trade["timestamp"]) == 27 and trade["timestamp"].endswith("Z")


async def _trades(http: aiohttp.ClientSession, **params: Any) -> dict[str, Any]:
    async with http.get("/0/public/Trades", params=params) as resp:
        assert resp.status == 200
        return await resp.json()


async def test_rest_trades_page_with_since_through_exactly_the_history() -> None:
    async with Simulator(
        SimConfig(rate_per_stream=400, kraken_rest_rate=1000, kraken_rest_burst=1000)
    ) as sim:
        await asyncio.sleep(1.0)
        sim.pause()
        expected = truth_ids(sim, "kraken", "ETH/USD")
        truth = {
            r["trade_id"]: r for r in sim.ground_truth().to_pylist() if r["symbol"] == "ETH/USD"
        }
        got: list[int] = []
        async with aiohttp.ClientSession(sim.rest_url("kraken")) as http:
            since = "0"
            while True:
                body = await _trades(http, pair="ETHUSD", since=since, count=33)
                rows = body["result"]["XETHZUSD"]
                if not rows:
                    break
                got.extend(r[6] for r in rows)
                for price, volume, when, side, _kind, _misc, trade_id in rows:
                    row = truth[trade_id]
                    assert float(price) == row["price"] and float(volume) == row["quantity"]
                    assert round(when * 1000) == row["trade_ts"].timestamp() * 1000
                    assert side == ("b" if row["side"] == "BUY" else "s")
                since = body["result"]["last"]
            latest = await _trades(http, pair="XXBTZUSD")
    assert got == expected
    assert latest["result"]["XXBTZUSD"][-1][6] == truth_ids(sim, "kraken", "BTC/USD")[-1]


async def test_asset_pairs_use_the_real_names(sim: Simulator) -> None:
    async with aiohttp.ClientSession(sim.rest_url("kraken")) as http:
        async with http.get("/0/public/AssetPairs") as resp:
            pairs = (await resp.json())["result"]
        async with http.get("/0/public/Trades", params={"pair": "NOPEUSD"}) as resp:
            unknown = await resp.json()
    assert pairs["XXBTZUSD"]["altname"] == "XBTUSD" and pairs["XXBTZUSD"]["wsname"] == "XBT/USD"
    assert pairs["XETHZUSD"]["altname"] == "ETHUSD" and pairs["XETHZUSD"]["wsname"] == "ETH/USD"
    assert unknown == {"error": ["EQuery:Unknown asset pair"]}


async def test_rest_rate_limit_answers_too_many_requests() -> None:
    async with (
        Simulator(SimConfig(kraken_rest_rate=0.5, kraken_rest_burst=2, rate_per_stream=1)) as sim,
        aiohttp.ClientSession(sim.rest_url("kraken")) as http,
    ):
        bodies = [await _trades(http, pair="XBTUSD") for _ in range(4)]
    assert bodies[0]["error"] == [] and bodies[-1] == {"error": ["EGeneral:Too many requests"]}
    assert sim.stats().rest_rate_limited["kraken"] == 2
