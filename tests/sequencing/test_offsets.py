"""Offsets <-> snapshot properties: exact round trips, compact values, loud corruption."""

from __future__ import annotations

import base64
import random
import re
import zlib

import orjson
import pytest

from schemahub.errors import LakeError, OffsetsError
from schemahub.sequencing import (
    OFFSETS_PROPERTY,
    Sequencer,
    StreamKey,
    StreamState,
    decode_offsets,
    encode_offsets,
)


def test_round_trip_of_a_small_state_is_readable_json() -> None:
    states = {
        StreamKey("binance", "BTCUSDT"): StreamState(
            5_123_456_789, ((5_123_456_000, 5_123_456_009),)
        ),
        StreamKey("coinbase", "BTC-USD"): StreamState(700, ((10, 10), (12, 30)), ((1, 5),)),
        StreamKey("kraken", "BTC/USD"): StreamState(42, (), ((3, 3),)),
    }
    props = encode_offsets(states)
    assert list(props) == [OFFSETS_PROPERTY]
    parsed = orjson.loads(props[OFFSETS_PROPERTY])
    assert parsed["kraken"]["BTC/USD"] == [42, [], [3, 0]]
    assert parsed["binance"]["BTCUSDT"] == [5_123_456_789, [5_123_456_000, 9]]
    assert decode_offsets(props) == states


def test_empty_and_absent() -> None:
    assert decode_offsets(encode_offsets({})) == {}
    assert decode_offsets({}) == {}
    assert decode_offsets({"other.property": "x"}) == {}


def test_thousands_of_gaps_stay_small_and_round_trip() -> None:
    rng = random.Random(7)
    states = {}
    for s in range(100):
        lo, gaps = 3_000_000_000 + rng.randrange(10**6), []
        for _ in range(40):
            lo += rng.randrange(2, 5_000)
            hi = lo + rng.randrange(0, 300)
            gaps.append((lo, hi))
            lo = hi
        states[StreamKey("binance", f"SYM{s}USDT")] = StreamState(lo + 10, tuple(gaps))
    props = encode_offsets(states)
    value = props[OFFSETS_PROPERTY]
    assert value.startswith("z:")
    # 4,000 gaps whose bounds are 10-digit ids: well under 8 bytes a gap once delta-coded
    assert len(value) < 8 * 4_000
    assert decode_offsets(props) == states


def test_restart_through_properties_gives_the_same_sequencer_state() -> None:
    seq = Sequencer()
    seq.admit("binance", "BTCUSDT", [1, 4, 9])
    seq.admit("coinbase", "ETH-USD", [30, 31])
    restored = Sequencer(decode_offsets(encode_offsets(seq.snapshot())))
    assert restored.snapshot() == seq.snapshot()


def _zipped(obj: object) -> str:
    return "z:" + base64.b64encode(zlib.compress(orjson.dumps(obj))).decode()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "[1, 2]",
        '{"binance": [1]}',
        '{"binance": {"BTCUSDT": []}}',
        '{"binance": {"BTCUSDT": [1, [], [], [5], []]}}',
        '{"binance": {"BTCUSDT": [1, [], [], []]}}',  # owed, but empty
        '{"binance": {"BTCUSDT": [1, [], [], [5, 1, 1]]}}',
        '{"binance": {"BTCUSDT": [1, [], [], ["5"]]}}',
        '{"binance": {"BTCUSDT": [1, [], [], [5]]}}',  # owed with a high water, no first id
        '{"binance": {"BTCUSDT": [null, [], [], [5, 1]]}}',  # a first id without a high water
        '{"binance": {"BTCUSDT": [1, [], [], [5, 2]]}}',  # first id above the high water
        '{"binance": {"BTCUSDT": [1, [], [], [-5, 1]]}}',  # owed before the epoch
        '{"binance": {"BTCUSDT": ["7"]}}',
        '{"binance": {"BTCUSDT": [true]}}',
        '{"binance": {"BTCUSDT": [10, [3]]}}',
        '{"binance": {"BTCUSDT": [10, [3, "1"]]}}',
        '{"binance": {"BTCUSDT": [10, [3, -1]]}}',  # first > last
        '{"binance": {"BTCUSDT": [10, [3, 1, 1, 0]]}}',  # adjacent gaps, not merged
        '{"binance": {"BTCUSDT": [10, [8, 3]]}}',  # gap reaching the high water
        '{"binance": {"BTCUSDT": [null, [1, 1]]}}',  # gaps without a high water
        '{"binance": {"BTCUSDT": [10, [1, 1], [2, 0]]}}',  # id both missing and lost
        "z:%%%not-base64",
        "z:" + base64.b64encode(b"not zlib").decode(),
        _zipped({"binance": {"BTCUSDT": "x"}}),
    ],
)
def test_corrupt_values_raise_offsets_error(value: str) -> None:
    with pytest.raises(OffsetsError, match=re.escape(OFFSETS_PROPERTY)) as info:
        decode_offsets({OFFSETS_PROPERTY: value})
    assert isinstance(info.value, LakeError)
    assert isinstance(info.value, ValueError)


def test_a_newer_format_alone_is_refused() -> None:
    with pytest.raises(OffsetsError, match=re.escape("schemahub.offsets.v2")):
        decode_offsets({"schemahub.offsets.v2": "{}"})
