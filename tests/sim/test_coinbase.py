"""Coinbase over real sockets: Advanced Trade and Exchange feeds, Exchange REST paging."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from websockets.asyncio.client import connect

from schemahub.sim import SimConfig, Simulator
from tests.sim.conftest import recv_json, recv_until, send_json, truth_ids

ADVANCED_SUB = {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"]}


def _truth_by_id(sim: Simulator, symbol: str) -> dict[int, dict[str, Any]]:
    rows = sim.ground_truth().to_pylist()
    return {r["trade_id"]: r for r in rows if r["exchange"] == "coinbase" and r["symbol"] == symbol}


async def test_advanced_snapshot_then_updates_with_frame_sequence(sim: Simulator) -> None:
    await asyncio.sleep(0.5)
    async with connect(sim.ws_url("coinbase")) as ws:
        await send_json(ws, {**ADVANCED_SUB, "channel": "market_trades"})
        await send_json(ws, {**ADVANCED_SUB, "channel": "heartbeats"})
        frames = [await recv_json(ws) for _ in range(30)]
        heartbeat = await recv_until(ws, lambda f: f["channel"] == "heartbeats")
    seqs = [f["sequence_num"] for f in frames]
    assert seqs == list(range(len(seqs)))
    snapshots = [
        f
        for f in frames
        if f["channel"] == "market_trades" and f["events"][0]["type"] == "snapshot"
    ]
    assert [s["events"][0]["trades"][0]["product_id"] for s in snapshots] == ["BTC-USD", "ETH-USD"]
    subs = [f for f in frames if f["channel"] == "subscriptions"]
    assert subs[0]["events"][0]["subscriptions"] == {"market_trades": ["BTC-USD", "ETH-USD"]}
    assert subs[-1]["events"][0]["subscriptions"]["heartbeats"] == ["heartbeats"]
    assert heartbeat["events"][0]["heartbeat_counter"] > 0
    # Snapshot + updates of one product: contiguous ids, each frame newest first.
    ids: list[int] = []
    truth = _truth_by_id(sim, "BTC-USD")
    for frame in frames:
        if frame["channel"] != "market_trades":
            continue
        for event in frame["events"]:
            trades = [t for t in event["trades"] if t["product_id"] == "BTC-USD"]
            got = [int(t["trade_id"]) for t in trades]
            assert got == sorted(got, reverse=True)
            ids = sorted(got) + ids if event["type"] == "snapshot" else ids + sorted(got)
            for t in trades:
                row = truth[int(t["trade_id"])]
                assert t["side"] == ("SELL" if row["side"] == "BUY" else "BUY")  # maker side
                assert float(t["price"]) == row["price"] and float(t["size"]) == row["quantity"]
    assert len(ids) > 1 and ids == list(range(ids[0], ids[0] + len(ids)))


async def test_exchange_feed_matches_and_last_match(sim: Simulator) -> None:
    await asyncio.sleep(0.3)
    async with connect(sim.ws_url("coinbase")) as ws:
        await send_json(
            ws, {"type": "subscribe", "product_ids": ["ETH-USD"], "channels": ["matches"]}
        )
        subs = await recv_json(ws)
        last = await recv_json(ws)
        matches = [await recv_json(ws) for _ in range(5)]
    assert subs == {
        "type": "subscriptions",
        "channels": [{"name": "matches", "product_ids": ["ETH-USD"]}],
    }
    assert last["type"] == "last_match"
    ids = [last["trade_id"]] + [m["trade_id"] for m in matches]
    assert ids == list(range(ids[0], ids[0] + 6))
    assert all(m["type"] == "match" and m["side"] in ("buy", "sell") for m in matches)
    assert [m["sequence"] for m in matches] == sorted(m["sequence"] for m in matches)
    assert all(len(m["time"]) == 27 and m["time"].endswith("Z") for m in matches)


async def test_unknown_product_is_an_error_naming_it(sim: Simulator) -> None:
    async with connect(sim.ws_url("coinbase")) as ws:
        await send_json(
            ws, {"type": "subscribe", "product_ids": ["DOGE-EUR"], "channel": "market_trades"}
        )
        error = await recv_json(ws)
    assert error["type"] == "error" and "DOGE-EUR" in error["reason"]


async def _page_all(http: aiohttp.ClientSession, product: str, limit: int) -> list[int]:
    """Newest first with ``after`` cursors from the headers, to the oldest trade."""
    ids: list[int] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        async with http.get(f"/products/{product}/trades", params=params) as resp:
            assert resp.status == 200
            page = await resp.json()
            if not page:
                return ids
            assert resp.headers["CB-BEFORE"] == str(page[0]["trade_id"])
            params = {"limit": limit, "after": resp.headers["CB-AFTER"]}
        ids.extend(t["trade_id"] for t in page)


async def test_rest_pages_newest_first_through_exactly_the_history(sim: Simulator) -> None:
    await asyncio.sleep(1.0)
    sim.pause()
    expected = truth_ids(sim, "coinbase", "BTC-USD")
    async with aiohttp.ClientSession(sim.rest_url("coinbase")) as http:
        ids = await _page_all(http, "BTC-USD", 9)
        before = expected[10]
        async with http.get(
            "/products/BTC-USD/trades", params={"before": before, "limit": 3}
        ) as resp:
            newer = [t["trade_id"] for t in await resp.json()]
        async with http.get("/products") as resp:
            products = [p["id"] for p in await resp.json()]
        async with http.get("/products/NOPE-USD/trades") as resp:
            assert resp.status == 404 and await resp.json() == {"message": "NotFound"}
    assert ids == sorted(expected, reverse=True)
    assert newer == [before + 3, before + 2, before + 1]
    assert products == ["BTC-USD", "ETH-USD"]


async def test_history_limit_serves_only_the_newest_trades() -> None:
    async with Simulator(SimConfig(rate_per_stream=100, history_limit=30)) as sim:
        await asyncio.sleep(0.8)
        sim.pause()
        expected = truth_ids(sim, "coinbase", "ETH-USD")
        assert len(expected) > 30
        async with aiohttp.ClientSession(sim.rest_url("coinbase")) as http:
            ids = await _page_all(http, "ETH-USD", 7)
    assert ids == sorted(expected[-30:], reverse=True)


async def test_rest_rate_limit_answers_429() -> None:
    async with Simulator(SimConfig(coinbase_rest_rate=2.0, rate_per_stream=1)) as sim:
        async with aiohttp.ClientSession(sim.rest_url("coinbase")) as http:
            statuses = []
            for _ in range(6):
                async with http.get("/products") as resp:
                    statuses.append(resp.status)
                    body = await resp.json()
        assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429
        assert body == {"message": "Public rate limit exceeded"}
        assert sim.stats().rest_rate_limited["coinbase"] == statuses.count(429)
