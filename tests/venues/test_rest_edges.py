"""REST clients against tiny local servers that misbehave the ways venues and proxies do."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from schemahub.errors import (
    HistoryUnavailableError,
    IpBannedError,
    RestError,
    TransientRestError,
)
from schemahub.venues.backoff import RetryPolicy
from schemahub.venues.binance import BinanceHistory, BinanceRest
from schemahub.venues.coinbase import CoinbaseHistory
from schemahub.venues.kraken import KrakenHistory
from schemahub.venues.ratelimit import TokenBucket
from tests.local_http import local_app

FAST = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, max_attempts=4)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def binance_trades(first: int, count: int) -> list[dict[str, Any]]:
    """A historicalTrades page in the real shape."""
    return [
        {
            "id": i,
            "price": "100.5",
            "qty": "0.1",
            "quoteQty": "10.05",
            "time": 1_700_000_000_000 + i,
            "isBuyerMaker": i % 2 == 0,
            "isBestMatch": True,
        }
        for i in range(first, first + count)
    ]


class Script:
    """Answers requests from a list of handlers in turn (the last one repeats), timing each."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.arrivals: list[float] = []
        self.queries: list[dict[str, str]] = []

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.arrivals.append(time.monotonic())
        self.queries.append(dict(request.query))
        answer = self.answers[min(len(self.arrivals), len(self.answers)) - 1]
        return await answer(request)


def status(
    code: int, body: str = "", headers: dict[str, str] | None = None, ctype: str = "text/html"
) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, text=body, headers=headers, content_type=ctype)

    return answer


def page_from_request(request: web.Request) -> web.Response:
    first = int(request.query.get("fromId", "1"))
    return web.json_response(binance_trades(first, 3))


async def good_page(request: web.Request) -> web.StreamResponse:
    return page_from_request(request)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[str, Handler], Awaitable[str]]]:
    async with contextlib.AsyncExitStack() as servers:

        async def start(path: str, handler: Handler) -> str:
            async def route(request: web.Request) -> web.StreamResponse:
                return await handler(request)  # handlers may be plain functions

            return await servers.enter_async_context(local_app({path: route}))

        yield start


async def _ids(client: Any, symbol: str, first: int, last: int) -> list[int]:
    out: list[int] = []
    async for page in client.fetch_trades(symbol, first, last):
        out += [int(r["trade_id"]) for r in page.trades]
    return out


@pytest.mark.parametrize(
    "bad",
    [
        status(200, "<html><body>Cloudflare says hello</body></html>"),
        status(500, "<html><h1>500 Internal Server Error</h1></html>"),
        status(502, "Bad gateway"),
        status(429, "", {"Retry-After": "0.2"}),
        status(429),
    ],
    ids=["html-200", "html-500", "502", "429-retry-after", "429-bare"],
)
async def test_a_bad_answer_is_retried_and_the_page_still_arrives(serve, bad: Handler) -> None:
    script = Script(bad, good_page)
    url = await serve("/api/v3/historicalTrades", script)
    async with BinanceHistory(url, retry=FAST) as client:
        assert await _ids(client, "BTCUSDT", 10, 12) == [10, 11, 12]
        assert client.client.retries == 1
    assert len(script.arrivals) == 2


async def test_retry_after_is_honoured(serve) -> None:
    script = Script(status(429, "", {"Retry-After": "1"}), good_page)
    url = await serve("/api/v3/historicalTrades", script)
    async with BinanceHistory(url, retry=FAST) as client:
        await _ids(client, "BTCUSDT", 1, 3)
    assert script.arrivals[1] - script.arrivals[0] >= 0.95


async def test_a_timeout_is_retried(serve) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2.0)
        return page_from_request(request)

    script = Script(slow, good_page)
    url = await serve("/api/v3/historicalTrades", script)
    async with BinanceHistory(url, retry=FAST, timeout_seconds=0.3) as client:
        assert await _ids(client, "BTCUSDT", 5, 7) == [5, 6, 7]
        assert client.client.retries == 1


async def test_persistent_server_errors_end_in_a_clear_error(serve) -> None:
    script = Script(status(503, "<html>maintenance</html>"))
    url = await serve("/api/v3/historicalTrades", script)
    async with BinanceHistory(url, retry=FAST) as client:
        with pytest.raises(TransientRestError, match=r"HTTP 503.*maintenance"):
            await _ids(client, "BTCUSDT", 1, 3)
    assert len(script.arrivals) == FAST.max_attempts


async def test_binance_418_is_a_ban_not_retried_and_later_requests_wait(serve) -> None:
    script = Script(status(418, '{"code":-1003,"msg":"banned"}', {"Retry-After": "1"}), good_page)
    url = await serve("/api/v3/historicalTrades", script)
    async with BinanceHistory(url, retry=FAST) as client:
        with pytest.raises(IpBannedError, match=r"banned this IP"):
            await _ids(client, "BTCUSDT", 1, 3)
        assert len(script.arrivals) == 1
        assert await _ids(client, "BTCUSDT", 1, 3) == [1, 2, 3]
    assert script.arrivals[1] - script.arrivals[0] >= 0.95


