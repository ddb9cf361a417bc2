"""Binance spot: combined ``@trade`` streams, ``historicalTrades`` by ``fromId``, exchangeInfo.

Websocket: connect to ``<ws_url>/stream`` and ``SUBSCRIBE`` in batches, each reply
``{"result":null,"id":N}`` acknowledging its batch. Limits: 1024 streams a connection, 5
incoming messages a second a connection (we pace subscribes at 4 a second, leaving room for the
pong to the server's ping), 24 h a connection (rotated at 23 h).

REST: request weight per minute (6,000 today; our bucket allows at most 5,000 in any minute and
stops for the rest of the minute when ``X-MBX-USED-WEIGHT-1M`` says 90% is used).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from schemahub.decode.base import DecodedFrame, NativeRecord
from schemahub.venues.catalog import Catalogue, Listing
from schemahub.venues.history import IdWindow, trade_id
from schemahub.venues.plan import chunks
from schemahub.venues.ratelimit import TokenBucket
from schemahub.venues.rest import RestVenue, VenueHistory
from schemahub.venues.wsbase import AckUpdate, Subscribe, WsVenue, dumps, load_object

NAME = "binance"
WEIGHT_LIMIT_PER_MINUTE = 6000
WEIGHT_SOFT_LIMIT = int(WEIGHT_LIMIT_PER_MINUTE * 0.9)
HISTORICAL_TRADES_WEIGHT = 25
RECENT_TRADES_WEIGHT = 25
EXCHANGE_INFO_WEIGHT = 20
PAGE_SIZE = 1000


def stream_name(symbol: str) -> str:
    """The trade stream of ``symbol``: ``BTCUSDT`` -> ``btcusdt@trade``."""
    return f"{symbol.lower()}@trade"


def book_ticker_name(symbol: str) -> str:
    """The top-of-book stream of ``symbol``: ``BTCUSDT`` -> ``btcusdt@bookTicker``."""
    return f"{symbol.lower()}@bookTicker"


class BinanceWs(WsVenue):
    """Binance websocket: data and hooks."""

    name = NAME
    max_streams_per_connection = 1024
    symbols_per_message = 200
    control_messages_per_second = 4.0
    max_connection_age_seconds = 23 * 3600.0

    def connect_url(self, base_url: str, symbols: Sequence[str]) -> str:
        path = urlsplit(base_url).path.rstrip("/")
        return base_url if path.endswith("/stream") else base_url.rstrip("/") + "/stream"

    def subscribe_messages(self, symbols: Sequence[str], first_req_id: int) -> list[Subscribe]:
        out = []
        for offset, batch in enumerate(chunks(symbols, self.symbols_per_message)):
            req_id = first_req_id + offset
            params = [stream_name(s) for s in batch]
            params += [book_ticker_name(s) for s in self.quoted(batch)]  # same ack
            text = dumps({"method": "SUBSCRIBE", "params": params, "id": req_id})
            out.append(Subscribe(text, tuple(batch), req_id))
        return out

    def read_ack(self, text: str, sent: Sequence[Subscribe]) -> AckUpdate:
        reply = load_object(text)
        update = AckUpdate()
        if reply is None or "id" not in reply:
            return update
        request = next((s for s in sent if s.req_id == reply["id"]), None)
        if request is None:
            return update
        error = reply.get("error") or ({"msg": reply["msg"]} if "msg" in reply else None)
        if error is None:
            update.acked.update(request.symbols)
            return update
        words = str(error.get("msg", error)) if isinstance(error, dict) else str(error)
        named = [s for s in request.symbols if stream_name(s) in words or s in words]
        update.rejected.update(dict.fromkeys(named or request.symbols, words))
        return update


class BinanceRest(RestVenue):
    """Binance REST: limits and hooks."""

    name = NAME
    # A key lifts nothing for public data today but historicalTrades once required one.
    api_key_env = "BINANCE_API_KEY"
    api_key_header = "X-MBX-APIKEY"
    # 80 weight/s with a 200 burst: at most 5,000 weight in any minute, under the 6,000 limit.
    rate_per_second = WEIGHT_LIMIT_PER_MINUTE * 0.8 / 60
    burst = 200.0
    history_cost = float(HISTORICAL_TRADES_WEIGHT)

    def after_response(self, headers: Mapping[str, str], limiter: TokenBucket) -> None:
        used = headers.get("X-MBX-USED-WEIGHT-1M")
        if used is not None and used.isdigit() and int(used) >= WEIGHT_SOFT_LIMIT:
            # The window is the calendar minute: wait for the next one.
            limiter.pause_until(time.monotonic() + 60.0 - time.time() % 60.0)


class BinanceHistory(VenueHistory):
    """Binance REST history and catalogue."""

    rest = BinanceRest
    oldest_probe_requests = 1

    async def fetch_trades(
        self, symbol: str, first_id: int, last_id: int, *, since_hint: float | None = None
    ) -> AsyncIterator[DecodedFrame]:
        """Pages of trades ``first_id..last_id`` of ``symbol``, ascending (``since_hint`` unused:
        Binance pages by id)."""
        window = IdWindow(NAME, symbol, first_id, last_id)
        while not window.done:
            params = {"symbol": symbol, "fromId": window.next_id, "limit": PAGE_SIZE}
            page, _ = await self.client.get_page(
                "/api/v3/historicalTrades", params, HISTORICAL_TRADES_WEIGHT, self.decoder, symbol
            )
            if not page.trades and not page.rejects:
                raise window.unavailable("no trade at or after this id yet")
            kept = window.take(page)
            if kept.trades or kept.rejects:
                yield kept

    async def older_trades(self, symbol: str, before_id: int, limit: int) -> list[NativeRecord]:
        """One ``fromId=before_id-limit`` page, the part below ``before_id``, newest first
        (where history starts later, the page starts at the oldest held trade)."""
        limit = min(limit, PAGE_SIZE)
        params = {"symbol": symbol, "fromId": max(0, before_id - limit), "limit": limit}
        page, _ = await self.client.get_page(
            "/api/v3/historicalTrades", params, HISTORICAL_TRADES_WEIGHT, self.decoder, symbol
        )
        return sorted((t for t in page.trades if trade_id(t) < before_id), key=trade_id)[::-1]

    async def newer_trades(self, symbol: str, after_id: int, last_id: int) -> list[NativeRecord]:
        """Pages from ``fromId=after_id+1`` up to ``last_id`` (ids below the oldest held are
        simply absent: the first page starts at the oldest)."""
        out: list[NativeRecord] = []
        cursor = after_id + 1
        while cursor <= last_id:
            params = {"symbol": symbol, "fromId": cursor, "limit": PAGE_SIZE}
            page, _ = await self.client.get_page(
                "/api/v3/historicalTrades", params, HISTORICAL_TRADES_WEIGHT, self.decoder, symbol
            )
            ids = [trade_id(t) for t in page.trades]
            if not ids:
                break
            out.extend(t for t in page.trades if cursor <= trade_id(t) <= last_id)
            cursor = max(ids) + 1
        return sorted(out, key=trade_id)

    async def oldest_trade_id(self, symbol: str, newest: int) -> int | None:
        """The oldest held id: ``historicalTrades`` from id 0 starts there (one request)."""
        params = {"symbol": symbol, "fromId": 0, "limit": 1}
        page, _ = await self.client.get_page(
            "/api/v3/historicalTrades", params, HISTORICAL_TRADES_WEIGHT, self.decoder, symbol
        )
        return min((trade_id(t) for t in page.trades), default=None)

    async def latest_page(self, symbol: str) -> DecodedFrame:
        """The newest trade of ``symbol`` (``/api/v3/trades``)."""
        params = {"symbol": symbol, "limit": 1}
        page, _ = await self.client.get_page(
            "/api/v3/trades", params, RECENT_TRADES_WEIGHT, self.decoder, symbol
        )
        return page

    async def fetch_catalogue(self) -> Catalogue:
        """The symbols exchangeInfo lists."""
        body = await self.client.get_json("/api/v3/exchangeInfo", {}, EXCHANGE_INFO_WEIGHT)
        return parse_catalogue(body)


def parse_catalogue(body: Any) -> Catalogue:
    """A Catalogue from an ``exchangeInfo`` answer (symbols not TRADING are kept, flagged)."""
    symbols = body.get("symbols", []) if isinstance(body, dict) else []
    listings = [
        Listing(
            symbol=s["symbol"],
            rest_name=s["symbol"],
            base=s.get("baseAsset", ""),
            quote=s.get("quoteAsset", ""),
            trading=s.get("status") == "TRADING",
        )
        for s in symbols
        if isinstance(s, dict) and isinstance(s.get("symbol"), str)
    ]
    return Catalogue(NAME, listings)
