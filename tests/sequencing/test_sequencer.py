"""Sequencer behaviour on hand-written cases (the property tests cover random ones)."""

from __future__ import annotations

import pytest

from schemahub.errors import DecodeError, LakeError, OffsetsError, UsageError
from schemahub.sequencing import Gap, Sequencer, StreamKey, StreamState

EX, SYM = "binance", "BTCUSDT"


def gaps(seq: Sequencer) -> list[tuple[int, int]]:
    return [(g.first_missing_id, g.last_missing_id) for g in seq.gaps_for(EX, SYM)]


def test_fresh_stream_starts_at_first_id_without_gap() -> None:
    seq = Sequencer()
    assert seq.admit(EX, SYM, [100, 101, 102]) == [True, True, True]
    assert seq.state(EX, SYM) == StreamState(102, ())
    assert seq.open_gaps() == []


def test_ids_below_the_start_of_a_fresh_stream_are_dropped_later() -> None:
    seq = Sequencer()
    seq.admit(EX, SYM, [100])
    assert seq.admit(EX, SYM, [99, 101]) == [False, True]


def test_duplicates_across_and_within_calls_are_dropped() -> None:
    seq = Sequencer()
    assert seq.admit(EX, SYM, [1, 2, 2, 3, 1]) == [True, True, False, True, False]
    assert seq.admit(EX, SYM, [3, 4, 4]) == [False, True, False]
    assert seq.stats.admitted == 4
    assert seq.stats.duplicates == 4


def test_jump_opens_gap_and_fills_split_then_close_it() -> None:
    seq = Sequencer()
    seq.admit(EX, SYM, [10])
    assert seq.admit(EX, SYM, [20, 21]) == [True, True]
    assert gaps(seq) == [(11, 19)]
    assert seq.admit(EX, SYM, [15, 11, 15]) == [True, True, False]
    assert gaps(seq) == [(12, 14), (16, 19)]
    assert seq.admit(EX, SYM, [12, 13, 14, 16, 17, 18, 19, 20]) == [True] * 7 + [False]
    assert gaps(seq) == []
    assert seq.stats.gaps_opened == 1
    assert seq.stats.gap_ids_opened == 9
    assert seq.stats.gap_ids_filled == 9


def test_several_holes_in_one_unordered_call() -> None:
    seq = Sequencer()
    seq.admit(EX, SYM, [1])
    assert seq.admit(EX, SYM, [9, 3, 6]) == [True, True, True]
    assert gaps(seq) == [(2, 2), (4, 5), (7, 8)]
    assert seq.state(EX, SYM).high_water == 9


def test_newest_first_snapshot_on_fresh_stream_keeps_all() -> None:
    seq = Sequencer()
    assert seq.admit("coinbase", "BTC-USD", [105, 104, 103, 102]) == [True] * 4
    assert seq.state("coinbase", "BTC-USD") == StreamState(105, ())
    assert seq.admit("coinbase", "BTC-USD", [106, 105]) == [True, False]


def test_streams_are_independent() -> None:
    seq = Sequencer()
    seq.admit(EX, SYM, [5])
    assert seq.admit(EX, "ETHUSDT", [5]) == [True]
    assert seq.admit("kraken", SYM, [5]) == [True]
    assert seq.streams() == [StreamKey(EX, SYM), StreamKey(EX, "ETHUSDT"), StreamKey("kraken", SYM)]


def test_empty_call_changes_nothing() -> None:
    seq = Sequencer()
    assert seq.admit(EX, SYM, []) == []
    assert seq.streams() == []
    assert seq.state(EX, SYM) == StreamState()


def test_start_at_opens_gap_up_to_first_live_id() -> None:
    seq = Sequencer()
    seq.start_at(EX, SYM, 50)
    assert seq.streams() == []
    assert seq.admit(EX, SYM, [60]) == [True]
    assert gaps(seq) == [(50, 59)]


def test_start_at_after_the_first_live_id_does_not_drop_it() -> None:
    seq = Sequencer()
    seq.start_at(EX, SYM, 50)
    assert seq.admit(EX, SYM, [48, 52]) == [True, True]
    assert gaps(seq) == [(49, 51)]


def test_start_at_refuses_a_stream_with_state() -> None:
    seq = Sequencer()
    seq.admit(EX, SYM, [7])
    with pytest.raises(UsageError, match="already has state"):
        seq.start_at(EX, SYM, 1)


def test_mark_lost_closes_only_missing_ids_and_records_them() -> None:
    seq = Sequencer()
    seq.admit(EX, SYM, [1, 10, 20])
    assert gaps(seq) == [(2, 9), (11, 19)]
    pieces = seq.mark_lost(Gap(EX, SYM, 5, 15), "history expired")
    assert pieces == [Gap(EX, SYM, 5, 9), Gap(EX, SYM, 11, 15)]
    assert gaps(seq) == [(2, 4), (16, 19)]
    assert [(lg.gap, lg.reason) for lg in seq.lost] == [(p, "history expired") for p in pieces]
    assert seq.state(EX, SYM).lost == ((5, 9), (11, 15))
    assert seq.stats.ids_lost == 10
    # a lost id that shows up after all is not admitted twice nor reopened
    assert seq.admit(EX, SYM, [7, 3]) == [False, True]
    assert seq.mark_lost(Gap(EX, SYM, 5, 9), "again") == []
    assert seq.mark_lost(Gap("kraken", "XBT/USD", 1, 2), "unknown stream") == []


