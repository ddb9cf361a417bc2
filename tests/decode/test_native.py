"""The native (C) decode path of decode_batch against decode_frame, frame by frame.

Every test goes through check_batch (tests/decode/batch_check.py): a frame the native parser
takes must be one decode_frame returns as TRADES without rejects, with the same records; any
other frame must come back slow with decode_frame's own answer. Mutations target the parser's
grammar: escapes, whitespace, number spellings, long ids, unicode, truncation, key order.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.benchmark.capture_gen import venue_frames
from schemahub.decode import VENUES
from schemahub.decode.batch import NATIVE_AVAILABLE
from schemahub.decode.native import native_columns
from schemahub.registry import venue as described
from tests.decode import frames as F
from tests.decode.batch_check import check_batch, plain
from tests.decode.test_batch import BINANCE_ODD, COINBASE_ODD, KRAKEN_ODD
from tests.decode.test_batch_properties import frame
from tests.decode.test_recorded import FILES, received

PROPERTY = settings(deadline=None, max_examples=200)


def good_frame(venue: str, plain: bool = False) -> str:
    if venue == "binance":
        return F.text(F.binance_trade()) if plain else F.binance_wrapped(F.binance_trade())
    if venue == "coinbase":
        return F.coinbase_advanced([F.coinbase_trade(), F.coinbase_trade(trade_id="77")])
    return F.kraken_v2([F.kraken_trade(), F.kraken_trade(trade_id=9, ord_type=None)])


GOOD = [("binance", True), ("binance", False), ("coinbase", False), ("kraken", False)]


def test_the_extension_is_built():
    """CI builds it; a silent fallback would make every native figure false."""
    from schemahub.decode import _native  # noqa: F401  (ImportError fails the test)

    assert NATIVE_AVAILABLE


@pytest.mark.parametrize("venue", VENUES)
def test_native_columns_are_the_venue_schema(venue):
    schema = described(venue).columnar().schema
    names = {name for name, *_ in native_columns(venue)}
    constants = {"feed"} if venue == "coinbase" else set()
    assert names | constants == set(schema.names)


@pytest.mark.parametrize(("venue", "plain"), GOOD)
def test_usual_frames_take_the_native_path(venue, plain):
    frames = [good_frame(venue, plain)] * 3
    batch = check_batch(venue, frames)
    assert batch.slow == {} and batch.trades.num_rows == batch.trade_count > 0


@pytest.mark.parametrize("venue", VENUES)
def test_simulator_frames_agree_with_the_msgspec_path(venue):
    frames = [text for _ts, text in venue_frames(venue, 500)]
    native = check_batch(venue, frames)
    fallback = check_batch(venue, frames, native=False)
    assert native.slow == fallback.slow == {}
    assert plain(native.trades).equals(fallback.trades)
    assert native.sequence_nums == fallback.sequence_nums


@pytest.mark.parametrize(("name", "venue"), sorted(FILES.items()))
def test_forced_fallback_still_keeps_the_rule_on_recordings(recorded, name, venue):
    frames = received(recorded / name)
    fallback = check_batch(venue, frames, native=False)
    native = check_batch(venue, frames)
    assert plain(native.trades).equals(fallback.trades)
    assert set(native.slow) == set(fallback.slow)


@pytest.mark.parametrize(
    ("venue", "odd"), [("binance", BINANCE_ODD), ("coinbase", COINBASE_ODD), ("kraken", KRAKEN_ODD)]
)
def test_forced_fallback_on_edge_frames(venue, odd):
    # Both keep the rule; the native grammar is the stricter one on these spellings.
    native, fallback = check_batch(venue, odd), check_batch(venue, odd, native=False)
    assert set(native.slow) >= set(fallback.slow)


@pytest.mark.parametrize(("venue", "plain"), GOOD)
def test_truncation_at_every_byte(venue, plain):
    text = good_frame(venue, plain)
    frames = [text[:cut] for cut in range(len(text))]
    batch = check_batch(venue, frames)
    assert batch.trades.num_rows == 0  # no prefix of a JSON object is a whole one


@pytest.mark.parametrize(("venue", "plain"), GOOD)
def test_whitespace_between_every_token_is_taken(venue, plain):
    text = good_frame(venue, plain)
    spaced = _spaced(text, "\t\r\n ")
    batch = check_batch(venue, [" " + spaced + "\n", text])
    assert batch.slow == {}


def _spaced(text: str, space: str) -> str:
    """``text`` with ``space`` around every structural character outside strings."""
    out, in_string = [], False
    for char in text:
        if char == '"':
            in_string = not in_string  # the good frames hold no escapes
        out.append(space + char + space if not in_string and char in "{}[],:" else char)
    return "".join(out)


@pytest.mark.parametrize(("venue", "plain"), GOOD)
def test_reordered_keys_are_taken(venue, plain):
    value = json.loads(good_frame(venue, plain))
    reordered = F.text(_reversed(value))
    batch = check_batch(venue, [reordered])
    assert batch.slow == {}


def _reversed(value):
    if isinstance(value, dict):
        return {key: _reversed(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [_reversed(item) for item in value]
    return value


# Textual changes the parser must refuse (the per-frame path then decides, sometimes TRADES).
GRAMMAR = [
    ("BTCUSDT", "BTC\\u0055SDT"), ("BTCUSDT", "BTC\\/USDT"), ("MATIC/USD", "MATIC\\/USD"),
    ("BTC-USD", "BTC\\u002dUSD"), ('"SELL"', '"\\u0053ELL"'), ("12345", "012345"),
    ("12345", "1.2345e4"), ("12345", "12345.0"), ("12345", "-12345"), ("12345", "+12345"),
    ("12345", "9223372036854775807"), ("12345", "9223372036854775808"),
    ("12345", "18446744073709551616"), ("4665846", "04665846"), ("4665846", "4665846e0"),
    ("0.5147", "0.5147e0"), ("0.5147", "5147E-4"), ("0.5147", ".5147"), ("0.5147", "0.5147."),
    ("0.5147", "00.5147"), ("0.5147", "-0.5147"), ("0.5147", "0"), ("0.5147", "0.0"),
    ("0.5147", '"0.5147"'), ("0.5147", "1" * 19), ("0.5147", "1" * 18),
    ("0.5147", "0." + "0" * 70 + "1"), ("16500.12000000", "16500.12000000.1"),
    ('"1068572090"', '"1234567890123456789"'), ('"1068572090"', '"123456789012345678"'),
    ('"1068572090"', '"-1"'), ("true", "True"), ("true", "1"), ("true", "nul"),
    ('"BTCUSDT"', '"BTC\x01USDT"'), ('"BTCUSDT"', '"BTCUSDT\x7f"'), ('"BTCUSDT"', '"BTC€USDT"'),
    ('"BTCUSDT"', '"BTC\U0001f600"'), ('"BTCUSDT"', '"BTC\ud800"'), ('"BTCUSDT"', '""'),
    ('"MATIC/USD"', '"MATIC/€"'), ('"BTC-USD"', '"BTC-\u00e9"'), ("Z", "+00:00"), ("Z", "z"),
    ("T", "t"), ("T", " "), (".925533Z", "Z"), (".925533Z", ".9255331234Z"), (".925533Z", ".Z"),
    ("2023-", "0000-"), ("2026-", "2024-02-29T00:00:00Z"), ('"update"', '"Update"'),
    ('"trade"', '"trades"'), ('"market_trades"', '"market_trades2"'), ("@", "-"),
    ('"limit"', "null"), ('"limit"', '""'), ('"E":1672515782136', '"E":null'),
    ('"M":true', '"M":null'), ('"sequence_num":7', '"sequence_num":null'),
    ("}", "}}"), ("]", "],"), (",", ",,"), (":", "::"), ("{", "{,"), ("[{", "[,{"),
]  # fmt: skip


@pytest.mark.parametrize(("venue", "plain"), GOOD)
def test_grammar_mutations_keep_the_rule(venue, plain):
    text = good_frame(venue, plain)
    frames = [text.replace(old, new, 1) for old, new in GRAMMAR if old in text]
    frames += [text.replace(old, new) for old, new in GRAMMAR if old in text]
    check_batch(venue, frames)


@pytest.mark.parametrize(("venue", "plain"), GOOD)
def test_duplicate_unknown_and_nested_keys_go_slow(venue, plain):
    text = good_frame(venue, plain)
    first_key = re.match(r'\{\s*("[^"]+":[^,]+),', text).group(1)
    frames = [
        text.replace("{", "{" + first_key + ",", 1),  # duplicate key, same value
        text.replace("{", '{"zz":1,', 1),  # unknown key
        text.replace("{", '{"zz":{"a":[1,{"b":2}]},', 1),
        text.replace('"', '"x', 1),  # a renamed key
        text + text,  # trailing garbage
        text + "x",
        "[" + text + "]",
        text.encode(),  # bytes go the per-frame way
    ]
    batch = check_batch(venue, frames)
    assert set(batch.slow) == set(range(len(frames)))


class Text(str):
    """A str subclass: left to the per-frame path."""


def test_non_str_frames_go_slow():
    text = good_frame("kraken")
    batch = check_batch("kraken", [Text(text), text.encode(), bytearray(text.encode()), text])
    assert set(batch.slow) == {0, 1, 2}


def test_kraken_numbers_are_read_exactly_as_the_per_frame_path_reads_them():
    spellings = ["0.1", "0.30000000000000004", "1.7976931348623157", "123456789012345.678",
                 "9007199254740993", "9007199254740993.0", "0.000001", "150", "150.0",
                 "1234567890123456789.5", "0." + "0" * 60 + "1", "2.2250738585072014"]  # fmt: skip
    frames = [F.kraken_v2([F.kraken_trade()]).replace("0.5147", s, 1) for s in spellings]
    batch = check_batch("kraken", frames)
    assert batch.slow == {}


@pytest.mark.parametrize("venue", VENUES)
@PROPERTY
@given(data=st.data())
def test_mixed_batches_of_good_and_broken_frames(venue, data):
    check_batch(venue, data.draw(st.lists(frame(venue), max_size=10)))


@pytest.mark.parametrize(("venue", "plain"), GOOD)
@PROPERTY
@given(data=st.data())
def test_any_one_character_change(venue, plain, data):
    text = good_frame(venue, plain)
    position = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from('0123456789.-+eE"\\ {}[],:ntfx\x00\x1f\u00e9\ud800'))
    how = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    if how == "replace":
        text = text[:position] + char + text[position + 1 :]
    elif how == "insert":
        text = text[:position] + char + text[position:]
    else:
        text = text[:position] + text[position + 1 :]
    check_batch(venue, [text, good_frame(venue, plain)])


IDS = st.integers(0, 10**21) | st.sampled_from([2**63 - 1, 2**63, 10**18, 10**19 - 1])


@PROPERTY
@given(trade_id=IDS, symbol=st.text(min_size=0, max_size=6), price=st.floats(allow_nan=True))
def test_kraken_values_of_any_kind(trade_id, symbol, price):
    trade = F.kraken_trade(trade_id=trade_id, symbol=symbol, price=price)
    check_batch("kraken", [json.dumps({"channel": "trade", "type": "update", "data": [trade]})])


@PROPERTY
@given(trade_id=IDS, event_time=IDS, symbol=st.text(max_size=6), price=st.text(max_size=70))
def test_binance_values_of_any_kind(trade_id, event_time, symbol, price):
    trade = F.binance_trade(t=trade_id, E=event_time, s=symbol, p=price)
    check_batch("binance", [F.binance_wrapped(trade), F.text(trade), json.dumps(trade)])


TIMES = st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,11})?(Z|\+00:00)?",
    fullmatch=True,
)


@PROPERTY
@given(time=TIMES, trade_id=st.text("0123456789", max_size=20), size=st.text("0123.", max_size=8))
def test_coinbase_values_of_any_kind(time, trade_id, size):
    trade = F.coinbase_trade(time=time, trade_id=trade_id, size=size)
    check_batch("coinbase", [F.coinbase_advanced([trade, F.coinbase_trade()])])
