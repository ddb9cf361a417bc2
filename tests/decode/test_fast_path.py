"""The decoders' fast paths give exactly what the full Field path gives, on any trade frame.

Each venue decodes its usual trade frame with cheap inline checks and hands anything unusual to
the full path (``_dispatch`` through ``decode_envelope``). These properties build trade frames
whose fields are drawn from valid and borderline values (signs, exponents, underscores, NaN,
huge and tiny decimals, bools for ints, impossible dates, ...) and compare ``decode_frame`` with
the full path field for field, payloads and reject reasons included.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemahub.decode import DecodedFrame, binance, coinbase, kraken
from schemahub.decode.base import decode_envelope
from tests.decode import frames
from tests.decode.frames import MISSING

PROPERTY = settings(deadline=None, max_examples=300)

DECIMAL_WORDS = [
    "1", "0", "0.0", "0.000", "1.", ".5", ".", "", "65000.00000000", "1e5", "1E-3", "+1", "-1",
    " 1", "1 ", "1_0", "NaN", "inf", "Infinity", "\u0663", "1" * 400, "0." + "0" * 400 + "1",
    "0x10", "1.2.3",
]  # fmt: skip
TIME_WORDS = [
    "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.009Z", "2026-01-01T00:00:00.123456789Z",
    "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+05:30",
    "2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z", "",
]  # fmt: skip
ID_WORDS = [0, 1, -1, 2**63 - 1, 2**63, 2**64 - 1, "12", "0012", "9" * 18, "9" * 19, "9" * 20,
            "", "-1", "1.0", "\u0661\u0662", 1.0, True]  # fmt: skip

ODD = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.just([])
DECIMALS = (
    st.sampled_from(DECIMAL_WORDS)
    | st.sampled_from([0, 0.0, -1.5, 1, 2**64 - 1, 1e-320, 65000.5])
    | st.text(alphabet="0123456789.eE+-_ ", max_size=8)
    | st.floats()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | ODD
)
TIMES = st.sampled_from(TIME_WORDS) | st.text(alphabet="0123456789-T:.Z+", max_size=26) | ODD
IDS = st.sampled_from(ID_WORDS) | st.integers(min_value=-(2**63), max_value=2**64 - 1) | ODD
TEXTS = st.sampled_from(["BTCUSDT", "BTC-USD", "BTC/USD", ""]) | ODD
SIDES = st.sampled_from(["BUY", "SELL", "buy", "sell", "Buy", "b", ""]) | ODD
KEEP = st.booleans()


def overrides(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Up to two of ``fields`` replaced by a drawn value or removed (none: the usual frame)."""
    one = st.sampled_from(sorted(fields)).flatmap(
        lambda key: (fields[key] | st.just(MISSING)).map(lambda value: {key: value})
    )
    return st.lists(one, max_size=2).map(
        lambda changes: {k: v for c in changes for k, v in c.items()}
    )


def full_path(module: Any, frame: str, keep: bool) -> DecodedFrame:
    """What the venue's Field machinery alone says about ``frame``."""
    return decode_envelope(frame, lambda value, raw: module._dispatch(value, raw, keep))


BINANCE = overrides(
    {"s": TEXTS, "t": IDS, "p": DECIMALS, "q": DECIMALS, "T": IDS, "m": ODD, "E": IDS, "e": ODD}
)


@PROPERTY
@given(changes=BINANCE, wrapped=st.booleans(), keep=KEEP)
def test_binance_fast_path_equals_full_path(changes: dict[str, Any], wrapped: bool, keep: bool):
    trade = frames.binance_trade(**changes)
    frame = frames.binance_wrapped(trade) if wrapped else frames.text(trade)
    assert binance.decode_frame(frame, keep) == full_path(binance, frame, keep)


COINBASE = overrides(
    {
        "product_id": TEXTS,
        "trade_id": IDS,
        "price": DECIMALS,
        "size": DECIMALS,
        "side": SIDES,
        "time": TIMES,
    }
)


