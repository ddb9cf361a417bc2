"""Live venue connectivity: websocket sessions, REST history clients, symbol catalogues.

One module per venue (``binance``, ``coinbase``, ``kraken``), each mostly data plus a few hooks
over the shared machinery (``session``/``connection`` for websockets, ``rest``/``history`` for
REST, ``catalog`` for symbol listings). This module is the registry the daemon uses::

    session = open_session("binance", config.venues.binance, sink, recorder=...)
    await session.run()                       # until cancelled; stats in session.stats

    async with history_client("kraken", config.venues.kraken) as rest:
        catalogue = await rest.fetch_catalogue()
        async for page in rest.fetch_trades("BTC/USD", 100, 250, since_hint=...):
            ...
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from schemahub.config import CaptureConfig, VenueConfig
from schemahub.decode import decoder_for
from schemahub.errors import UsageError
from schemahub.venues.catalog import Catalogue, Listing
from schemahub.venues.events import (
    Connected,
    Disconnected,
    FrameSink,
    ReceivedBatch,
    ReceivedFrame,
    SequenceGap,
    SessionEvent,
    SessionStats,
    SubscriptionRejected,
)
from schemahub.venues.recording import CaptureRecorder
from schemahub.venues.rest import HistoryClient, VenueHistory
from schemahub.venues.session import VenueSession, options_from_config
from schemahub.venues.wsbase import WsVenue

VENUES: tuple[str, ...] = ("binance", "coinbase", "kraken")
_CLASSES = {
    "binance": ("BinanceWs", "BinanceHistory"),
    "coinbase": ("CoinbaseWs", "CoinbaseHistory"),
    "kraken": ("KrakenWs", "KrakenHistory"),
}

__all__ = [
    "VENUES",
    "CaptureRecorder",
    "Catalogue",
    "Connected",
    "Disconnected",
    "FrameSink",
    "HistoryClient",
    "Listing",
    "ReceivedBatch",
    "ReceivedFrame",
    "SequenceGap",
    "SessionEvent",
    "SessionStats",
    "SubscriptionRejected",
    "VenueSession",
    "history_client",
    "open_session",
    "recorder_for",
    "ws_venue",
]


def _venue_class(name: str, index: int) -> Any:
    if name not in _CLASSES:
        raise UsageError(f"unknown venue {name!r}; expected one of {', '.join(VENUES)}")
    module = importlib.import_module(f"{__name__}.{name}")
    return getattr(module, _CLASSES[name][index])


def ws_venue(name: str, feed: str | None = None) -> WsVenue:
    """The websocket protocol of venue ``name`` (``feed`` picks Coinbase's feed)."""
    return _venue_class(name, 0)(feed)


def history_client(name: str, config: VenueConfig) -> VenueHistory:
    """A REST history client for ``name`` at ``config.rest_url`` (close it, or ``async with``)."""
    return _venue_class(name, 1)(config.rest_url, config.rest_requests_per_second)


def open_session(
    name: str,
    config: VenueConfig,
    sink: FrameSink,
    *,
    symbols: list[str] | None = None,
    recorder: CaptureRecorder | None = None,
    clock: Callable[[], float] = time.time,
    quote_symbols: Sequence[str] = (),
    **options: Any,
) -> VenueSession:
    """A websocket session for ``name`` over ``symbols`` (default: the configured ones, which
    should already be checked against the venue's catalogue); ``quote_symbols`` also get the
    venue's top-of-book channel. ``options`` override
    :class:`~schemahub.venues.connection.SessionOptions` fields."""
    venue = ws_venue(name, config.feed)
    venue.quote_symbols = frozenset(quote_symbols)
    return VenueSession(
        venue,
        config.ws_url,
        list(symbols if symbols is not None else config.symbols),
        decoder_for(name),
        sink,
        options=options_from_config(venue, config, **options),
        max_streams_per_connection=config.max_streams_per_connection,
        recorder=recorder,
        clock=clock,
    )


def recorder_for(name: str, capture: CaptureConfig) -> CaptureRecorder | None:
    """A capture recorder for venue ``name`` when ``capture.dir`` is set, else None."""
    if not capture.dir:
        return None
    return CaptureRecorder(capture.dir, name, capture.max_file_bytes)
