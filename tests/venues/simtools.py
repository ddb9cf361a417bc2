"""Running sessions and REST clients against the offline simulator, and its ground truth."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import pyarrow.compute as pc

from schemahub.config import VenueConfig
from schemahub.sim.server import Simulator
from schemahub.venues import history_client, open_session
from schemahub.venues.backoff import RetryPolicy
from schemahub.venues.rest import VenueHistory
from schemahub.venues.session import VenueSession
from tests.venues.helpers import KeepingSink

FAST_RETRY = RetryPolicy(base_seconds=0.05, cap_seconds=0.5)


def venue_config(sim: Simulator, venue: str, **changes: Any) -> VenueConfig:
    """A venue section pointing at ``sim``."""
    values: dict[str, Any] = {
        "ws_url": sim.ws_url(venue),
        "rest_url": sim.rest_url(venue),
        "symbols": sim.symbols(venue),
        "silence_timeout_seconds": 2.0,
        **changes,
    }
    return VenueConfig(**values)


def sim_session(sim: Simulator, venue: str, sink: KeepingSink, **changes: Any) -> VenueSession:
    """A session on ``sim`` with quick reconnects."""
    options = {"retry": FAST_RETRY}
    for key in ("max_connection_age", "ack_timeout"):
        if key in changes:
            options[key] = changes.pop(key)
    return open_session(venue, venue_config(sim, venue, **changes), sink, **options)


def sim_history(sim: Simulator, venue: str) -> VenueHistory:
    """A REST client on ``sim`` with its default (venue-sized) rate limit."""
    return history_client(venue, venue_config(sim, venue))


def truth_ids(sim: Simulator, venue: str, symbol: str) -> list[int]:
    """Every trade id the simulator generated for one stream, ascending."""
    table = sim.ground_truth()
    mask = pc.and_(pc.equal(table["exchange"], venue), pc.equal(table["symbol"], symbol))
    return sorted(table.filter(mask)["trade_id"].to_pylist())


def truth_rows(sim: Simulator, venue: str, symbol: str) -> dict[int, dict[str, Any]]:
    """The ground-truth rows of one stream by trade id."""
    table = sim.ground_truth().to_pylist()
    return {r["trade_id"]: r for r in table if r["exchange"] == venue and r["symbol"] == symbol}


def holes(ids: Iterable[int]) -> list[tuple[int, int]]:
    """The runs of ids missing between the smallest and the largest of ``ids``."""
    present = sorted(set(ids))
    return [(a + 1, b - 1) for a, b in itertools.pairwise(present) if b > a + 1]
