"""Simulated Binance spot: websocket ``/ws``, ``/ws/<streams>``, ``/stream`` and REST ``/api/v3``.

Websocket: combined streams in the URL (``/stream?streams=btcusdt@trade/...``) and/or
``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` requests. Frames on ``/stream`` are
wrapped as ``{"stream","data"}``; on ``/ws`` they are raw. Like the real server, any
well-formed stream name is accepted (``result: null``) even when no such symbol exists: only
``<listed symbol>@trade`` streams carry data. Limits: 1024 streams a connection (a request
going over is refused with an error reply) and 5 incoming messages a second (over that the
connection is closed with code 1008).

REST: ``exchangeInfo`` (weight 20), ``trades`` and ``historicalTrades`` (weight 25 each),
``X-MBX-USED-WEIGHT-1M`` on every answer, 429 + ``Retry-After`` over the per-minute weight
limit. History older than the simulator holds (``history_limit``) is not an error:
``historicalTrades`` starts at the oldest trade still held, so a client sees its first id is
above the ``fromId`` it asked for.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from schemahub.sim.catalog import binance_symbol
from schemahub.sim.fmt import UNITS, fixed
from schemahub.sim.limits import MessageRate, WeightWindow
from schemahub.sim.markets import Market
from schemahub.sim.tape import Trade, touch
from schemahub.sim.venue import Connection, SimContext, VenueServer, dumps, retry_after_header

MAX_STREAMS = 1024
MAX_MESSAGES_PER_SECOND = 5
WEIGHTS = {"exchangeInfo": 20, "trades": 25, "historicalTrades": 25, "ping": 1, "time": 1}
DEFAULT_LIMIT, MAX_LIMIT = 500, 1000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def trade_event(trade: Trade, event_ms: int) -> dict[str, Any]:
    """The websocket ``trade`` event (``m``: the buyer was the maker, i.e. the taker sold)."""
    return {
        "e": "trade",
        "E": max(event_ms, trade.ts_ms),
        "s": trade.symbol,
        "t": trade.trade_id,
        "p": fixed(trade.price_units, 8),
        "q": fixed(trade.qty_units, 8),
        "T": trade.ts_ms,
        "m": trade.side == "SELL",
        "M": True,
    }


def rest_trade(trade: Trade) -> dict[str, Any]:
    """One element of ``trades`` / ``historicalTrades``."""
    return {
        "id": trade.trade_id,
        "price": fixed(trade.price_units, 8),
        "qty": fixed(trade.qty_units, 8),
        "quoteQty": fixed(trade.price_units * trade.qty_units // UNITS, 8),
        "time": trade.ts_ms,
        "isBuyerMaker": trade.side == "SELL",
        "isBestMatch": True,
    }


def _error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}


class BinanceServer(VenueServer):
    """Binance-compatible websocket streams and REST history."""

    name = "binance"
    ws_paths = ("/ws", "/stream", "/ws/{streams:.+}")

    def __init__(self, ctx: SimContext, markets: list[Market], weight_limit: int = 6000) -> None:
        super().__init__(ctx, markets)
        self.weights = WeightWindow(weight_limit)

    # -- websocket -------------------------------------------------------------------------
    def on_open(self, conn: Connection) -> None:
        conn.state["wrapped"] = conn.path.startswith("/stream")
        conn.state["rate"] = MessageRate(MAX_MESSAGES_PER_SECOND)
        names: list[str] = []
        if conn.path.startswith("/ws/"):
            names = conn.path[len("/ws/") :].split("/")
        elif "streams" in conn.query:
            names = conn.query["streams"].split("/")
        self._subscribe(conn, [n for n in names if n])

    async def on_message(self, conn: Connection, text: str) -> None:  # type: ignore[override]
        if not conn.state["rate"].add(time.monotonic()):
            self.ctx.stats.ws_limit_violations[f"{self.name}:messages_per_second"] += 1
            await self.close_with(conn, 1008, "Too many requests")
            return
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.send_json({"error": _error(3, "Invalid JSON: expected value"), "id": None})
            return
        reply = self._control(conn, request)
        if reply is not None:
            conn.send_json(reply)

    def _control(self, conn: Connection, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return {"error": _error(2, "Invalid request: request must be an object"), "id": None}
        req_id = request.get("id")
        if req_id is not None and not isinstance(req_id, int | str):
            return {"error": _error(2, "Invalid request: invalid request ID"), "id": None}
        method, params = request.get("method"), request.get("params", [])
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(conn.subs), "id": req_id}
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return {"error": _error(2, f"Invalid request: unknown method {method!r}"), "id": req_id}
        if not isinstance(params, list) or not all(_valid_stream(p) for p in params):
            return {"error": _error(2, "Invalid request: invalid stream name"), "id": req_id}
        if method == "UNSUBSCRIBE":
            conn.subs.difference_update(params)
            self._note_quotes(conn)
            return {"result": None, "id": req_id}
        if len(conn.subs | set(params)) > MAX_STREAMS:
            self.ctx.stats.ws_limit_violations[f"{self.name}:streams"] += 1
            msg = f"Invalid request: too many streams (limit {MAX_STREAMS} a connection)"
            return {"error": _error(2, msg), "id": req_id}
        self._subscribe(conn, params)
        return {"result": None, "id": req_id}

    def _subscribe(self, conn: Connection, names: list[str]) -> None:
        new = [n for n in names if n not in conn.subs]
        if len(conn.subs) + len(new) > MAX_STREAMS:
            self.ctx.stats.ws_limit_violations[f"{self.name}:streams"] += 1
            self._spawn(self.close_with(conn, 1008, "Too many streams"))
            return
        conn.subs.update(new)
        for name in new:
            market = self._market_of(name)
            if market is not None:
                self.note_subscribed(market.symbol)
        self._note_quotes(conn)
        count = self.replay_count()
        if count:
            for name in new:
                market = self._market_of(name)
                if market is not None:
                    replay = self.recent(market.symbol, count)
                    self.ctx.stats.duplicates_replayed[self.name] += len(replay)
                    self._send_trades(conn, name, replay)

    def _note_quotes(self, conn: Connection) -> None:
        """Which symbols' ``@bookTicker`` streams ``conn`` holds."""
        conn.quotes = {
            market.symbol
            for name in conn.subs
            if name.endswith("@bookTicker")
            and (market := self.markets.get(name.partition("@")[0].upper())) is not None
        }

    def quote_frame(self, conn: Connection, trade: Trade) -> str:
        bid, ask = touch(trade)
        data = {
            "u": trade.trade_id,
            "s": trade.symbol,
            "b": fixed(bid, 8),
            "B": fixed(trade.qty_units, 8),
            "a": fixed(ask, 8),
            "A": fixed(trade.qty_units, 8),
        }
        if not conn.state["wrapped"]:
            return dumps(data)
        return dumps({"stream": f"{trade.symbol.lower()}@bookTicker", "data": data})

    def _market_of(self, stream_name: str) -> Market | None:
        symbol, _, kind = stream_name.partition("@")
        return self.markets.get(symbol.upper()) if kind == "trade" else None

    def publish(self, trades: list[Trade], dropped: list[Trade]) -> None:
        if not trades or not self.connections:
            return
        event_ms = _now_ms()
        for trade in trades:
            name = f"{trade.symbol.lower()}@trade"
            raw = dumps(trade_event(trade, event_ms))
            wrapped = f'{{"stream":"{name}","data":{raw}}}'
            for conn in self.connections:
                if name in conn.subs:
                    self.send_trade_frame(conn, wrapped if conn.state["wrapped"] else raw)

    def _send_trades(self, conn: Connection, name: str, trades: list[Trade]) -> None:
        event_ms = _now_ms()
        for trade in trades:
            raw = dumps(trade_event(trade, event_ms))
            conn.send(f'{{"stream":"{name}","data":{raw}}}' if conn.state["wrapped"] else raw)

    def unknown_frame(self) -> str:
        return dumps({"e": "marketNotice", "E": _now_ms(), "msg": "scheduled maintenance"})

    # -- REST ------------------------------------------------------------------------------
    def rest_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v3/exchangeInfo", self._exchange_info),
            web.get("/api/v3/trades", self._trades),
            web.get("/api/v3/historicalTrades", self._historical_trades),
            web.get("/api/v3/ping", self._ping),
            web.get("/api/v3/time", self._time),
        ]

    def rate_limited(self, retry_after: float | None) -> web.Response:
        limit = self.weights.limit
        msg = (
            f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE."
            " Please use WebSocket Streams for live updates to avoid polling the API."
        )
        headers = {**self._weight_header(), **retry_after_header(retry_after)}
        return self.json(_error(-1003, msg), status=429, headers=headers)

    def _weight_header(self) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(self.weights.current(time.time()))}

    def _charge(self, endpoint: str) -> web.Response | None:
        wait = self.weights.add(WEIGHTS[endpoint], time.time())
        if wait > 0:
            self.count_rate_limited()
            return self.rate_limited(wait)
        return None

    def _answer(self, body: Any, status: int = 200) -> web.Response:
        return self.json(body, status=status, headers=self._weight_header())

    async def _ping(self, request: web.Request) -> web.Response:
        return self._charge("ping") or self._answer({})

    async def _time(self, request: web.Request) -> web.Response:
        return self._charge("time") or self._answer({"serverTime": _now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        refused = self._charge("exchangeInfo")
        if refused is not None:
            return refused
        wanted = list(self.markets)
        if "symbol" in request.query:
            wanted = [request.query["symbol"]]
        elif "symbols" in request.query:
            try:
                wanted = list(orjson.loads(request.query["symbols"]))
            except orjson.JSONDecodeError:
                return self._answer(
                    _error(-1100, "Illegal characters found in parameter 'symbols'."), 400
                )
        if any(s not in self.markets for s in wanted):
            return self._answer(_error(-1121, "Invalid symbol."), 400)
        body = {
            "timezone": "UTC",
            "serverTime": _now_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.weights.limit,
                },
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": [binance_symbol(self.markets[s]) for s in wanted],
        }
        return self._answer(body)

    def _params(
        self, request: web.Request
    ) -> tuple[Market | None, int, int | None, web.Response | None]:
        symbol = request.query.get("symbol", "")
        if not symbol:
            msg = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            return None, 0, None, self._answer(_error(-1102, msg), 400)
        market = self.markets.get(symbol)
        if market is None:
            return None, 0, None, self._answer(_error(-1121, "Invalid symbol."), 400)
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
            from_raw = request.query.get("fromId")
            from_id = int(from_raw) if from_raw not in (None, "") else None
        except ValueError:
            msg = "Illegal characters found in a parameter; expected an integer."
            return None, 0, None, self._answer(_error(-1100, msg), 400)
        return market, max(1, min(limit, MAX_LIMIT)), from_id, None

    async def _trades(self, request: web.Request) -> web.Response:
        refused = self._charge("trades")
        market, limit, _, bad = self._params(request)
        if refused is not None or bad is not None or market is None:
            return refused or bad  # type: ignore[return-value]
        lo, hi = self.held(market.symbol)
        return self._page(market, max(lo, hi - limit), hi)

    async def _historical_trades(self, request: web.Request) -> web.Response:
        refused = self._charge("historicalTrades")
        market, limit, from_id, bad = self._params(request)
        if refused is not None or bad is not None or market is None:
            return refused or bad  # type: ignore[return-value]
        lo, hi = self.held(market.symbol)
        stream = self.ctx.tape.stream(self.name, market.symbol)
        if from_id is None or stream is None:
            return self._page(market, max(lo, hi - limit), hi)
        start = min(max(lo, stream.index_of(from_id)), hi)
        return self._page(market, start, min(hi, start + limit))

    def _page(self, market: Market, start: int, stop: int) -> web.Response:
        stream = self.ctx.tape.stream(self.name, market.symbol)
        trades = stream.trades(start, stop) if stream is not None else []
        return self._answer([rest_trade(t) for t in trades])


def _valid_stream(name: Any) -> bool:
    """``<lower-case symbol>@<channel>`` (channels may be camelCase: ``bookTicker``)."""
    if not isinstance(name, str) or "@" not in name or " " in name:
        return False
    symbol = name.partition("@")[0]
    return symbol == symbol.lower()