@PROPERTY
@given(
    changes=st.lists(COINBASE, min_size=1, max_size=3),
    kind=st.sampled_from(["update", "snapshot", "other"]),
    seq=st.sampled_from([0, 7, -1, 2**63, True, None, "7"]),
    keep=KEEP,
)
def test_coinbase_fast_path_equals_full_path(
    changes: list[dict[str, Any]], kind: str, seq: Any, keep: bool
):
    trades = [frames.coinbase_trade(**c) for c in changes]
    frame = frames.coinbase_advanced(trades, kind=kind, sequence_num=seq)
    assert coinbase.decode_frame(frame, keep) == full_path(coinbase, frame, keep)


KRAKEN = overrides(
    {
        "symbol": TEXTS,
        "trade_id": IDS,
        "price": DECIMALS,
        "qty": DECIMALS,
        "side": SIDES,
        "ord_type": TEXTS,
        "timestamp": TIMES,
    }
)


@PROPERTY
@given(
    changes=st.lists(KRAKEN, min_size=1, max_size=3),
    kind=st.sampled_from(["update", "snapshot", "other"]),
    keep=KEEP,
)
def test_kraken_fast_path_equals_full_path(changes: list[dict[str, Any]], kind: str, keep: bool):
    frame = frames.kraken_v2([frames.kraken_trade(**c) for c in changes], kind=kind)
    assert kraken.decode_frame(frame, keep) == full_path(kraken, frame, keep)


@pytest.mark.parametrize(
    ("module", "fast", "frame"),
    [
        (binance, binance._fast_trade, frames.binance_wrapped(frames.binance_trade())),
        (binance, binance._fast_trade, frames.text(frames.binance_trade())),
        (
            coinbase,
            coinbase._fast_market_trades,
            frames.coinbase_advanced([frames.coinbase_trade()]),
        ),
        (kraken, kraken._fast_trades, frames.kraken_v2([frames.kraken_trade()])),
    ],
)
@pytest.mark.parametrize("keep", [True, False])
def test_the_usual_trade_frame_takes_the_fast_path(module: Any, fast: Any, frame: str, keep: bool):
    """The properties above compare something: the usual frame is decoded by the fast path."""
    decoded = fast(orjson.loads(frame), frame, keep)
    assert decoded is not None and len(decoded.trades) == 1
    assert decoded == full_path(module, frame, keep)


def test_a_payload_orjson_cannot_write_falls_back_to_the_full_path() -> None:
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    frame = frames.binance_wrapped(frames.binance_trade(x=deep))
    decoded = binance.decode_frame(frame, keep_payload=True)
    assert decoded == full_path(binance, frame, True)
    assert decoded.rejects and "re-serialized" in decoded.rejects[0].reason


def one_change_frames() -> list[tuple[Any, str]]:
    """Every borderline word in every field of each venue's usual trade, one change a frame."""
    words = {
        "decimal": [*DECIMAL_WORDS, 0, 0.0, -1.5, 1, 2**64 - 1, 1e-320, 65000.5, True, None],
        "time": [*TIME_WORDS, 0, None],
        "id": [*ID_WORDS, None],
        "text": ["", "X", 0, None, True, []],
        "side": ["BUY", "SELL", "buy", "sell", "Buy", "b", "", 1, None],
        "bool": [True, False, 0, 1, "true", None],
    }
    layouts = [
        (binance, frames.binance_trade, lambda t: frames.binance_wrapped(t)),
        (binance, frames.binance_trade, frames.text),
        (coinbase, frames.coinbase_trade, lambda t: frames.coinbase_advanced([t])),
        (kraken, frames.kraken_trade, lambda t: frames.kraken_v2([t])),
    ]
    kinds = {
        "s": "text", "t": "id", "p": "decimal", "q": "decimal", "T": "id", "m": "bool", "E": "id",
        "e": "text", "product_id": "text", "trade_id": "id", "price": "decimal",
        "size": "decimal", "qty": "decimal", "side": "side", "time": "time",
        "timestamp": "time", "symbol": "text", "ord_type": "text",
    }  # fmt: skip
    cases = []
    for module, trade, wrap in layouts:
        for key in trade():
            for value in [*words[kinds.get(key, "text")], MISSING]:
                cases.append((module, wrap(trade(**{key: value}))))
    return cases


@pytest.mark.parametrize("keep", [True, False])
def test_each_borderline_value_gives_what_the_full_path_gives(keep: bool) -> None:
    cases = one_change_frames()
    assert len(cases) > 300
    for module, frame in cases:
        assert module.decode_frame(frame, keep) == full_path(module, frame, keep), frame
