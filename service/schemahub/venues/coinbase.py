"""Coinbase: Advanced Trade ``market_trades`` + ``heartbeats`` (or the Exchange ``matches``
feed when ``feed: exchange``), Exchange REST ``/products/{id}/trades`` and ``/products``.

Websocket: one subscribe message per channel (Advanced allows one channel a message). The ack
is a ``subscriptions`` frame listing every product subscribed on the connection; an ``error``
frame refuses. Advanced frames carry ``sequence_num``, a per-connection frame counter: a jump is
reported as a SequenceGap. Heartbeats keep quiet channels open (they close after 60-90 s).

REST history pages from the newest trade down: ``after=X`` returns trades with id < X, so a
walk over ``first..last`` starts at ``after=last+1``. Public limit about 10 requests a second
(bursts a little above); our bucket runs at 8 a second with bursts of 4.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from schemahub.decode.base import DecodedFrame, NativeRecord
from schemahub.errors import RestError
from schemahub.venues.catalog import Catalogue, Listing
from schemahub.venues.history import IdWindow, trade_id
from schemahub.venues.plan import chunks
from schemahub.venues.rest import RestVenue, VenueHistory
from schemahub.venues.wsbase import (
    AckUpdate,
    Subscribe,
    WsVenue,
    dumps,
    load_object,
    reject_all_or_named,
)

NAME = "coinbase"
PAGE_SIZE = 1000


class CoinbaseWs(WsVenue):
    """Coinbase websocket (Advanced Trade by default, Exchange with ``feed="exchange"``)."""

    name = NAME
    max_streams_per_connection = 100
    symbols_per_message = 100
    # Advanced Trade: 8 connections and 8 unauthenticated messages a second per IP (its
    # "WebSocket Rate Limits" page); 1,000 products open 10 connections and send 20 messages.
    connects_per_second_per_ip = 8.0
    messages_per_second_per_ip = 8.0

    def __init__(self, feed: str | None = None) -> None:
        super().__init__(feed or "advanced")
        self.counts_frames = self.feed == "advanced"

    def subscribe_messages(self, symbols: Sequence[str], first_req_id: int) -> list[Subscribe]:
        out = []
        for batch in chunks(symbols, self.symbols_per_message):
            ids = list(batch)
            if self.feed == "exchange":
                body = {
                    "type": "subscribe",
                    "product_ids": ids,
                    "channels": ["matches", "heartbeat"],
                }
                out.append(Subscribe(dumps(body), tuple(batch)))
                continue
            trades = {"type": "subscribe", "product_ids": ids, "channel": "market_trades"}
            beats = {"type": "subscribe", "product_ids": ids, "channel": "heartbeats"}
            out.append(Subscribe(dumps(trades), tuple(batch)))
            out.append(Subscribe(dumps(beats), ()))
            quoted = self.quoted(batch)
            if quoted:  # top of book for the live feed; its ack is not waited for
                ticker = {"type": "subscribe", "product_ids": quoted, "channel": "ticker"}
                out.append(Subscribe(dumps(ticker), ()))
        return out

    def read_ack(self, text: str, sent: Sequence[Subscribe]) -> AckUpdate:
        reply = load_object(text)
        update = AckUpdate()
        if reply is None:
            return update
        asked = [symbol for s in sent for symbol in s.symbols]
        if reply.get("type") == "error":
            words = " ".join(str(reply.get(k, "")) for k in ("message", "reason")).strip()
            update.rejected.update(reject_all_or_named(words or "error", asked))
        elif reply.get("channel") == "subscriptions":
            for event in _list(reply.get("events")):
                subs = event.get("subscriptions") if isinstance(event, dict) else None
                if isinstance(subs, dict):
                    update.acked.update(_strings(subs.get("market_trades")))
        elif reply.get("type") == "subscriptions":
            for channel in _list(reply.get("channels")):
                if isinstance(channel, dict) and channel.get("name") == "matches":
                    update.acked.update(_strings(channel.get("product_ids")))
        return update


class CoinbaseRest(RestVenue):
    """Coinbase Exchange REST: limits and hooks."""

    name = NAME
    rate_per_second = 8.0
    burst = 4.0

    def body_error(self, data: Any, where: str) -> RestError | None:
        if isinstance(data, dict) and "message" in data and not data.get("products"):
            return RestError(f"{where}: the venue answered {data['message']!r}")
        return None


class CoinbaseHistory(VenueHistory):
    """Coinbase REST history (Exchange API) and catalogue."""

    rest = CoinbaseRest

    async def fetch_trades(
        self, symbol: str, first_id: int, last_id: int, *, since_hint: float | None = None
    ) -> AsyncIterator[DecodedFrame]:
        """Pages of trades ``first_id..last_id`` of product ``symbol``, newest first
        (``since_hint`` unused: Coinbase pages by id)."""
        window = IdWindow(NAME, symbol, first_id, last_id, descending=True)
        while not window.done:
            params = {"limit": PAGE_SIZE, "after": window.next_id + 1}
            page, _ = await self.client.get_page(
                f"/products/{symbol}/trades", params, 1.0, self.decoder, symbol
            )
            if not page.trades and not page.rejects:
                raise window.unavailable("no older trades are held")
            kept = window.take(page)
            if kept.trades or kept.rejects:
                yield kept

    async def older_trades(self, symbol: str, before_id: int, limit: int) -> list[NativeRecord]:
        """One ``after=before_id`` page of at most ``limit`` trades (newest first)."""
        params = {"limit": min(limit, PAGE_SIZE), "after": before_id}
        page, _ = await self.client.get_page(
            f"/products/{symbol}/trades", params, 1.0, self.decoder, symbol
        )
        return [t for t in page.trades if trade_id(t) < before_id]

    async def latest_page(self, symbol: str) -> DecodedFrame:
        """The newest trade of product ``symbol``."""
        page, _ = await self.client.get_page(
            f"/products/{symbol}/trades", {"limit": 1}, 1.0, self.decoder, symbol
        )
        return page

    async def fetch_catalogue(self) -> Catalogue:
        """The products ``/products`` lists."""
        return parse_catalogue(await self.client.get_json("/products", {}))


def parse_catalogue(body: Any) -> Catalogue:
    """A Catalogue from ``/products``: the Exchange shape (a list of ``{"id",..}``) or the
    Advanced Trade shape (``{"products":[{"product_id",..}]}``)."""
    items = body.get("products", []) if isinstance(body, dict) else body
    listings = []
    for item in _list(items):
        if not isinstance(item, dict):
            continue
        product = item.get("id") or item.get("product_id")
        if not isinstance(product, str):
            continue
        base = item.get("base_currency") or item.get("base_currency_id") or ""
        quote = item.get("quote_currency") or item.get("quote_currency_id") or ""
        disabled = item.get("trading_disabled") or item.get("is_disabled")
        online = item.get("status", "online") == "online"
        listings.append(Listing(product, product, base, quote, online and not disabled))
    return Catalogue(NAME, listings)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> set[str]:
    return {v for v in _list(value) if isinstance(v, str)}