def test_restart_from_state_keeps_filling_gaps() -> None:
    first = Sequencer()
    first.admit(EX, SYM, [1, 5])
    second = Sequencer(first.snapshot())
    assert second.admit(EX, SYM, [1, 3, 5, 6]) == [False, True, False, True]
    assert [(g.first_missing_id, g.last_missing_id) for g in second.open_gaps()] == [
        (2, 2),
        (4, 4),
    ]


@pytest.mark.parametrize(
    "state",
    [
        StreamState(None, ((1, 2),)),
        StreamState(10, ((5, 11),)),
        StreamState(10, ((5, 6), (7, 8))),
        StreamState(10, ((6, 5),)),
        StreamState(10, ((1, 3),), ((3, 4),)),
        StreamState(True, ()),
    ],
)
def test_invalid_initial_state_is_refused(state: StreamState) -> None:
    with pytest.raises(OffsetsError) as info:
        Sequencer({(EX, SYM): state})
    assert isinstance(info.value, LakeError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("ids", [["12", "13"], [12, "13"], [True], [1.0]])
def test_non_integer_ids_are_refused(ids: list) -> None:
    seq = Sequencer()
    with pytest.raises(UsageError, match="must be ints"):
        seq.admit("coinbase", "BTC-USD", ids)
    assert seq.streams() == []


def test_admit_records_groups_symbols_and_parses_digit_strings() -> None:
    seq = Sequencer()
    seq.admit("coinbase", "ETH-USD", [8])
    records = [
        {"product_id": "BTC-USD", "trade_id": "11"},
        {"product_id": "ETH-USD", "trade_id": "8"},
        {"product_id": "BTC-USD", "trade_id": "10"},
        {"product_id": "ETH-USD", "trade_id": "9"},
        {"product_id": "BTC-USD", "trade_id": "11"},
    ]
    kept = seq.admit_records("coinbase", records, symbol_field="product_id")
    assert kept == [records[0], records[2], records[3]]
    assert seq.state("coinbase", "BTC-USD").high_water == 11


def test_admit_records_refuses_a_non_numeric_id() -> None:
    with pytest.raises(DecodeError, match="trade_id='abc'"):
        Sequencer().admit_records(EX, [{"symbol": SYM, "trade_id": "abc"}])


@pytest.mark.parametrize(
    ("ids", "bad"),
    [
        (["12", "", "13"], "''"),
        (["12", "1_3"], "'1_3'"),
        (["12", "+13"], "'\\+13'"),
        (["12", "\u0661"], "'\u0661'"),
        ([12, "x", 14], "'x'"),
        ([12, True], "True"),
    ],
)
def test_admit_records_names_the_first_bad_id_of_a_frame(ids: list, bad: str) -> None:
    seq = Sequencer()
    records = [{"symbol": SYM, "trade_id": i} for i in ids]
    with pytest.raises(DecodeError, match=f"trade_id={bad} "):
        seq.admit_records(EX, records)
    assert seq.streams() == []


def test_admit_records_mixes_int_and_digit_string_ids() -> None:
    seq = Sequencer()
    records = [{"symbol": SYM, "trade_id": i} for i in [5, "6", "0007", 6]]
    assert seq.admit_records(EX, records) == records[:3]
    assert seq.state(EX, SYM).high_water == 7


def test_many_gaps_then_fill_every_other_id() -> None:
    seq = Sequencer()
    ids = list(range(0, 20_000, 2))  # every odd id is a one-id gap
    assert all(seq.admit(EX, SYM, ids))
    assert len(seq.gaps_for(EX, SYM)) == 9_999
    odd = list(range(1, 20_000, 2))
    assert seq.admit(EX, SYM, odd) == [True] * len(odd)
    assert seq.open_gaps() == []
    assert seq.state(EX, SYM).high_water == 19_999


def test_expect_through_opens_a_gap_up_to_the_venues_latest_id():
    from schemahub.sequencing import Gap, Sequencer

    seq = Sequencer()
    assert seq.expect_through("kraken", "BTC/USD", 50) is None  # fresh stream: nothing owed
    seq.admit("kraken", "BTC/USD", [10, 11])
    assert seq.expect_through("kraken", "BTC/USD", 11) is None
    assert seq.expect_through("kraken", "BTC/USD", 15) == Gap("kraken", "BTC/USD", 12, 15)
    assert seq.expect_through("kraken", "BTC/USD", 17) == Gap("kraken", "BTC/USD", 16, 17)
    assert seq.gaps_for("kraken", "BTC/USD") == [Gap("kraken", "BTC/USD", 12, 17)]
    assert seq.state("kraken", "BTC/USD").problem() is None
    # the ids arrive later (over REST): they are kept and the gap closes; repeats are dropped
    assert seq.admit("kraken", "BTC/USD", [12, 13, 14, 15, 16, 17, 17, 18]) == [True] * 6 + [
        False,
        True,
    ]
    assert seq.open_gaps() == []
