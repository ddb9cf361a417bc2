"""Which replica owns which stream (pure): rendezvous hashing of (exchange, symbol).

Every replica is given the same stream list and ``shard.count``; each computes, for every
stream, a score per shard index and keeps the streams whose highest score is its own index.
No coordination is needed, and the assignment is stable: a stream's owner depends only on the
stream and the count, so adding or removing a symbol moves that symbol alone, and going from
``n`` to ``n + 1`` shards moves only the streams the new shard wins (about ``1 / (n + 1)``).
The price is balance: with few streams per shard the split can be uneven (``schemahub shards``
prints it), and a shard may own none (it then idles, healthy, committing nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from schemahub.config import Config, ShardConfig, VenuesConfig


def shard_of(exchange: str, symbol: str, count: int) -> int:
    """The shard index in ``range(count)`` that owns the stream (exchange, symbol as
    configured)."""
    return max(range(count), key=lambda index: _score(exchange, symbol, index))


def _score(exchange: str, symbol: str, index: int) -> int:
    # A keyed, platform-independent hash (Python's hash() is salted per process).
    digest = hashlib.blake2b(f"{exchange}\0{symbol}\0{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assignment(streams: Iterable[tuple[str, str]], count: int) -> dict[int, list[tuple[str, str]]]:
    """Every shard index with the streams it owns, in the given order."""
    out: dict[int, list[tuple[str, str]]] = {index: [] for index in range(count)}
    for exchange, symbol in streams:
        out[shard_of(exchange, symbol, count)].append((exchange, symbol))
    return out


def configured_streams(venues: VenuesConfig) -> list[tuple[str, str]]:
    """(exchange, symbol) of every enabled venue's configured symbols, repeats dropped."""
    streams = [(name, s) for name, venue in venues.enabled().items() for s in venue.symbols]
    return list(dict.fromkeys(streams))


def own_streams(config: Config) -> Config:
    """``config`` with each venue's symbols cut to the streams ``config.shard`` owns; a venue
    left with none is disabled (no connection, not awaited by ``/readyz``)."""
    shard: ShardConfig = config.shard
    if shard.count == 1:
        return config
    venues = {}
    for name, venue in config.venues.enabled().items():
        mine = [s for s in venue.symbols if shard_of(name, s, shard.count) == shard.index]
        venues[name] = venue.model_copy(update={"symbols": mine, "enabled": bool(mine)})
    return config.model_copy(update={"venues": config.venues.model_copy(update=venues)})
