"""Kraken spot: websocket v2 ``trade`` channel, REST ``Trades`` (by time) and ``AssetPairs``.

Websocket: one ``subscribe`` per batch with ``req_id``; Kraken acks each symbol on its own,
``success: false`` with ``symbol`` and ``error`` when it refuses one. An app-level ``ping``
goes out when a connection has been quiet for half the silence timeout.

Names: websocket v2 says ``BTC/USD`` where REST says ``XBTUSD`` (altname) or ``XXBTZUSD`` (the
result key) and AssetPairs' ``wsname`` still says ``XBT/USD``. The catalogue keys listings by
the v2 name (XBT -> BTC, XDG -> DOGE) and accepts the other spellings as aliases.

History by id: ``Trades`` pages by time (``since``: seconds or ns; ``last`` comes back as a ns
cursor to pass as the next ``since``), not by id. To fetch ids ``first..last`` we find a time
cursor whose page starts at or before ``first``:

1. probe ``since_hint`` when the caller knows roughly when the gap began (the sequencer knows
   the time of the last trade before it);
2. otherwise step back from the hint (or now) by 1 min, 2 min, 4 min, ... until a page starts at
   or before ``first``; after 12 steps (about 2.8 days), probe ``since=0`` (the oldest trades
   held: if even they are newer than ``first``, the history is gone);
3. bisect between the last time found too early and the first found too late until the page
   holds ``first`` (pages hold 1,000 trades, so this stops well before the millisecond);
4. page forward with ``since=last`` until past ``last``.

A search costs a handful of requests at about one a second; a good hint makes it one.

By time (``first_id_since``) is Kraken's own way: one page from just before the time asked for.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from schemahub.decode.base import DecodedFrame, NativeRecord
from schemahub.errors import RateLimitedError, RestError, TransientRestError
from schemahub.venues.catalog import Catalogue, Listing
from schemahub.venues.history import IdWindow, trade_id, trade_seconds
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

NAME = "kraken"
PAGE_SIZE = 1000
# Kraken's own asset codes that websocket v2 spells the common way.
V2_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
RATE_LIMIT_ERRORS = ("EGeneral:Too many requests", "EAPI:Rate limit exceeded")
TRANSIENT_ERRORS = ("EService:Unavailable", "EService:Busy", "EGeneral:Internal error")
FIRST_STEP_SECONDS = 60.0
MAX_STEPS_BACK = 12
MIN_BISECT_SECONDS = 1e-3
# How early a time search asks: ``since`` is exclusive and a float's nanoseconds approximate.
SINCE_MARGIN_SECONDS = 1e-3


class KrakenWs(WsVenue):
    """Kraken websocket v2: data and hooks."""

    name = NAME
    max_streams_per_connection = 200
    symbols_per_message = 50
    app_ping_fraction = 0.5

    def subscribe_messages(self, symbols: Sequence[str], first_req_id: int) -> list[Subscribe]:
        out = []
        for batch in chunks(symbols, self.symbols_per_message):
            req_id = first_req_id + len(out)
            params = {"channel": "trade", "symbol": list(batch), "snapshot": True}
            text = dumps({"method": "subscribe", "params": params, "req_id": req_id})
            out.append(Subscribe(text, tuple(batch), req_id))
            quoted = self.quoted(batch)
            if quoted:  # top of book for the live feed; its acks are not waited for
                req_id = first_req_id + len(out)
                # "bbo": an update on every change of the best bid or offer, not only on trades
                params = {"channel": "ticker", "symbol": quoted, "event_trigger": "bbo"}
                text = dumps({"method": "subscribe", "params": params, "req_id": req_id})
                out.append(Subscribe(text, (), req_id))
        return out

    def read_ack(self, text: str, sent: Sequence[Subscribe]) -> AckUpdate:
        reply = load_object(text)
        update = AckUpdate()
        if reply is None or reply.get("method") != "subscribe":
            return update
        request = next((s for s in sent if s.req_id == reply.get("req_id")), None)
        if request is not None and not request.symbols:
            return update  # a ticker subscription: the trades' acks decide readiness
        asked = list(request.symbols) if request else [x for s in sent for x in s.symbols]
        result = reply.get("result") if isinstance(reply.get("result"), dict) else {}
        symbol = reply.get("symbol") or result.get("symbol")
        if reply.get("success") is True:
            if isinstance(symbol, str):
                update.acked.add(symbol)
            return update
        words = str(reply.get("error") or "subscription refused")
        if isinstance(symbol, str) and symbol in asked:
            update.rejected[symbol] = words
        else:
            update.rejected.update(reject_all_or_named(words, asked))
        return update

    def ping_message(self, req_id: int) -> str | None:
        return dumps({"method": "ping", "req_id": req_id})


class KrakenRest(RestVenue):
    """Kraken public REST: about one request a second (bursts of a few)."""

    name = NAME
    rate_per_second = 0.9
    burst = 2.0

    def body_error(self, data: Any, where: str) -> RestError | None:
        errors = data.get("error") if isinstance(data, dict) else None
        if not errors:
            return None
        words = "; ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
        if any(e in words for e in RATE_LIMIT_ERRORS):
            return RateLimitedError(f"{where}: {words}")
        if any(e in words for e in TRANSIENT_ERRORS):
            return TransientRestError(f"{where}: {words}")
        return RestError(f"{where}: the venue answered {words}")


class KrakenHistory(VenueHistory):
    """Kraken REST history (time-cursored, searched by id) and catalogue."""

    rest = KrakenRest
    oldest_probe_requests = None  # each probe is a time search of its own
    _catalogue: Catalogue | None = None

    async def fetch_trades(
        self, symbol: str, first_id: int, last_id: int, *, since_hint: float | None = None
    ) -> AsyncIterator[DecodedFrame]:
        """Pages of trades ``first_id..last_id`` of ``symbol`` (v2 name), ascending.
        ``since_hint``: epoch seconds at or before the time of ``first_id``, if known."""
        pair = (await self.catalogue()).get(symbol)
        window = IdWindow(NAME, pair.symbol, first_id, last_id)
        page = await self._find_start(pair, window, since_hint)
        while True:
            kept = window.take(page)
            if kept.trades or kept.rejects:
                yield kept
            if window.done:
                return
            if not page.trades and not page.rejects:
                raise window.unavailable("no newer trades yet")
            page = await self._page(pair, page.cursor)

    async def latest_page(self, symbol: str) -> DecodedFrame:
        """The newest trade of ``symbol`` (``Trades`` without ``since``)."""
        pair = (await self.catalogue()).get(symbol)
        params = {"pair": pair.rest_name, "count": 1}
        page, _ = await self.client.get_page(
            "/0/public/Trades", params, 1.0, self.decoder, pair.symbol
        )
        return page

    async def first_id_since(self, symbol: str, since: float) -> int | None:
        """As the base (newest id read first), but straight from the time cursor: a page from
        just before ``since``, its trades before ``since`` dropped; the next page only while a
        full page holds nothing at or after ``since``. Usually two requests."""
        newest = await self.latest_trade_id(symbol)
        if newest is None:
            return None
        pair = (await self.catalogue()).get(symbol)
        page = await self._page(pair, since - SINCE_MARGIN_SECONDS)
        while True:
            due = [trade_id(t) for t in page.trades if trade_seconds(NAME, t) >= since]
            if due:
                return min(min(due), newest + 1)
            if len(page.trades) + len(page.rejects) < PAGE_SIZE:
                return newest + 1
            page = await self._page(pair, page.cursor)

    async def older_trades(self, symbol: str, before_id: int, limit: int) -> list[NativeRecord]:
        """As the base; but a range running past the oldest trade held gives the id search no
        start, so then the oldest page (``since=0``) supplies what is left of the range."""
        found = await super().older_trades(symbol, before_id, limit)
        if found:
            return found
        return sorted(await self._oldest_held(symbol, before_id - limit, before_id - 1),
                      key=trade_id, reverse=True)  # fmt: skip

    async def newer_trades(self, symbol: str, after_id: int, last_id: int) -> list[NativeRecord]:
        """As the base, with the same fallback as :meth:`older_trades` at the oldest end."""
        found = await super().newer_trades(symbol, after_id, last_id)
        if found or last_id <= after_id:
            return found
        return sorted(await self._oldest_held(symbol, after_id + 1, last_id), key=trade_id)

    async def _oldest_held(self, symbol: str, first: int, last: int) -> list[NativeRecord]:
        """The trades ``first..last`` among the oldest page held (``since=0``)."""
        page = await self._page((await self.catalogue()).get(symbol), 0)
        return [t for t in page.trades if first <= trade_id(t) <= last]

    async def fetch_catalogue(self) -> Catalogue:
        """The pairs AssetPairs lists, keyed by websocket v2 name."""
        return parse_catalogue(await self.client.get_json("/0/public/AssetPairs", {}))

    async def catalogue(self) -> Catalogue:
        """The catalogue, fetched once."""
        if self._catalogue is None:
            self._catalogue = await self.fetch_catalogue()
        return self._catalogue

    async def _page(self, pair: Listing, since: str | float | None) -> DecodedFrame:
        params = {"pair": pair.rest_name, "since": _since_text(since), "count": PAGE_SIZE}
        page, _ = await self.client.get_page(
            "/0/public/Trades", params, 1.0, self.decoder, pair.symbol
        )
        return page

    async def _find_start(
        self, pair: Listing, window: IdWindow, hint: float | None
    ) -> DecodedFrame:
        """A page whose trades start at or before ``window.first`` and, unless the market is
        very busy, reach it (see the module docstring)."""
        first = window.first
        too_late: float | None = None
        at = hint if hint is not None else time.time()
        step = FIRST_STEP_SECONDS
        for _ in range(MAX_STEPS_BACK + 1):
            page = await self._page(pair, at)
            if _starts_by(page, first):
                return await self._bisect(pair, first, at, page, too_late)
            too_late, at, step = at, at - step, step * 2
        page = await self._page(pair, 0)
        if not _starts_by(page, first):
            raise window.unavailable("even the oldest trades held are newer")
        return await self._bisect(pair, first, 0.0, page, too_late)

    async def _bisect(
        self, pair: Listing, first: int, early: float, page: DecodedFrame, late: float | None
    ) -> DecodedFrame:
        while late is not None and not _reaches(page, first) and late - early > MIN_BISECT_SECONDS:
            middle = (early + late) / 2
            probe = await self._page(pair, middle)
            if _starts_by(probe, first):
                early, page = middle, probe
            else:
                late = middle
        return page


def _starts_by(page: DecodedFrame, first: int) -> bool:
    return bool(page.trades) and min(trade_id(r) for r in page.trades) <= first


def _reaches(page: DecodedFrame, first: int) -> bool:
    return bool(page.trades) and max(trade_id(r) for r in page.trades) >= first


def _since_text(since: str | float | None) -> str | None:
    """A probe time (epoch seconds) as Kraken's ns ``since``; cursors pass through as sent."""
    if since is None or isinstance(since, str):
        return since
    return str(int(max(0.0, since) * 1e9))


def v2_name(name: str) -> str:
    """A Kraken pair name as websocket v2 spells it: ``XBT/USD`` -> ``BTC/USD``."""
    return "/".join(V2_ASSETS.get(part, part) for part in name.split("/"))


def parse_catalogue(body: Any) -> Catalogue:
    """A Catalogue from an AssetPairs answer. Pairs without a ``wsname`` (dark pools, ``.d``)
    are not streamable and left out; REST names and v1 names become aliases."""
    result = body.get("result", {}) if isinstance(body, dict) else {}
    listings: list[Listing] = []
    aliases: dict[str, str] = {}
    for key, info in result.items() if isinstance(result, dict) else ():
        wsname = info.get("wsname") if isinstance(info, dict) else None
        if not isinstance(wsname, str):
            continue
        symbol = v2_name(wsname)
        altname = info.get("altname") or key
        base, _, quote = symbol.partition("/")
        listings.append(
            Listing(symbol, altname, base, quote, info.get("status", "online") == "online")
        )
        aliases.update({wsname: symbol, altname: symbol, key: symbol})
    return Catalogue(NAME, listings, aliases)
