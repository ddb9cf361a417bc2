"""Which streams an admin command works on, checked before anything is fetched or written.

Shared by ``gaps``, ``gap-fill`` and ``run ingest``: the venue must be one we know, the symbol
one the config lists for it or one with committed state, times must parse and be in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp

from schemahub.config import Config
from schemahub.errors import SchemaHubError, UsageError
from schemahub.jobs.lake_ids import TimeWindow
from schemahub.sequencing import StreamKey, StreamState
from schemahub.venues import VENUES, HistoryClient, history_client


def parse_time(text: str, option: str) -> datetime:
    """``text`` as a UTC datetime: ISO 8601 (``2026-12-07T05:00:00Z``; without an offset, UTC)
    or epoch seconds."""
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a time; expected ISO 8601 (e.g. 2026-12-07T05:00:00Z) "
            "or epoch seconds"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def time_window(since: str | None, until: str | None) -> TimeWindow | None:
    """The window ``--since``..``--until`` (``--until`` defaults to now); None without
    ``--since``."""
    if since is None:
        if until is not None:
            raise UsageError("--until needs --since (the start of the time window)")
        return None
    start = parse_time(since, "--since")
    end = parse_time(until, "--until") if until is not None else datetime.now(UTC)
    if start > end:
        raise UsageError(
            f"--since {start.isoformat()} is after --until {end.isoformat()}; "
            "expected since <= until"
        )
    return TimeWindow(start, end)


def check_venues(names: Iterable[str]) -> list[str]:
    """``names`` if each is a venue we know, else a UsageError naming the first unknown one."""
    out = []
    for name in names:
        if name not in VENUES:
            raise UsageError(f"unknown venue {name!r}; expected one of {', '.join(VENUES)}")
        out.append(name)
    return out


def select_streams(
    config: Config,
    states: Mapping[StreamKey, StreamState],
    venue: str | None = None,
    symbol: str | None = None,
) -> list[StreamKey]:
    """The configured streams of the enabled venues plus those with committed state, narrowed
    to ``venue`` and ``symbol``; an unknown venue or symbol is a UsageError."""
    if venue is not None:
        check_venues([venue])
    known = set(states)
    for name, venue_config in config.venues.enabled().items():
        known.update(StreamKey(name, s) for s in venue_config.symbols)
    chosen = sorted(k for k in known if venue is None or k.exchange == venue)
    if symbol is not None:
        chosen = [k for k in chosen if k.symbol == symbol]
        if not chosen:
            where = f" of {venue}" if venue else ""
            listed = sorted({k.symbol for k in known if venue is None or k.exchange == venue})
            raise UsageError(
                f"unknown symbol {symbol!r}{where}: not configured and no committed state; "
                f"expected one of {', '.join(listed) or '(none)'}"
            )
    return chosen


def open_clients(config: Config, venues: Iterable[str]) -> dict[str, HistoryClient]:
    """A REST history client per venue, at the configured endpoint (close them after use)."""
    return {v: history_client(v, getattr(config.venues, v)) for v in sorted(set(venues))}


async def close_clients(clients: Mapping[str, HistoryClient]) -> None:
    """Close every client's HTTP session."""
    await asyncio.gather(*(c.close() for c in clients.values()))


@dataclass
class Newest:
    """The venues' newest trade id per stream, and the venues that could not be asked (a venue
    down must not hide what the others say)."""

    ids: dict[StreamKey, int | None] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # venue -> why


async def latest_ids(clients: Mapping[str, HistoryClient], keys: Iterable[StreamKey]) -> Newest:
    """The venue's newest trade id of each stream (one request each, venues in parallel)."""

    async def newest(venue: str, symbol: str) -> int | None:
        return await clients[venue].latest_trade_id(symbol)

    return await _ask_each(keys, newest, "its newest trade id")


async def owed_anchors(
    clients: Mapping[str, HistoryClient], states: Mapping[StreamKey, StreamState]
) -> Newest:
    """For each stream still owed from its subscription (``owed_since``; a daemon subscribed
    it and saw no first trade it can trust), the venue's first trade id since then."""
    owed = {key: state.owed_since for key, state in states.items() if state.owed_since is not None}

    async def first_since(venue: str, symbol: str) -> int | None:
        since = owed[StreamKey(venue, symbol)]
        assert since is not None
        return await clients[venue].first_id_since(symbol, since)

    return await _ask_each(owed, first_since, "its first trade id since a subscription")


async def _ask_each(
    keys: Iterable[StreamKey], ask: Callable[[str, str], Awaitable[int | None]], what: str
) -> Newest:
    """``ask(venue, symbol)`` for each stream, one venue's streams after each other and the
    venues in parallel; a venue that fails goes into ``failed`` with why."""
    answers = Newest()

    async def one_venue(venue: str, symbols: list[str]) -> None:
        try:
            for symbol in symbols:
                answers.ids[StreamKey(venue, symbol)] = await ask(venue, symbol)
        except (SchemaHubError, aiohttp.ClientError, TimeoutError) as exc:
            answers.failed[venue] = f"could not ask {venue} for {what}: {exc}"

    by_venue: dict[str, list[str]] = {}
    for key in keys:
        by_venue.setdefault(key.exchange, []).append(key.symbol)
    await asyncio.gather(*(one_venue(v, s) for v, s in by_venue.items()))
    return answers
