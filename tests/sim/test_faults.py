"""Each injected fault does what it says, and the simulator's stats record it."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from schemahub.errors import UsageError
from schemahub.sim import FaultConfig, SimConfig, Simulator, faults_from_names
from tests.sim.conftest import recv_json, send_json, truth_ids


def _sim(rate: float = 100.0, **faults: Any) -> Simulator:
    return Simulator(SimConfig(rate_per_stream=rate, seed=5, faults=FaultConfig(**faults)))


async def _frames(ws: ClientConnection, seconds: float) -> list[str | bytes]:
    """Every frame received for ``seconds``."""
    out: list[str | bytes] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            out.append(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
    return out


def _binance_ids(frames: list[str | bytes]) -> list[int]:
    ids = []
    for frame in frames:
        try:
            data = orjson.loads(frame)
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and "t" in data["data"]:
            ids.append(data["data"]["t"])
    return ids


async def test_dropped_runs_are_missing_from_the_socket_only_and_all_reported() -> None:
    async with _sim(drop_run_probability=0.05, drop_run_length=(2, 6)) as sim:
        async with connect(f"{sim.ws_url('binance')}/stream?streams=btcusdt@trade") as ws:
            frames = await _frames(ws, 1.5)
            sim.pause()
            frames += await _frames(ws, 0.3)
        got = _binance_ids(frames)
        truth = [i for i in truth_ids(sim, "binance", "BTCUSDT") if i >= got[0]]
        dropped = set(sim.stats().dropped_ids("binance", "BTCUSDT"))
        assert dropped, "with p=0.05 over ~150 trades some run must have been dropped"
        assert sorted(set(truth) - set(got)) == sorted(dropped & set(truth))
        assert not dropped & set(got)
        # REST history still has every dropped trade.
        async with aiohttp.ClientSession(sim.rest_url("binance")) as http:
            params = {"symbol": "BTCUSDT", "fromId": min(dropped), "limit": 1000}
            async with http.get("/api/v3/historicalTrades", params=params) as resp:
                served = {t["id"] for t in await resp.json()}
        assert dropped <= served


async def test_dropped_runs_leave_a_coinbase_sequence_gap() -> None:
    async with _sim(drop_run_probability=0.1) as sim:
        async with connect(sim.ws_url("coinbase")) as ws:
            await send_json(
                ws, {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "market_trades"}
            )
            frames = [orjson.loads(f) for f in await _frames(ws, 1.5)]
        seqs = [f["sequence_num"] for f in frames]
        jumps = sum(b - a - 1 for a, b in itertools.pairwise(seqs))
        assert sim.stats().dropped_runs["coinbase:BTC-USD"]
        assert jumps >= 1


@pytest.mark.parametrize("abrupt", [True, False])
async def test_disconnects_abrupt_or_with_error_code(abrupt: bool) -> None:
    share = 1.0 if abrupt else 0.0
    async with _sim(rate=5, disconnect_probability=1.0, disconnect_abrupt_share=share) as sim:
        async with connect(f"{sim.ws_url('kraken')}") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await _frames(ws, 3.0)
                await ws.recv()
        if abrupt:
            assert closed.value.rcvd is None  # no close frame
            assert sim.stats().disconnects["kraken:abrupt"] == 1
        else:
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
            assert sim.stats().disconnects["kraken:close_1011"] == 1


async def test_duplicates_replayed_after_subscribe() -> None:
    async with _sim(duplicate_replay_probability=1.0, duplicate_replay_count=5) as sim:
        await asyncio.sleep(0.5)
        async with connect(f"{sim.ws_url('binance')}/stream?streams=ethusdt@trade") as ws:
            got = _binance_ids(await _frames(ws, 0.5))
        truth = truth_ids(sim, "binance", "ETHUSDT")
        replayed = got[:5]
        assert replayed == list(range(replayed[0], replayed[0] + 5))
        assert got[5:] and got[5] == replayed[-1] + 1  # live trades resume right after
        assert set(got) <= set(truth)
        assert sim.stats().duplicates_replayed["binance"] == 5


async def test_malformed_and_unknown_frames_are_injected_before_real_ones() -> None:
    async with _sim(malformed_probability=1.0, unknown_type_probability=1.0) as sim:
        async with connect(sim.ws_url("kraken")) as ws:
            await send_json(
                ws, {"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"]}}
            )
            frames = await _frames(ws, 1.0)
            sim.pause()
            frames += await _frames(ws, 0.3)  # everything already queued
        stats = sim.stats()
    binary = [f for f in frames if isinstance(f, bytes)]
    not_json = [f for f in frames if isinstance(f, str) and not _is_json(f)]
    unknown = [f for f in frames if isinstance(f, str) and '"channel":"instrument"' in f]
    updates = [
        f
        for f in frames
        if isinstance(f, str) and f.startswith('{"channel":"trade","type":"update"') and _is_json(f)
    ]
    assert len(updates) >= 5
    assert len(unknown) == stats.unknown_sent["kraken"] == len(updates)
    assert len(binary) + len(not_json) == sum(stats.malformed_sent.values()) == len(updates)


def _is_json(frame: str | bytes) -> bool:
    try:
        orjson.loads(frame)
    except orjson.JSONDecodeError:
        return False
    return True


@pytest.mark.parametrize(("share", "header"), [(1.0, True), (0.0, False)])
async def test_injected_429_with_and_without_retry_after(share: float, header: bool) -> None:
    async with _sim(rate=1, rest_429_probability=1.0, rest_429_retry_after_share=share) as sim:
        async with aiohttp.ClientSession() as http:
            for venue, path in [
                ("binance", "/api/v3/exchangeInfo"),
                ("coinbase", "/products"),
                ("kraken", "/0/public/Time"),
            ]:
                async with http.get(sim.rest_url(venue) + path) as resp:
                    assert resp.status == 429
                    assert ("Retry-After" in resp.headers) is header
        assert sim.stats().rest_429_injected == {"binance": 1, "coinbase": 1, "kraken": 1}
        assert sim.stats().rest_rate_limited == {}


async def test_injected_server_errors_are_html() -> None:
    async with (
        _sim(rate=1, rest_error_probability=1.0) as sim,
        aiohttp.ClientSession() as http,
        http.get(sim.rest_url("coinbase") + "/products") as resp,
    ):
        assert resp.status == 500 and resp.content_type == "text/html"


async def test_silent_accept_never_speaks() -> None:
    async with _sim(silent_accept_probability=1.0) as sim:
        async with connect(sim.ws_url("kraken")) as ws:
            await send_json(
                ws, {"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"]}}
            )
            assert await _frames(ws, 1.5) == []
        assert sim.stats().silent_connections["kraken:accept"] == 1


async def test_connection_goes_silent_mid_stream() -> None:
    async with _sim() as sim:
        async with connect(f"{sim.ws_url('binance')}/ws/btcusdt@trade") as ws:
            first = await recv_json(ws)
            sim.set_faults(FaultConfig(go_silent_probability=1.0))
            await asyncio.sleep(1.3)  # the once-a-second fault check has run
            await _frames(ws, 0.2)  # what was queued before it
            assert await _frames(ws, 1.0) == []
        assert first["e"] == "trade"
        assert sim.stats().silent_connections["binance:midstream"] == 1


async def test_faults_can_be_switched_at_run_time_and_connections_age_out() -> None:
    config = SimConfig(rate_per_stream=20, max_connection_age_s=1.0)
    async with Simulator(config) as sim:
        sim.set_faults(FaultConfig(rest_429_probability=1.0))
        async with aiohttp.ClientSession(sim.rest_url("kraken")) as http:
            async with http.get("/0/public/Time") as resp:
                assert resp.status == 429
            sim.set_faults(FaultConfig())
            async with http.get("/0/public/Time") as resp:
                assert resp.status == 200
        async with connect(f"{sim.ws_url('binance')}/ws/btcusdt@trade") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await _frames(ws, 3.0)
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        assert sim.stats().disconnects["binance:max_age"] == 1


def test_fault_names_and_validation() -> None:
    assert faults_from_names(["dropped-runs"]).drop_run_probability > 0
    every = faults_from_names(["all"])
    assert every.silent_accept_probability > 0 and every.rest_429_probability > 0
    with pytest.raises(UsageError, match="unknown fault"):
        faults_from_names(["bogus"])
    with pytest.raises(UsageError, match=r"\[0, 1\]"):
        FaultConfig(malformed_probability=2.0)


async def test_rest_down_answers_503_for_its_venues_until_switched_off() -> None:
    async with _sim(rate=1, rest_down_seconds=3600.0, rest_down_venues=("binance",)) as sim:
        async with aiohttp.ClientSession() as http:
            async with http.get(sim.rest_url("binance") + "/api/v3/exchangeInfo") as resp:
                assert resp.status == 503
            async with http.get(sim.rest_url("coinbase") + "/products") as resp:
                assert resp.status == 200
            sim.set_faults(FaultConfig())
            async with http.get(sim.rest_url("binance") + "/api/v3/exchangeInfo") as resp:
                assert resp.status == 200
        assert sim.stats().rest_down_answers == {"binance": 1}


def test_rest_down_repeats_every_period() -> None:
    faults = FaultConfig(rest_down_seconds=20.0, rest_down_every_seconds=120.0)
    assert [faults.rest_down("kraken", t) for t in (0.0, 19.9, 20.0, 119.9, 120.5)] == [
        True,
        True,
        False,
        False,
        True,
    ]


@pytest.mark.parametrize("status", [451, 403])
async def test_refused_websocket_upgrade_and_rest(status: int) -> None:
    refuse = {"ws_refuse_status": status, "rest_refuse_status": status}
    async with _sim(rate=1, refuse_venues=("kraken",), **refuse) as sim:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(sim.ws_url("kraken")):
                pass
        assert refused.value.response.status_code == status
        async with connect(sim.ws_url("coinbase")):
            pass  # other venues are not refused
        async with (
            aiohttp.ClientSession() as http,
            http.get(sim.rest_url("kraken") + "/0/public/Time") as resp,
        ):
            assert resp.status == status
        assert sim.stats().refusals == {"kraken:ws": 1, "kraken:rest": 1}


def test_outages_are_named_one_by_one() -> None:
    every = faults_from_names(["all"])
    assert every.rest_down_seconds == 0 and every.ws_refuse_status == 0
    assert faults_from_names(["rest-down"]).rest_down_seconds > 0
    assert faults_from_names(["region-block"]).refusal("binance", websocket=True) == 451
    with pytest.raises(UsageError, match="HTTP error"):
        FaultConfig(ws_refuse_status=200)
