"""Binance over real sockets: streams, control messages, limits, REST history and weights."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from schemahub.sim import SimConfig, Simulator
from tests.sim.conftest import recv_json, recv_until, send_json, truth_ids


def _truth_ids(sim: Simulator, symbol: str) -> list[int]:
    return truth_ids(sim, "binance", symbol)


async def test_combined_stream_frames_are_wrapped_and_sequential(sim: Simulator) -> None:
    url = f"{sim.ws_url('binance')}/stream?streams=btcusdt@trade/ethusdt@trade"
    async with connect(url) as ws:
        frames = [await recv_json(ws) for _ in range(40)]
    by_symbol: dict[str, list[int]] = {}
    for frame in frames:
        data = frame["data"]
        assert frame["stream"] == f"{data['s'].lower()}@trade"
        assert set(data) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"}
        assert data["e"] == "trade" and data["E"] >= data["T"]
        assert len(data["p"].split(".")[1]) == 8
        by_symbol.setdefault(data["s"], []).append(data["t"])
    for symbol, ids in by_symbol.items():
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        assert set(ids) <= set(_truth_ids(sim, symbol))


async def test_subscribe_on_raw_ws_gets_unwrapped_frames_and_list(sim: Simulator) -> None:
    async with connect(f"{sim.ws_url('binance')}/ws") as ws:
        await send_json(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        assert await recv_json(ws) == {"result": None, "id": 1}
        trade = await recv_until(ws, lambda f: f.get("e") == "trade")
        assert trade["s"] == "BTCUSDT"
        await send_json(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 2})
        listed = await recv_until(ws, lambda f: f.get("id") == 2)
        assert listed["result"] == ["btcusdt@trade"]
        await send_json(ws, {"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 3})
        assert await recv_until(ws, lambda f: f.get("id") == 3) == {"result": None, "id": 3}


async def test_invalid_requests_get_binance_errors(sim: Simulator) -> None:
    async with connect(f"{sim.ws_url('binance')}/ws") as ws:
        await ws.send("{not json")
        assert (await recv_json(ws))["error"]["code"] == 3
        await send_json(ws, {"method": "SUBSCRIBE", "params": [42], "id": 5})
        reply = await recv_json(ws)
        assert reply["id"] == 5 and reply["error"]["code"] == 2


async def test_more_than_1024_streams_is_refused(sim: Simulator) -> None:
    names = [f"sym{i}usdt@trade" for i in range(1025)]
    async with connect(f"{sim.ws_url('binance')}/ws") as ws:
        await send_json(ws, {"method": "SUBSCRIBE", "params": names[:1024], "id": 1})
        assert await recv_json(ws) == {"result": None, "id": 1}
        await send_json(ws, {"method": "SUBSCRIBE", "params": names[1024:], "id": 2})
        reply = await recv_json(ws)
        assert reply["id"] == 2 and "too many streams" in reply["error"]["msg"]
    assert sim.stats().ws_limit_violations["binance:streams"] == 1


async def test_more_than_5_messages_a_second_closes_the_connection(sim: Simulator) -> None:
    async with connect(f"{sim.ws_url('binance')}/ws") as ws:
        for i in range(7):
            await send_json(ws, {"method": "LIST_SUBSCRIPTIONS", "id": i})
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):
                await recv_json(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert sim.stats().ws_limit_violations["binance:messages_per_second"] == 1


async def test_server_sends_protocol_pings() -> None:
    config = SimConfig(ping_interval_s=0.2, rate_per_stream=0)
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{sim.ws_url('binance')}/ws", autoping=False)
        msg = await ws.receive(timeout=3)
        assert msg.type == aiohttp.WSMsgType.PING
        await ws.close()


async def test_historical_trades_page_through_exactly_the_history(sim: Simulator) -> None:
    await asyncio.sleep(1.0)
    sim.pause()
    expected = _truth_ids(sim, "BTCUSDT")
    got: list[int] = []
    async with aiohttp.ClientSession(sim.rest_url("binance")) as http:
        from_id = expected[0]
        while True:
            params = {"symbol": "BTCUSDT", "fromId": from_id, "limit": 7}
            async with http.get("/api/v3/historicalTrades", params=params) as resp:
                assert resp.status == 200
                assert int(resp.headers["X-MBX-USED-WEIGHT-1M"]) >= 25
                page = await resp.json()
            if not page:
                break
            got.extend(t["id"] for t in page)
            from_id = page[-1]["id"] + 1
        async with http.get("/api/v3/trades", params={"symbol": "BTCUSDT", "limit": 5}) as resp:
            recent = [t["id"] for t in await resp.json()]
    assert got == expected
    assert recent == expected[-5:]


async def test_rest_errors_and_weight_limit() -> None:
    async with Simulator(SimConfig(binance_weight_limit=100, rate_per_stream=5)) as sim:
        async with aiohttp.ClientSession(sim.rest_url("binance")) as http:
            async with http.get("/api/v3/trades", params={"symbol": "NOPE"}) as resp:
                assert resp.status == 400
                assert await resp.json() == {"code": -1121, "msg": "Invalid symbol."}
            async with http.get("/api/v3/exchangeInfo") as resp:
                info = await resp.json()
            assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
            statuses = []
            for _ in range(4):
                async with http.get("/api/v3/trades", params={"symbol": "BTCUSDT"}) as resp:
                    statuses.append(resp.status)
                    retry_after = resp.headers.get("Retry-After")
            assert statuses[:2] == [200, 200] and statuses[-1] == 429
            assert retry_after is not None and int(retry_after) >= 1
        assert sim.stats().rest_rate_limited["binance"] >= 1
