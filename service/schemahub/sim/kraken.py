"""Simulated Kraken spot: websocket v2 at ``/v2`` and public REST under ``/0/public``.

Websocket v2: a ``status`` frame on connect; ``subscribe`` to the ``trade`` channel answers one
ack per symbol (``success: false`` with an error naming an unknown symbol), then, when
``snapshot`` is true (the default), the last 50 trades of that symbol, then ``update`` frames.
``{"channel":"heartbeat"}`` every second once something is subscribed; ``{"method":"ping"}``
answers ``pong``. Prices and quantities are JSON numbers, taker ``side`` in lower case.

REST: ``AssetPairs`` with the real naming (BTC/USD is key ``XXBTZUSD``, altname ``XBTUSD``,
wsname ``XBT/USD``: websocket v2 says BTC where the catalogue says XBT), ``Trades`` (ascending,
at most 1000; ``since`` in ns or in seconds; ``last`` is a ns cursor to pass back as
``since``), ``Time``. Errors come as ``{"error":["..."]}`` with HTTP 200 as on the real API;
over about 1 request a second (burst 5): ``EGeneral:Too many requests``. Ids older than the
simulator holds (``history_limit``) are simply absent: the first page starts at the oldest
trade still held.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from typing import Any

import orjson
from aiohttp import web

from schemahub.sim.catalog import kraken_pair
from schemahub.sim.fmt import fixed, iso_micros, kraken_rest_time, trimmed
from schemahub.sim.limits import TokenBucket
from schemahub.sim.markets import Market
from schemahub.sim.tape import Trade, touch
from schemahub.sim.venue import Connection, SimContext, VenueServer, dumps, retry_after_header

SNAPSHOT_SIZE = 50
MAX_COUNT = 1000
TOO_MANY = "EGeneral:Too many requests"
_connection_ids = itertools.count(12_000_000_000_000_000_000)


def _now_iso() -> str:
    now_us = time.time_ns() // 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_us // 1_000_000)) + (
        f".{now_us % 1_000_000:06d}Z"
    )


def _number(units: int) -> str:
    """A JSON number for a 1e-8 amount, always with a fraction (65083.0, 0.00001)."""
    text = trimmed(units)
    return text if "." in text else f"{text}.0"


def ws_trade(trade: Trade) -> str:
    """One trade object of a v2 ``trade`` frame, as JSON text (exact decimal numbers)."""
    return (
        f'{{"symbol":"{trade.symbol}","side":"{trade.side.lower()}",'
        f'"price":{_number(trade.price_units)},"qty":{_number(trade.qty_units)},'
        f'"ord_type":"{trade.ord_type}","trade_id":{trade.trade_id},'
        f'"timestamp":"{iso_micros(trade.ts_ms)}"}}'
    )


def trade_frame(kind: str, trades: list[Trade]) -> str:
    data = ",".join(ws_trade(t) for t in trades)
    return f'{{"channel":"trade","type":"{kind}","data":[{data}]}}'


def rest_row(trade: Trade, market: Market) -> list[Any]:
    """One row of ``Trades``: price, volume, time (s), b|s, m|l, misc, trade id."""
    return [
        fixed(trade.price_units, max(5, market.price_decimals)),
        fixed(trade.qty_units, 8),
        kraken_rest_time(trade.ts_ms),
        "b" if trade.side == "BUY" else "s",
        "l" if trade.ord_type == "limit" else "m",
        "",
        trade.trade_id,
    ]


class KrakenServer(VenueServer):
    """Kraken-compatible websocket v2 and public REST."""

    name = "kraken"
    ws_paths = ("/v2",)

    def __init__(
        self,
        ctx: SimContext,
        markets: list[Market],
        rest_rate: float = 1.0,
        rest_burst: float = 5.0,
    ) -> None:
        super().__init__(ctx, markets)
        self.bucket = TokenBucket(rest_rate, rest_burst)
        self._rest_names: dict[str, Market] = {}
        for m in markets:
            for alias in (m.rest_key, m.altname, m.wsname, m.symbol):
                self._rest_names[alias] = m

    # -- websocket -------------------------------------------------------------------------
    def on_open(self, conn: Connection) -> None:
        status = {
            "version": "2.0.10",
            "system": "online",
            "api_version": "v2",
            "connection_id": next(_connection_ids),
        }
        conn.send_json({"channel": "status", "type": "update", "data": [status]})

    def on_message(self, conn: Connection, text: str) -> None:
        time_in = _now_iso()
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.send_json(
                {
                    "error": "EGeneral:Invalid arguments",
                    "success": False,
                    "time_in": time_in,
                    "time_out": _now_iso(),
                }
            )
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        req = {"req_id": msg["req_id"]} if isinstance(msg, dict) and "req_id" in msg else {}
        if method == "ping":
            conn.send_json({"method": "pong", **req, "time_in": time_in, "time_out": _now_iso()})
        elif method in ("subscribe", "unsubscribe"):
            self._subscription(conn, method, msg.get("params"), req, time_in)
        else:
            conn.send_json(
                {
                    "error": "Method not found",
                    "method": method,
                    "success": False,
                    **req,
                    "time_in": time_in,
                    "time_out": _now_iso(),
                }
            )

    def _subscription(
        self, conn: Connection, method: str, params: Any, req: dict[str, Any], time_in: str
    ) -> None:
        def fail(error: str, **extra: Any) -> None:
            conn.send_json(
                {
                    "error": error,
                    "method": method,
                    **req,
                    "success": False,
                    **extra,
                    "time_in": time_in,
                    "time_out": _now_iso(),
                }
            )

        if not isinstance(params, dict) or params.get("channel") not in (
            "trade",
            "heartbeat",
            "ticker",
        ):
            fail("EGeneral:Invalid arguments")
            return
        if params["channel"] == "heartbeat":
            conn.send_json(
                {
                    "method": method,
                    "result": {"channel": "heartbeat"},
                    "success": True,
                    **req,
                    "time_in": time_in,
                    "time_out": _now_iso(),
                }
            )
            return
        symbols, snapshot = params.get("symbol"), params.get("snapshot", True)
        if not isinstance(symbols, list) or not symbols:
            fail("EGeneral:Invalid arguments:symbol")
            return
        if params["channel"] == "ticker":
            self._ticker_subscription(conn, method, symbols, req, time_in)
            return
        for symbol in symbols:
            if symbol not in self.markets:
                fail(f"Currency pair not supported {symbol}", symbol=symbol)
                continue
            result: dict[str, Any] = {"channel": "trade", "symbol": symbol}
            if method == "subscribe":
                result = {"channel": "trade", "snapshot": bool(snapshot), "symbol": symbol}
            conn.send_json(
                {
                    "method": method,
                    "result": result,
                    "success": True,
                    **req,
                    "time_in": time_in,
                    "time_out": _now_iso(),
                }
            )
            if method == "unsubscribe":
                conn.subs.discard(symbol)
                continue
            if snapshot and symbol not in conn.subs:
                conn.send(trade_frame("snapshot", self.recent(symbol, SNAPSHOT_SIZE)))
            conn.subs.add(symbol)
            self.note_subscribed(symbol)
            replay = self.recent(symbol, self.replay_count())
            if replay:
                self.ctx.stats.duplicates_replayed[self.name] += len(replay)
                self.send_trade_frame(conn, trade_frame("update", replay))

    def _ticker_subscription(
        self, conn: Connection, method: str, symbols: list[Any], req: dict[str, Any], time_in: str
    ) -> None:
        """Ticker (top of book) for ``symbols``: one ack a symbol; updates on each trade."""
        for symbol in symbols:
            known = symbol in self.markets
            reply: dict[str, Any] = {"method": method, "success": known, **req}
            if known:
                reply["result"] = {"channel": "ticker", "symbol": symbol}
                (conn.quotes.add if method == "subscribe" else conn.quotes.discard)(symbol)
            else:
                reply.update(error=f"Currency pair not supported {symbol}", symbol=symbol)
            conn.send_json({**reply, "time_in": time_in, "time_out": _now_iso()})

    def quote_frame(self, conn: Connection, trade: Trade) -> str:
        bid, ask = touch(trade)
        return (
            f'{{"channel":"ticker","type":"update","data":[{{"symbol":"{trade.symbol}",'
            f'"bid":{_number(bid)},"bid_qty":{_number(trade.qty_units)},'
            f'"ask":{_number(ask)},"ask_qty":{_number(trade.qty_units)},'
            f'"last":{_number(trade.price_units)}}}]}}'
        )

    def publish(self, trades: list[Trade], dropped: list[Trade]) -> None:
        if not trades or not self.connections:
            return
        by_symbol: dict[str, list[Trade]] = defaultdict(list)
        for trade in trades:
            by_symbol[trade.symbol].append(trade)
        frames = {s: trade_frame("update", ts) for s, ts in by_symbol.items()}
        for conn in list(self.connections):
            for symbol in conn.subs & frames.keys():
                self.send_trade_frame(conn, frames[symbol])

    def on_second(self, conn: Connection) -> None:
        if conn.subs:
            conn.send('{"channel":"heartbeat"}')

    def unknown_frame(self) -> str:
        return dumps(
            {"channel": "instrument", "type": "update", "data": {"assets": [], "pairs": []}}
        )

    # -- REST ------------------------------------------------------------------------------
    def rest_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/0/public/AssetPairs", self._asset_pairs),
            web.get("/0/public/Trades", self._trades),
            web.get("/0/public/Time", self._time),
        ]

    def rate_limited(self, retry_after: float | None) -> web.Response:
        # The real limit answers HTTP 200 with the error in the body.
        return self.json({"error": [TOO_MANY]}, headers=retry_after_header(retry_after))

    def injected_429(self, retry_after: float | None) -> web.Response:
        return self.json({"error": [TOO_MANY]}, status=429, headers=retry_after_header(retry_after))

    def _limit(self) -> web.Response | None:
        if self.bucket.take(time.monotonic()) > 0:
            self.count_rate_limited()
            return self.rate_limited(None)
        return None

    def _error(self, message: str) -> web.Response:
        return self.json({"error": [message]})

    async def _time(self, request: web.Request) -> web.Response:
        refused = self._limit()
        now = int(time.time())
        stamp = time.strftime("%a, %d %b %y %H:%M:%S +0000", time.gmtime(now))
        return refused or self.json({"error": [], "result": {"unixtime": now, "rfc1123": stamp}})

    async def _asset_pairs(self, request: web.Request) -> web.Response:
        refused = self._limit()
        if refused is not None:
            return refused
        wanted = list(self.markets.values())
        if request.query.get("pair"):
            names = request.query["pair"].split(",")
            if any(n not in self._rest_names for n in names):
                return self._error("EQuery:Unknown asset pair")
            wanted = [self._rest_names[n] for n in names]
        return self.json({"error": [], "result": {m.rest_key: kraken_pair(m) for m in wanted}})

    async def _trades(self, request: web.Request) -> web.Response:
        refused = self._limit()
        if refused is not None:
            return refused
        market = self._rest_names.get(request.query.get("pair", ""))
        if market is None:
            return self._error("EQuery:Unknown asset pair")
        try:
            count = int(request.query.get("count", MAX_COUNT))
            since = _since_ns(request.query.get("since"))
        except ValueError:
            return self._error("EGeneral:Invalid arguments")
        stream = self.ctx.tape.stream(self.name, market.symbol)
        assert stream is not None
        lo, hi = self.held(market.symbol)
        count = max(1, min(count, MAX_COUNT))
        start = max(lo, hi - count) if since is None else max(lo, stream.index_after_ns(since))
        stop = min(hi, start + count)
        rows = [rest_row(t, market) for t in stream.trades(start, stop)]
        if stop > start:
            last = stream.virtual_ns(stop - 1)
        else:
            last = since if since is not None else stream.virtual_ns(hi - 1) if hi else 0
        return self.json({"error": [], "result": {market.rest_key: rows, "last": str(last)}})


def _since_ns(raw: str | None) -> int | None:
    """``since`` as nanoseconds: values below 1e12 are seconds (possibly fractional)."""
    if raw is None or raw == "":
        return None
    if "." in raw or int(raw) < 10**12:
        whole, _, frac = raw.partition(".")
        return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])
    return int(raw)