async def test_binance_451_is_fatal_and_says_region(serve) -> None:
    script = Script(
        status(451, '{"code":0,"msg":"Service unavailable from a restricted location"}')
    )
    url = await serve("/api/v3/historicalTrades", script)
    async with BinanceHistory(url, retry=FAST) as client:
        with pytest.raises(RestError, match=r"451.*region"):
            await _ids(client, "BTCUSDT", 1, 3)
    assert len(script.arrivals) == 1


async def test_a_4xx_is_not_retried_and_quotes_the_venue(serve) -> None:
    script = Script(status(400, '{"code":-1121,"msg":"Invalid symbol."}', ctype="application/json"))
    url = await serve("/api/v3/historicalTrades", script)
    async with BinanceHistory(url, retry=FAST) as client:
        with pytest.raises(RestError, match=r"HTTP 400.*Invalid symbol"):
            await _ids(client, "NOPE", 1, 3)
    assert len(script.arrivals) == 1


async def test_binance_history_pruned_below_the_first_id_is_unavailable(serve) -> None:
    async def pruned(request: web.Request) -> web.StreamResponse:
        return web.json_response(binance_trades(500, 3))  # oldest held is 500

    url = await serve("/api/v3/historicalTrades", Script(pruned))
    async with BinanceHistory(url, retry=FAST) as client:
        with pytest.raises(HistoryUnavailableError, match=r"100..120 of BTCUSDT"):
            await _ids(client, "BTCUSDT", 100, 120)


async def test_binance_ids_beyond_the_newest_are_unavailable(serve) -> None:
    async def upto_20(request: web.Request) -> web.StreamResponse:
        first = int(request.query["fromId"])
        return web.json_response(binance_trades(first, max(0, min(3, 21 - first))))

    url = await serve("/api/v3/historicalTrades", Script(upto_20))
    async with BinanceHistory(url, retry=FAST) as client:
        got: list[int] = []
        with pytest.raises(HistoryUnavailableError, match=r"21..25"):
            async for page in client.fetch_trades("BTCUSDT", 15, 25):
                got += [r["trade_id"] for r in page.trades]
    assert got == [15, 16, 17, 18, 19, 20]


async def test_coinbase_walks_down_from_after_last_plus_one(serve) -> None:
    async def newest_first(request: web.Request) -> web.StreamResponse:
        after = int(request.query["after"])
        ids = range(after - 1, max(0, after - 4), -1)  # 3 trades a page, below the cursor
        body = [
            {
                "time": "2024-01-01T00:00:00.1Z",
                "trade_id": i,
                "price": "1.5",
                "size": "2",
                "side": "buy",
            }
            for i in ids
        ]
        return web.json_response(body)

    script = Script(newest_first)
    url = await serve("/products/{product}/trades", script)
    async with CoinbaseHistory(url, retry=FAST) as client:
        got = await _ids(client, "BTC-USD", 40, 47)
    assert sorted(got) == list(range(40, 48))
    assert script.queries[0]["after"] == "48"


async def test_coinbase_history_ending_before_the_first_id_is_unavailable(serve) -> None:
    async def nothing_older(request: web.Request) -> web.StreamResponse:
        return web.json_response([])

    url = await serve("/products/{product}/trades", Script(nothing_older))
    async with CoinbaseHistory(url, retry=FAST) as client:
        with pytest.raises(HistoryUnavailableError, match=r"coinbase does not hold trades 5..9"):
            await _ids(client, "BTC-USD", 5, 9)


async def test_kraken_too_many_requests_in_a_200_body_is_backed_off(serve) -> None:
    pairs = {"error": [], "result": {"XXBTZUSD": {"altname": "XBTUSD", "wsname": "XBT/USD"}}}

    async def asset_pairs(request: web.Request) -> web.StreamResponse:
        return web.json_response(pairs)

    script = Script(
        status(200, '{"error":["EGeneral:Too many requests"]}', ctype="application/json"),
        asset_pairs,
    )
    url = await serve("/0/public/AssetPairs", script)
    async with KrakenHistory(url, retry=FAST) as client:
        catalogue = await client.fetch_catalogue()
        assert catalogue.get("BTC/USD").rest_name == "XBTUSD"
        assert client.client.retries == 1


async def test_kraken_unknown_pair_is_a_clear_error_not_retried(serve) -> None:
    script = Script(
        status(200, '{"error":["EQuery:Unknown asset pair"]}', ctype="application/json")
    )
    url = await serve("/0/public/AssetPairs", script)
    async with KrakenHistory(url, retry=FAST) as client:
        with pytest.raises(RestError, match=r"EQuery:Unknown asset pair"):
            await client.fetch_catalogue()
    assert len(script.arrivals) == 1


def test_binance_slows_down_when_the_used_weight_nears_the_limit() -> None:
    bucket = TokenBucket(rate=100.0, capacity=100.0)
    BinanceRest().after_response({"X-MBX-USED-WEIGHT-1M": "120"}, bucket)
    assert bucket.delay_for(1.0) == 0.0
    BinanceRest().after_response({"X-MBX-USED-WEIGHT-1M": "5900"}, bucket)
    assert bucket.delay_for(1.0) > 0.0
