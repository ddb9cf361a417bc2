"""Property tests: batches mixing good and broken frames keep the equivalence rule frame by frame,
and the whole-column rules never accept a column their per-value predicate would refuse."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.decode.column_rules import DECIMAL_TEXT, DIGITS_ID
from tests.decode import frames as F
from tests.decode.batch_check import check_batch

PROPERTY = settings(deadline=None, max_examples=150)

BAD_VALUES = [
    None, "NaN", "-1", "", "0", "0.0", "1e5", "1.2.3", " 1", "+1", "٣", "inf", "1" * 40,
    "0." + "0" * 400 + "1", 1.5, -1, 0, 2**63, 2**63 - 1, 2**64 + 1, True, False, [], {},
    "BUY", "buy", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00.5+01:00", "x@trade", "trade",
]  # fmt: skip
# Textual replacements applied to a frame's JSON (numbers JSON can write but Python cannot).
RAW_SWAPS = ["1e999", "-0", "1.0", "18446744073709551616", "1E2", "0.1e-400", '"\\u0031"']
CONTROL = [
    '{"result":null,"id":1}', '{"channel":"heartbeats","sequence_num":4}',
    '{"channel":"heartbeat"}', "not json", "", "[]", "{}", '{"type":"error","message":"x"}',
    "[" * 2000 + "]" * 2000,
]  # fmt: skip


def trade_dict(venue: str) -> dict[str, Any]:
    return {"binance": F.binance_trade, "coinbase": F.coinbase_trade, "kraken": F.kraken_trade}[
        venue
    ]()


def wrap(venue: str, trades: list[Any], plain: bool, seq: int) -> str:
    if venue == "binance":
        return F.text(trades[0]) if plain else F.binance_wrapped(trades[0])
    if venue == "coinbase":
        return F.coinbase_advanced(trades, sequence_num=seq)
    return F.kraken_v2(trades, kind="snapshot" if plain else "update")


@st.composite
def frame(draw: st.DrawFn, venue: str) -> str | bytes:
    """A good trade frame, or one broken in one of many ways."""
    how = draw(st.sampled_from(["good", "value", "missing", "extra", "raw", "control", "bytes"]))
    if how == "control":
        return draw(st.sampled_from(CONTROL))
    count = 1 if venue == "binance" else draw(st.integers(0, 4))
    trades = [trade_dict(venue) for _ in range(count)]
    for n, trade in enumerate(trades):
        key = "t" if venue == "binance" else "trade_id"
        trade[key] = draw(st.integers(0, 10**12)) if venue != "coinbase" else str(n + 1)
    if trades and how in ("value", "missing", "extra"):
        trade = trades[draw(st.integers(0, len(trades) - 1))]
        key = draw(st.sampled_from(sorted(trade)))
        if how == "value":
            trade[key] = draw(st.sampled_from(BAD_VALUES))
        elif how == "missing":
            del trade[key]
        else:
            trade["unknown"] = 1
    text = wrap(venue, trades, draw(st.booleans()), draw(st.integers(0, 2**63 - 1)))
    if how == "raw":
        numbers = ["16500.12000000", "12345", "0.5147", "1068572090", "4665846", "true"]
        target = draw(st.sampled_from(numbers))
        text = text.replace(target, draw(st.sampled_from(RAW_SWAPS)), 1)
    return text.encode() if how == "bytes" else text


@pytest.mark.parametrize("venue", ["binance", "coinbase", "kraken"])
@PROPERTY
@given(data=st.data())
def test_mixed_batches_keep_the_equivalence_rule(venue, data):
    frames = data.draw(st.lists(frame(venue), max_size=8))
    check_batch(venue, frames)


NUMBER_TEXT = st.floats().map(repr) | st.from_regex(
    r"-?[0-9]{1,25}(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)


@PROPERTY
@given(NUMBER_TEXT)
def test_kraken_numbers_read_as_the_per_frame_path_reads_them(number):
    """A JSON number as the venue may write it: msgspec's float equals orjson's, or goes slow."""
    text = F.kraken_v2([F.kraken_trade(price=1.0)]).replace("1.0", number, 1)
    check_batch("kraken", [text])


DECIMALISH = st.text(alphabet="0123456789.eE+- n\u0661", max_size=45)


@PROPERTY
@given(st.lists(DECIMALISH | st.sampled_from(["0.5", "65000.00", "1.", ".5"]), max_size=6))
def test_decimal_column_rule_never_accepts_what_the_value_test_refuses(values):
    if DECIMAL_TEXT.all_ok(values, None):
        assert all(map(DECIMAL_TEXT.row_ok, values))


@PROPERTY
@given(st.lists(st.text(alphabet="0123456789x\u0661 ", min_size=1, max_size=18), max_size=6))
def test_digit_column_rule_never_accepts_what_the_value_test_refuses(values):
    if DIGITS_ID.all_ok(values, None):
        assert all(map(DIGITS_ID.row_ok, values))
