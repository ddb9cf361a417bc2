"""Live venue connectivity: websocket sessions, REST history clients, symbol catalogues.

One module per venue (found through :mod:`schemahub.registry`), each mostly data plus a few hooks
over the shared machinery (``session``/``connection`` for websockets, over our own client
``wsclient``; ``rest``/``history`` for REST, ``catalog`` for symbol listings). This module is
what the daemon opens them with::

    session = open_session("binance", config.venues.binance, sink, recorder=...)
    await session.run()                       # until cancelled; stats in session.stats

    async with history_client("kraken", config.venues.kraken) as rest:
        catalogue = await rest.fetch_catalogue()
        async for page in rest.fetch_trades("BTC/USD", 100, 250, since_hint=...):
            ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from schemahub.config import CaptureConfig, VenueConfig
from schemahub.decode import decoder_for
from schemahub.registry import BUILTIN_NAMES, venue
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

VENUES: tuple[str, ...] = BUILTIN_NAMES  # the product venues

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


def ws_venue(name: str, feed: str | None = None) -> WsVenue:
    """The websocket protocol of venue ``name`` (``feed`` picks Coinbase's feed)."""
    return venue(name).ws_class()(feed)


def history_client(name: str, config: VenueConfig) -> VenueHistory:
    """A REST history client for ``name`` at ``config.rest_url`` (close it, or ``async with``)."""
    return venue(name).history_class()(config.rest_url, config.rest_requests_per_second)


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
