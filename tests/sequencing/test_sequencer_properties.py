"""Property tests: the sequencer against a plain set-based model of the same rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.sequencing import (
    Gap,
    Sequencer,
    StreamState,
    decode_offsets,
    encode_offsets,
)

EX, SYM = "binance", "BTCUSDT"
BASE = 5_000_000_000  # realistic Binance-sized ids

batches = st.lists(st.integers(0, 150).map(lambda i: BASE + i), max_size=25)
# Consecutive ids, as live trades usually come: admitted one record a call (the fast path).
runs = st.tuples(st.integers(0, 150), st.integers(1, 12)).map(
    lambda t: [BASE + t[0] + i for i in range(t[1])]
)
ops = st.one_of(
    batches.map(lambda b: ("admit", b)),
    (batches | runs).map(lambda b: ("one_by_one", b)),
    (batches | runs | runs.map(lambda r: r[::-1])).map(lambda b: ("records", b)),
    # the next ids of the stream, as a live frame brings them (ascending or newest first)
    st.tuples(st.integers(1, 12), st.booleans()).map(lambda t: ("next", t)),
    # a burst's ids of one stream as an array (any order, repeats allowed)
    (batches | runs | runs.map(lambda r: r[::-1])).map(lambda b: ("array", b)),
    # the next ids of the stream as an array, rotated: a burst of newest-first frames
    st.tuples(st.integers(1, 12), st.integers(0, 11)).map(lambda t: ("array_next", t)),
    st.tuples(st.integers(0, 150), st.integers(0, 40)).map(
        lambda t: ("lost", (BASE + t[0], BASE + t[0] + t[1]))
    ),
    st.just(("restart", None)),
)


@dataclass
class Model:
    """The rules stated with sets: kept = distinct ids at or above the start, never seen or lost."""

    start: int | None
    seen: set[int] = field(default_factory=set)
    lost: set[int] = field(default_factory=set)

    def admit(self, batch: list[int]) -> list[bool]:
        if batch and not self.seen:
            self.start = min(batch) if self.start is None else min(self.start, *batch)
        mask = []
        for x in batch:
            keep = self.start is not None and x >= self.start
            keep = keep and x not in self.seen and x not in self.lost
            if keep:
                self.seen.add(x)
            mask.append(keep)
        return mask

    def holes(self) -> set[int]:
        if not self.seen:
            return set()
        return set(range(self.start, max(self.seen) + 1)) - self.seen - self.lost

    def mark_lost(self, lo: int, hi: int) -> set[int]:
        newly = {x for x in self.holes() if lo <= x <= hi}
        self.lost |= newly
        return newly


def ids_of(gaps: list[Gap]) -> set[int]:
    return {x for g in gaps for x in range(g.first_missing_id, g.last_missing_id + 1)}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.integers(0, 150).map(lambda i: BASE + i)), st.lists(ops))
def test_sequencer_matches_the_set_model(start: int | None, steps: list) -> None:
    seq, model = Sequencer(), Model(start)
    if start is not None:
        seq.start_at(EX, SYM, start)
    kept: list[int] = []
    for kind, arg in steps:
        if kind == "admit":
            mask = seq.admit(EX, SYM, arg)
            assert mask == model.admit(arg)
            kept += [x for x, k in zip(arg, mask, strict=True) if k]
        elif kind in ("records", "next"):  # one frame of records: ids distinct within a frame
            if kind == "next":
                n, newest_first = arg
                top = max([*model.seen, *model.lost], default=BASE) + n
                arg = list(range(top, top - n, -1) if newest_first else range(top - n + 1, top + 1))
            distinct = list(dict.fromkeys(arg))
            fresh = seq.admit_records(EX, [{"symbol": SYM, "trade_id": x} for x in distinct])
            mask = model.admit(distinct)
            assert [r["trade_id"] for r in fresh] == [
                x for x, k in zip(distinct, mask, strict=True) if k
            ]
            kept += [r["trade_id"] for r in fresh]
        elif kind in ("array", "array_next"):
            if kind == "array_next":
                n, turn = arg
                top = max([*model.seen, *model.lost], default=BASE) + n
                run = list(range(top - n + 1, top + 1))
                arg = run[turn % n :] + run[: turn % n]
            got = seq.admit_array(EX, SYM, np.array(arg, dtype=np.int64))
            mask = [True] * len(arg) if got is None else got.tolist()
            assert mask == model.admit(arg)
            kept += [x for x, k in zip(arg, mask, strict=True) if k]
        elif kind == "one_by_one":
            for x in arg:
                fresh = seq.admit_records(EX, [{"symbol": SYM, "trade_id": x}])
                new = model.admit([x])[0]
                assert [r["trade_id"] for r in fresh] == ([x] if new else [])
                kept += [r["trade_id"] for r in fresh]
        elif kind == "lost":
            pieces = seq.mark_lost(Gap(EX, SYM, *arg), "gone")
            assert ids_of(pieces) == model.mark_lost(*arg)
        elif seq.streams():  # a restart only carries committed state, as the daemon's would
            seq = Sequencer(decode_offsets(encode_offsets(seq.snapshot())))
        gaps = seq.gaps_for(EX, SYM)
        assert ids_of(gaps) == model.holes()
        # sorted, merged: each gap starts past the end of the previous one plus a kept id
        for a, b in pairwise(gaps):
            assert b.first_missing_id > a.last_missing_id + 1
    assert sorted(kept) == sorted(model.seen)
    assert len(kept) == len(set(kept))
    state = seq.state(EX, SYM)
    assert state.high_water == (max(model.seen) if model.seen else None)
    assert {x for lo, hi in state.lost for x in range(lo, hi + 1)} == model.lost


range_lists = st.sets(st.integers(-50, 2_000), max_size=200).map(
    lambda ids: tuple(_runs(sorted(ids)))
)


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for x in ids:
        if runs and x == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], x)
        else:
            runs.append((x, x))
    return runs


@st.composite
def stream_states(draw: st.DrawFn) -> StreamState:
    if draw(st.booleans()) and draw(st.booleans()):
        return StreamState(None)
    missing = draw(range_lists)
    # lost ids: runs of ids that are not missing, kept apart from them by construction
    taken = {x for lo, hi in missing for x in range(lo, hi + 1)}
    lost_ids = draw(st.sets(st.integers(-50, 2_000), max_size=50)) - taken
    lost = tuple(_runs(sorted(lost_ids)))
    top = max([hi for _, hi in missing + lost], default=-100)
    return StreamState(top + draw(st.integers(1, 10**12)), missing, lost)


keys = st.tuples(st.sampled_from(["binance", "coinbase", "kraken"]), st.text(min_size=1))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, stream_states(), max_size=8))
def test_offsets_round_trip_exactly(states: dict) -> None:
    decoded = decode_offsets(encode_offsets(states))
    assert decoded == states
    assert all(state.problem() is None for state in decoded.values())
