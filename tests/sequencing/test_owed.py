"""Streams owed from their subscription time: kept only while needed, anchored from the venue's
answer, persisted in the offsets, and united between writers."""

from __future__ import annotations

from schemahub.sequencing import Gap, Sequencer, StreamState, decode_offsets, encode_offsets
from schemahub.sequencing.union import union_state

EX, SYM = "kraken", "BTC/USD"
SUBSCRIBED = 1_700_000_000.25


def owed_stream() -> Sequencer:
    seq = Sequencer()
    seq.owe_since(EX, SYM, SUBSCRIBED)
    return seq


def test_a_first_connection_that_stays_up_starts_the_stream_at_its_first_trade() -> None:
    seq = owed_stream()
    assert seq.snapshot()[(EX, SYM)] == StreamState(owed_since=SUBSCRIBED)
    assert seq.admit(EX, SYM, [50, 51]) == [True, True]
    assert seq.state(EX, SYM) == StreamState(51)  # nothing owed any more
    assert seq.anchors_needed(EX) == []


def test_a_drop_before_the_first_trade_then_the_anchor_opens_a_gap_below_it() -> None:
    seq = owed_stream()
    assert seq.need_anchor(EX, SYM)
    assert seq.anchors_needed(EX) == [(SYM, SUBSCRIBED)]
    seq.admit(EX, SYM, [60, 61])  # the first trade on the next connection
    assert seq.state(EX, SYM) == StreamState(61, owed_since=SUBSCRIBED, owed_below=60)
    gap = seq.anchor(EX, SYM, 55)
    assert gap == Gap(EX, SYM, 55, 59)
    assert seq.state(EX, SYM) == StreamState(61, ((55, 59),))
    assert seq.admit(EX, SYM, [54, 55, 59, 60]) == [False, True, True, False]
    assert seq.anchors_needed(EX) == []


def test_an_anchor_before_any_trade_starts_the_stream_just_below_it() -> None:
    seq = owed_stream()
    seq.need_anchor(EX, SYM)
    assert seq.anchor(EX, SYM, 70) is None
    assert seq.state(EX, SYM) == StreamState(69)
    assert seq.admit(EX, SYM, [73]) == [True]
    assert seq.gaps_for(EX, SYM) == [Gap(EX, SYM, 70, 72)]


def test_an_anchor_at_or_above_the_first_trade_opens_nothing() -> None:
    seq = owed_stream()
    seq.need_anchor(EX, SYM)
    seq.admit(EX, SYM, [80])
    assert seq.anchor(EX, SYM, 80) is None
    assert seq.state(EX, SYM) == StreamState(80)


def test_a_venue_without_trades_of_the_stream_leaves_it_fresh() -> None:
    seq = owed_stream()
    seq.need_anchor(EX, SYM)
    assert seq.anchor(EX, SYM, None) is None
    assert seq.snapshot() == {}
    assert seq.admit(EX, SYM, [5]) == [True]
    assert seq.open_gaps() == []


def test_a_stream_with_state_is_never_owed() -> None:
    seq = Sequencer()
    seq.admit(EX, SYM, [10])
    seq.owe_since(EX, SYM, SUBSCRIBED)
    assert not seq.need_anchor(EX, SYM)
    assert seq.state(EX, SYM) == StreamState(10)


def test_the_earliest_subscription_is_owed() -> None:
    seq = owed_stream()
    seq.owe_since(EX, SYM, SUBSCRIBED + 30)  # a later connection
    seq.owe_since(EX, SYM, SUBSCRIBED - 1)
    assert seq.state(EX, SYM).owed_since == SUBSCRIBED - 1


def test_owed_streams_survive_a_restart_and_then_need_an_anchor() -> None:
    """The process that subscribed died: the next one cannot know what was missed."""
    seq = owed_stream()
    seq.owe_since(EX, "ETH/USD", SUBSCRIBED)
    seq.need_anchor(EX, "ETH/USD")
    seq.admit(EX, "ETH/USD", [7, 8])
    seq.admit(EX, "SOL/USD", [3])
    restored = Sequencer(decode_offsets(encode_offsets(seq.snapshot())))
    assert restored.snapshot() == seq.snapshot()
    assert restored.anchors_needed(EX) == [("BTC/USD", SUBSCRIBED), ("ETH/USD", SUBSCRIBED)]
    assert restored.anchor(EX, "ETH/USD", 4) == Gap(EX, "ETH/USD", 4, 6)


def test_writers_unite_owed_ids_only_when_both_owe_them() -> None:
    first = StreamState(20, owed_since=100.0, owed_below=15)
    second = StreamState(25, owed_since=110.0, owed_below=18)
    assert union_state(first, second) == StreamState(25, owed_since=110.0, owed_below=15)
    started = StreamState(22)  # a writer whose first connection stayed up: it owes nothing
    assert union_state(first, started).owed_since is None
    assert union_state(StreamState(), first) == first
    waiting = StreamState(owed_since=90.0)  # owed, no trade yet
    assert union_state(waiting, first) == StreamState(20, owed_since=100.0, owed_below=15)
