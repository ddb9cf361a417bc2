"""Spreading streams over connections and messages."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemahub.sim import SimConfig, Simulator
from schemahub.venues import open_session
from schemahub.venues.binance import BinanceWs
from schemahub.venues.plan import chunks, connections_needed, spread, streams_per_symbol, unique
from tests.venues.helpers import KeepingSink, running, wait_until
from tests.venues.simtools import FAST_RETRY, venue_config

LIMIT = BinanceWs.max_streams_per_connection  # 1,024


def test_two_thousand_binance_streams_take_two_connections_of_a_thousand() -> None:
    groups = spread([f"S{i}" for i in range(2000)], BinanceWs.max_streams_per_connection)
    assert [len(g) for g in groups] == [1000, 1000]


def test_binance_subscribes_in_batches_each_naming_its_streams() -> None:
    symbols = [f"SYM{i}USDT" for i in range(1000)]
    messages = BinanceWs().subscribe_messages(symbols, first_req_id=7)
    assert [m.req_id for m in messages] == [7, 8, 9, 10, 11]
    assert [s for m in messages for s in m.symbols] == symbols
    assert '"sym0usdt@trade"' in messages[0].text


@given(count=st.integers(0, 5000), limit=st.integers(1, 2000))
def test_spread_uses_the_fewest_groups_balanced_and_in_order(count: int, limit: int) -> None:
    items = list(range(count))
    groups = spread(items, limit)
    assert len(groups) == connections_needed(count, limit)
    assert [x for g in groups for x in g] == items
    assert all(len(g) <= limit for g in groups)
    if groups:
        assert max(map(len, groups)) - min(map(len, groups)) <= 1


@given(items=st.lists(st.integers(), max_size=300), size=st.integers(1, 50))
def test_chunks_keep_everything_in_order(items: list[int], size: int) -> None:
    parts = chunks(items, size)
    assert [x for p in parts for x in p] == items
    assert all(1 <= len(p) <= size for p in parts)


def test_a_symbol_configured_twice_is_one_stream() -> None:
    assert unique(["BTCUSDT", "ETHUSDT", "BTCUSDT"]) == ["BTCUSDT", "ETHUSDT"]


def _streams_per_connection(symbols: list[str], quoted: list[str]) -> list[int]:
    """The streams each planned Binance connection subscribes, counted in its messages."""
    venue = BinanceWs()
    venue.quote_symbols = frozenset(quoted)
    slots = spread(symbols, LIMIT, streams_per_symbol(venue.quote_symbols))
    assert [s for slot in slots for s in slot] == symbols
    return [
        sum(len(orjson.loads(m.text)["params"]) for m in venue.subscribe_messages(slot, 1))
        for slot in slots
    ]


def test_trades_plus_quotes_at_the_limit_fit_one_connection() -> None:
    symbols = [f"S{i}USDT" for i in range(LIMIT - 24)]
    assert _streams_per_connection(symbols, symbols[:24]) == [LIMIT]


def test_one_stream_over_the_limit_takes_a_second_connection() -> None:
    symbols = [f"S{i}USDT" for i in range(LIMIT - 23)]  # 1,001 trades + 24 quotes = 1,025
    counts = _streams_per_connection(symbols, symbols[:24])
    assert len(counts) == 2 and sum(counts) == LIMIT + 1
    assert max(counts) - min(counts) <= 1  # 513 and 512: even, not 1,024 and 1


@given(
    trades=st.integers(0, 3000),
    quoted=st.sets(st.integers(0, 2999), max_size=400),
    limit=st.integers(2, 1024),
)
def test_quoted_symbols_count_twice_and_no_group_goes_over(
    trades: int, quoted: set[int], limit: int
) -> None:
    weight = streams_per_symbol({q for q in quoted if q < trades})
    items = list(range(trades))
    groups = spread(items, limit, weight)
    assert [x for g in groups for x in g] == items
    assert all(sum(map(weight, g)) <= limit for g in groups)
    assert len(groups) >= connections_needed(sum(map(weight, items)), limit)


@pytest.mark.slow
async def test_a_session_over_the_limit_with_quotes_subscribes_everything_on_two_connections():
    symbols = tuple(f"T{i:04d}" for i in range(LIMIT - 23))
    async with Simulator(SimConfig(seed=5, symbols=symbols, rate_per_stream=0.0)) as sim:
        listed = sim.symbols("binance")
        config = venue_config(sim, "binance", silence_timeout_seconds=30.0)
        session = open_session(
            "binance", config, KeepingSink(), retry=FAST_RETRY, quote_symbols=listed[:24]
        )
        async with running(session) as reader:
            await wait_until(lambda: session.subscribed() or reader.done(), "subscribed")
            assert session.subscribed(), "the session did not get every subscription answered"
        violations = dict(sim.stats().ws_limit_violations)
    assert session.stats.subscriptions_rejected == 0
    assert len(session.slots) == 2 and violations == {}
