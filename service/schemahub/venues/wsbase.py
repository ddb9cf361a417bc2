"""What a venue's websocket is, as data and a few hooks; the session logic lives in session.py.

A venue module subclasses :class:`WsVenue`: limits and timings as class attributes, plus how to
build its URL and subscribe messages and how to read its acknowledgements. Trade frames are not
read here: the decoders (``schemahub.decode``) do that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson


@dataclass(frozen=True, slots=True)
class Subscribe:
    """One subscribe message: its text, the symbols it asks for, and its request id if any."""

    text: str
    symbols: tuple[str, ...]
    req_id: int | None = None


@dataclass(slots=True)
class AckUpdate:
    """What one control frame said about subscriptions: symbols confirmed, symbols refused."""

    acked: set[str] = field(default_factory=set)
    rejected: dict[str, str] = field(default_factory=dict)  # symbol -> the venue's words

    def __bool__(self) -> bool:
        return bool(self.acked or self.rejected)


class WsVenue:
    """A venue's websocket protocol (subclass per venue; instances are cheap and stateless)."""

    name: ClassVar[str]
    # Streams one connection may carry (Binance: 1024); config may lower it.
    max_streams_per_connection: ClassVar[int] = 200
    # Symbols per subscribe message.
    symbols_per_message: ClassVar[int] = 100
    # Control messages (subscribe, app pings) per second per connection; None: unpaced.
    control_messages_per_second: ClassVar[float | None] = None
    # Budgets a venue counts per IP, shared by every connection of a session (Coinbase
    # Advanced: 8 connections and 8 unauthenticated messages a second per IP); None: none.
    connects_per_second_per_ip: ClassVar[float | None] = None
    messages_per_second_per_ip: ClassVar[float | None] = None
    # Replace each connection before it reaches this age (Binance cuts at 24 h); None: never.
    max_connection_age_seconds: ClassVar[float | None] = None
    # Send an application-level ping after this fraction of the silence timeout with no frame.
    app_ping_fraction: ClassVar[float | None] = None
    # Whether frames carry a per-connection counter (Coinbase Advanced ``sequence_num``).
    counts_frames: bool = False

    def __init__(self, feed: str | None = None) -> None:
        self.feed = feed
        # Symbols whose top-of-book channel is subscribed beside their trades (live feed).
        self.quote_symbols: frozenset[str] = frozenset()

    def quoted(self, symbols: Sequence[str]) -> list[str]:
        """Those of ``symbols`` that also get the top-of-book channel, in order."""
        return [s for s in symbols if s in self.quote_symbols]

    def connect_url(self, base_url: str, symbols: Sequence[str]) -> str:
        """The URL to open for a connection carrying ``symbols``."""
        return base_url

    def subscribe_messages(self, symbols: Sequence[str], first_req_id: int) -> list[Subscribe]:
        """The messages that subscribe ``symbols`` (request ids counted from ``first_req_id``)."""
        raise NotImplementedError

    def read_ack(self, text: str, sent: Sequence[Subscribe]) -> AckUpdate:
        """What the control frame ``text`` says about the subscriptions in ``sent``."""
        raise NotImplementedError

    def ping_message(self, req_id: int) -> str | None:
        """An application-level ping, for venues that want one when idle."""
        return None


def load_object(text: str) -> dict[str, Any] | None:
    """``text`` parsed when it is a JSON object, else None (acks are always objects)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def dumps(value: Any) -> str:
    """Compact JSON text for an outgoing message."""
    return orjson.dumps(value).decode()


def named_in(words: str, candidates: Iterable[str]) -> list[str]:
    """The candidates that ``words`` mentions (a venue error naming the bad symbol)."""
    return [c for c in candidates if c and c in words]


def reject_all_or_named(reason: str, candidates: Sequence[str]) -> dict[str, str]:
    """Blame the symbols the venue's words name; when it names none, all of ``candidates``."""
    blamed = named_in(reason, candidates) or list(candidates)
    return dict.fromkeys(blamed, reason)
