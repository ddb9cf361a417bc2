"""Simulated Coinbase: Advanced Trade and Exchange websocket feeds on ``/``, Exchange REST.

The subscribe message picks the feed, as the two real endpoints would:

- Advanced Trade (``{"type":"subscribe","product_ids":[...],"channel":"market_trades"}``, and
  ``"heartbeats"``): every frame carries ``sequence_num`` counting the frames of the
  connection; a subscription answers with one ``snapshot`` frame per product (the last 100
  trades, newest first, as recorded from the real feed) then a ``subscriptions`` frame; later
  trades come as ``update`` events, newest first. Numbers and times are printed the way the
  real feed prints them (trailing zeros trimmed). Trades dropped by the fault injector still
  consume a ``sequence_num``, so the hole is visible as on the real feed.
- Exchange (``"channels":["matches"]``, optionally ``"heartbeat"``): ``subscriptions``, one
  ``last_match`` per product, then ``match`` frames with integer ``trade_id`` and ``sequence``.

``side`` is always the MAKER side (a taker BUY prints as ``SELL``), on both feeds and REST.

REST (Exchange API): ``/products``, ``/products/{id}``, ``/products/{id}/trades`` (newest
first; ``after=X`` gives ids below X, ``before=X`` ids above X; ``CB-BEFORE``/``CB-AFTER``
headers), and the Advanced ``/api/v3/brokerage/market/products`` catalogue. About 10 requests
a second (burst 15), else 429 ``{"message":"Public rate limit exceeded"}``. Ids older than the
simulator holds (``history_limit``) are simply absent: paging ``after`` past the oldest held
trade returns ``[]``.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

import orjson
from aiohttp import web

from schemahub.sim.catalog import coinbase_advanced_product, coinbase_product
from schemahub.sim.fmt import fixed, go_time, iso_micros, iso_nanos_trimmed, iso_trimmed, trimmed
from schemahub.sim.limits import TokenBucket
from schemahub.sim.markets import Market
from schemahub.sim.tape import Trade, touch
from schemahub.sim.venue import (
    Connection,
    SimContext,
    VenueServer,
    dumps,
    int_param,
    retry_after_header,
)

SNAPSHOT_SIZE = 100
MAX_LIMIT = 1000
ADVANCED_CHANNELS = ("market_trades", "heartbeats", "ticker")
EXCHANGE_CHANNELS = ("matches", "heartbeat")
SEQUENCE_BASE = 50_000_000_000


def maker_side(trade: Trade) -> str:
    """The maker order's side, upper case (the taker's opposite)."""
    return "SELL" if trade.side == "BUY" else "BUY"


def advanced_trade(trade: Trade) -> dict[str, Any]:
    return {
        "product_id": trade.symbol,
        "trade_id": str(trade.trade_id),
        "price": trimmed(trade.price_units),
        "size": trimmed(trade.qty_units),
        "time": iso_trimmed(trade.ts_ms),
        "side": maker_side(trade),
    }


def _order_id(trade_id: int, salt: int) -> str:
    """A stable uuid4-shaped order id derived from the trade id."""
    high = (trade_id * 0x9E3779B97F4A7C15 + salt) % (1 << 64)
    low = (trade_id * 0xBF58476D1CE4E5B9 + salt * 0x94D049BB133111EB) % (1 << 64)
    return str(uuid.UUID(int=(high << 64) | low, version=4))


def exchange_match(trade: Trade, first_id: int, kind: str = "match") -> dict[str, Any]:
    return {
        "type": kind,
        "trade_id": trade.trade_id,
        "maker_order_id": _order_id(trade.trade_id, 1),
        "taker_order_id": _order_id(trade.trade_id, 2),
        "side": maker_side(trade).lower(),
        "size": trimmed(trade.qty_units),
        "price": trimmed(trade.price_units),
        "product_id": trade.symbol,
        "sequence": SEQUENCE_BASE + 3 * (trade.trade_id - first_id),
        "time": iso_micros(trade.ts_ms),
    }


def rest_trade(trade: Trade) -> dict[str, Any]:
    return {
        "time": iso_micros(trade.ts_ms),
        "trade_id": trade.trade_id,
        "price": fixed(trade.price_units, 8),
        "size": fixed(trade.qty_units, 8),
        "side": maker_side(trade).lower(),
    }


class CoinbaseServer(VenueServer):
    """Coinbase-compatible Advanced Trade / Exchange websocket and Exchange REST."""

    name = "coinbase"
    ws_paths = ("/",)

    def __init__(
        self,
        ctx: SimContext,
        markets: list[Market],
        rest_rate: float = 10.0,
        rest_burst: float = 15.0,
    ) -> None:
        super().__init__(ctx, markets)
        self.bucket = TokenBucket(rest_rate, rest_burst)
        self._started_ns = time.monotonic_ns()
        self._heartbeat_counter = 40_000

    # -- websocket -------------------------------------------------------------------------
    def on_open(self, conn: Connection) -> None:
        conn.state.update(feed=None, seq=0, channels=defaultdict(set))

    def on_message(self, conn: Connection, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.send_json({"type": "error", "message": "Malformed JSON"})
            return
        if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
            conn.send_json({"type": "error", "message": "Failed to parse message"})
            return
        feed = "exchange" if "channels" in msg else "advanced"
        if conn.state["feed"] not in (None, feed):
            conn.send_json(
                {
                    "type": "error",
                    "message": f"connection already uses the {conn.state['feed']} feed",
                }
            )
            return
        conn.state["feed"] = feed
        wanted = self._requested(msg, feed)
        if wanted is None:
            conn.send_json(
                {"type": "error", "message": "Failed to subscribe", "reason": "bad channels"}
            )
            return
        unknown = sorted({p for ps in wanted.values() for p in ps if p not in self.markets and p})
        if unknown:
            reason = f"{', '.join(unknown)} is not a valid product"
            conn.send_json({"type": "error", "message": "Failed to subscribe", "reason": reason})
            return
        if msg["type"] == "unsubscribe":
            for channel, products in wanted.items():
                if channel == "heartbeats":
                    products = {"heartbeats"}
                conn.state["channels"][channel].difference_update(products)
            self._send_subscriptions(conn)
            conn.quotes = set(conn.state["channels"]["ticker"])
        elif feed == "advanced":
            self._subscribe_advanced(conn, wanted)
        else:
            self._subscribe_exchange(conn, wanted)
        conn.subs = set(conn.state["channels"]["market_trades"] | conn.state["channels"]["matches"])

    def _requested(self, msg: dict[str, Any], feed: str) -> dict[str, set[str]] | None:
        products = msg.get("product_ids") or []
        if not isinstance(products, list):
            return None
        if feed == "advanced":
            channel = msg.get("channel")
            if channel not in ADVANCED_CHANNELS:
                return None
            return {channel: set() if channel == "heartbeats" else set(products)}
        wanted: dict[str, set[str]] = {}
        for entry in msg.get("channels") or []:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if name not in EXCHANGE_CHANNELS:
                return None
            extra = entry.get("product_ids", []) if isinstance(entry, dict) else []
            wanted[name] = set(products) | set(extra)
        return wanted or None

    def _frame(self, conn: Connection, channel: str, events: list[dict[str, Any]]) -> str:
        seq = conn.state["seq"]
        conn.state["seq"] = seq + 1
        return dumps(
            {
                "channel": channel,
                "timestamp": iso_nanos_trimmed(time.time_ns()),
                "sequence_num": seq,
                "events": events,
            }
        )

    def _subscribe_advanced(self, conn: Connection, wanted: dict[str, set[str]]) -> None:
        channels = conn.state["channels"]
        if "heartbeats" in wanted:
            channels["heartbeats"].add("heartbeats")
        new = sorted(wanted.get("market_trades", set()) - channels["market_trades"])
        for product in new:
            snapshot = list(reversed(self.recent(product, SNAPSHOT_SIZE)))
            events = [{"type": "snapshot", "trades": [advanced_trade(t) for t in snapshot]}]
            conn.send(self._frame(conn, "market_trades", events))
        channels["market_trades"].update(new)
        for product in new:
            self.note_subscribed(product)
        channels["ticker"].update(wanted.get("ticker", set()))
        conn.quotes = set(channels["ticker"])
        self._send_subscriptions(conn)
        self._replay(conn, new)

    def _subscribe_exchange(self, conn: Connection, wanted: dict[str, set[str]]) -> None:
        channels = conn.state["channels"]
        new = sorted(wanted.get("matches", set()) - channels["matches"])
        channels["matches"].update(new)
        for product in new:
            self.note_subscribed(product)
        channels["heartbeat"].update(wanted.get("heartbeat", set()))
        self._send_subscriptions(conn)
        for product in new:
            last = self.recent(product, 1)
            if last:
                conn.send_json(exchange_match(last[0], self._first_id(product), "last_match"))
        self._replay(conn, new)

    def _send_subscriptions(self, conn: Connection) -> None:
        channels = conn.state["channels"]
        if conn.state["feed"] == "advanced":
            subs = {c: sorted(ps) for c, ps in channels.items() if ps}
            conn.send(self._frame(conn, "subscriptions", [{"subscriptions": subs}]))
        else:
            listed = [{"name": c, "product_ids": sorted(ps)} for c, ps in channels.items() if ps]
            conn.send_json({"type": "subscriptions", "channels": listed})

    def _replay(self, conn: Connection, products: list[str]) -> None:
        count = self.replay_count()
        for product in products if count else []:
            trades = self.recent(product, count)
            self.ctx.stats.duplicates_replayed[self.name] += len(trades)
            self._deliver(conn, product, trades, dropped=0)

    def _first_id(self, product: str) -> int:
        stream = self.ctx.tape.stream(self.name, product)
        return stream.first_id if stream is not None else 0

    def publish(self, trades: list[Trade], dropped: list[Trade]) -> None:
        if not self.connections:
            return
        by_product: dict[str, list[Trade]] = defaultdict(list)
        for trade in trades:
            by_product[trade.symbol].append(trade)
        lost = {t.symbol for t in dropped}
        for conn in list(self.connections):
            for product in conn.subs & (set(by_product) | lost):
                self._deliver(conn, product, by_product.get(product, []), int(product in lost))

    def _deliver(self, conn: Connection, product: str, trades: list[Trade], dropped: int) -> None:
        if conn.state["feed"] == "advanced":
            conn.state["seq"] += dropped  # the frame that would have carried them is lost
            if trades:
                events = [
                    {"type": "update", "trades": [advanced_trade(t) for t in reversed(trades)]}
                ]
                self.send_trade_frame(conn, self._frame(conn, "market_trades", events))
            return
        first_id = self._first_id(product)
        for trade in trades:
            self.send_trade_frame(conn, dumps(exchange_match(trade, first_id)))

    def on_second(self, conn: Connection) -> None:
        channels = conn.state.get("channels", {})
        if conn.state.get("feed") == "advanced" and channels.get("heartbeats"):
            now_ns = time.time_ns()
            uptime = time.monotonic_ns() - self._started_ns
            counter = self._heartbeat_counter + uptime // 1_000_000_000
            event = {"current_time": go_time(now_ns, uptime), "heartbeat_counter": counter}
            conn.send(self._frame(conn, "heartbeats", [event]))
        for product in sorted(channels.get("heartbeat", ())):
            last = self.recent(product, 1)
            seq = SEQUENCE_BASE + 3 * (last[0].trade_id - self._first_id(product)) if last else 0
            conn.send_json(
                {
                    "type": "heartbeat",
                    "sequence": seq,
                    "last_trade_id": last[0].trade_id if last else 0,
                    "product_id": product,
                    "time": iso_micros(time.time_ns() // 1_000_000),
                }
            )

    def unknown_frame(self) -> str:
        return dumps({"type": "status_update", "channel": "status", "products": []})

    def quote_frame(self, conn: Connection, trade: Trade) -> str:
        """An Advanced ``ticker`` frame (it counts in the connection's ``sequence_num``)."""
        bid, ask = touch(trade)
        ticker = {
            "type": "ticker",
            "product_id": trade.symbol,
            "price": trimmed(trade.price_units),
            "best_bid": trimmed(bid),
            "best_bid_quantity": trimmed(trade.qty_units),
            "best_ask": trimmed(ask),
            "best_ask_quantity": trimmed(trade.qty_units),
        }
        return self._frame(conn, "ticker", [{"type": "update", "tickers": [ticker]}])

    # -- REST ------------------------------------------------------------------------------
    def rest_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/products", self._products),
            web.get("/products/{product_id}", self._product),
            web.get("/products/{product_id}/trades", self._trades),
            web.get("/api/v3/brokerage/market/products", self._advanced_products),
        ]

    def rate_limited(self, retry_after: float | None) -> web.Response:
        return self.json(
            {"message": "Public rate limit exceeded"},
            status=429,
            headers=retry_after_header(retry_after),
        )

    def _limit(self) -> web.Response | None:
        wait = self.bucket.take(time.monotonic())
        if wait > 0:
            self.count_rate_limited()
            return self.rate_limited(None)
        return None

    async def _products(self, request: web.Request) -> web.Response:
        return self._limit() or self.json([coinbase_product(m) for m in self.markets.values()])

    async def _advanced_products(self, request: web.Request) -> web.Response:
        refused = self._limit()
        if refused is not None:
            return refused
        products = [coinbase_advanced_product(m) for m in self.markets.values()]
        return self.json({"products": products, "num_products": len(products)})

    async def _product(self, request: web.Request) -> web.Response:
        refused = self._limit()
        market = self.markets.get(request.match_info["product_id"])
        if refused is not None or market is None:
            return refused or self.json({"message": "NotFound"}, status=404)
        return self.json(coinbase_product(market))

    async def _trades(self, request: web.Request) -> web.Response:
        refused = self._limit()
        market = self.markets.get(request.match_info["product_id"])
        if refused is not None or market is None:
            return refused or self.json({"message": "NotFound"}, status=404)
        try:
            limit = int_param(request, "limit") or MAX_LIMIT
            after, before = int_param(request, "after"), int_param(request, "before")
        except ValueError:
            return self.json({"message": "invalid cursor or limit"}, status=400)
        stream = self.ctx.tape.stream(self.name, market.symbol)
        assert stream is not None
        lo, hi = self.held(market.symbol)
        limit = max(1, min(limit, MAX_LIMIT))
        if after is not None:
            stop = max(lo, min(hi, stream.index_of(after)))
            start = max(lo, stop - limit)
        elif before is not None:
            start = min(hi, max(lo, stream.index_of(before) + 1))
            stop = min(hi, start + limit)
        else:
            start, stop = max(lo, hi - limit), hi
        page = list(reversed(stream.trades(start, stop)))
        headers = {}
        if page:
            headers = {"CB-BEFORE": str(page[0].trade_id), "CB-AFTER": str(page[-1].trade_id)}
        return self.json([rest_trade(t) for t in page], headers=headers)
