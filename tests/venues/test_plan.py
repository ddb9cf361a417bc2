"""Spreading streams over connections and messages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemahub.venues.binance import BinanceWs
from schemahub.venues.plan import chunks, connections_needed, spread, unique


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
