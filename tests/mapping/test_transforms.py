"""Every registered transform, against Python's own arithmetic and parsing."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemahub.mapping.kernels import TS_US, Kind
from schemahub.mapping.transforms import TRANSFORMS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST = datetime(1, 1, 1, tzinfo=UTC)
LAST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
INT64_MAX = 2**63 - 1


def run(name: str, values: list[Any], arrow_type: pa.DataType | None = None):
    """Apply transform ``name``; returns (values, per-row refused flags)."""
    result = TRANSFORMS[name](pa.array(values, arrow_type))
    refused = [False] * len(values) if result.invalid is None else result.invalid.to_pylist()
    return result.values.to_pylist(), refused


def test_registry_has_the_names_mapping_files_rely_on() -> None:
    required = {"from_ms", "from_us", "iso8601", "to_double", "to_string", "upper", "to_int64"}
    sides = {"taker_side_from_buyer_maker", "invert_side", "maker_to_taker", "normalize_side"}
    assert required | sides <= set(TRANSFORMS)
    for name, transform in TRANSFORMS.items():
        assert transform.name == name
        assert transform.accepts, name
        assert transform.doc, name


# --- time -----------------------------------------------------------------------------------

MS_SPAN = st.integers(
    (FIRST - EPOCH) // timedelta(milliseconds=1), (LAST - EPOCH) // timedelta(milliseconds=1)
)
US_SPAN = st.integers(
    (FIRST - EPOCH) // timedelta(microseconds=1), (LAST - EPOCH) // timedelta(microseconds=1)
)


@given(st.lists(MS_SPAN, max_size=20))
def test_from_ms_equals_datetime_arithmetic(millis: list[int]) -> None:
    values, refused = run("from_ms", millis, pa.int64())
    assert values == [EPOCH + timedelta(milliseconds=ms) for ms in millis]
    assert not any(refused)


@given(st.lists(US_SPAN, max_size=20))
def test_from_us_equals_datetime_arithmetic(micros: list[int]) -> None:
    values, refused = run("from_us", micros, pa.int64())
    assert values == [EPOCH + timedelta(microseconds=us) for us in micros]
    assert not any(refused)


@given(st.integers(-(2**63), INT64_MAX))
def test_from_ms_refuses_only_what_datetime_cannot_hold(millis: int) -> None:
    try:
        expected = EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        expected = None
    values, refused = run("from_ms", [millis], pa.int64())
    assert values == [expected]
    assert refused == [expected is None]


def test_from_ms_accepts_narrow_integers_and_keeps_nulls() -> None:
    values, refused = run("from_ms", [1_000, None, -1], pa.int32())
    assert values == [EPOCH + timedelta(seconds=1), None, EPOCH - timedelta(milliseconds=1)]
    assert refused == [False, False, False]


@given(st.integers(-(2**51), 2**51))
def test_from_s_of_float_seconds_lands_on_the_microsecond(micros: int) -> None:
    values, refused = run("from_s", [micros / 1e6], pa.float64())
    assert values == [EPOCH + timedelta(microseconds=micros)]
    assert refused == [False]


def test_from_s_integers_and_refusals() -> None:
    values, refused = run("from_s", [1_695_627_716, None], pa.int64())
    assert values == [datetime(2023, 9, 25, 7, 41, 56, tzinfo=UTC), None]
    values, refused = run("from_s", [float("nan"), float("inf"), 1e20, 0.5], pa.float64())
    assert values == [None, None, None, EPOCH + timedelta(milliseconds=500)]
    assert refused == [True, True, True, False]


ZONES = st.sampled_from(["Z", "+00:00", "-00:00", "+05:30", "-08:00", "+0100", "-03"])


def zone_offset(zone: str) -> timedelta:
    if zone == "Z":
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
    return sign * timedelta(minutes=minutes)


@given(
    moment=st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31)),
    nanos=st.integers(0, 999),
    digits=st.integers(0, 9),
    zone=ZONES,
    separator=st.sampled_from(["T", " "]),
)
def test_iso8601_truncates_to_the_microsecond(
    moment: datetime, nanos: int, digits: int, zone: str, separator: str
) -> None:
    fraction = f"{moment.microsecond:06d}{nanos:03d}"[:digits]
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{separator}"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        f"{'.' + fraction if digits else ''}{zone}"
    )
    kept_micros = int(fraction[:6].ljust(6, "0"))
    local = moment.replace(microsecond=kept_micros, tzinfo=UTC)
    values, refused = run("iso8601", [text])
    assert values == [local - zone_offset(zone)], text
    assert refused == [False]


def test_iso8601_venue_spellings() -> None:
    texts = [
        "2026-08-09T21:05:42.514318Z",  # Coinbase Advanced
        "2026-08-09T21:05:48.228568804Z",  # Coinbase with nanoseconds
        "2026-08-09T21:05:30.2Z",  # trailing zeros dropped
        "2026-08-09T21:05:30.999999999+00:00",
        "2023-09-25T07:48:36.925533Z",  # Kraken v2
        None,
    ]
    values, refused = run("iso8601", texts)
    assert values == [
        datetime(2026, 8, 9, 21, 5, 42, 514318, tzinfo=UTC),
        datetime(2026, 8, 9, 21, 5, 48, 228568, tzinfo=UTC),
        datetime(2026, 8, 9, 21, 5, 30, 200000, tzinfo=UTC),
        datetime(2026, 8, 9, 21, 5, 30, 999999, tzinfo=UTC),
        datetime(2023, 9, 25, 7, 48, 36, 925533, tzinfo=UTC),
        None,
    ]
    assert not any(refused)


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "",
        "2026-08-09T21:05:30",  # no zone: we will not guess one
        "2026-08-09",
        "2026-08-09T21:05Z",  # no seconds
        "2026-08-09T21:05:30.Z",
        "2026-08-09T21:05:30.1234567890Z",  # ten digits
        "2026-02-30T21:05:30Z",  # shape right, calendar wrong
        "2026-13-01T00:00:00Z",
        "2026-08-09T24:00:00Z",
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "2026-08-09T21:05:30z",
    ],
)
def test_iso8601_refuses(text: str) -> None:
    good = "2026-08-09T21:05:42.514318Z"
    values, refused = run("iso8601", [good, text, good])
    assert refused == [False, True, False]
    assert values[1] is None
    assert values[0] == values[2] == datetime(2026, 8, 9, 21, 5, 42, 514318, tzinfo=UTC)


# --- numbers --------------------------------------------------------------------------------

DECIMAL_TEXT = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(0, 1e7, allow_nan=False).map(lambda f: f"{f:.8f}"),
    st.integers(-(10**30), 10**30).map(str),
)


@given(st.lists(DECIMAL_TEXT, max_size=20))
def test_to_double_of_decimal_text_equals_float(texts: list[str]) -> None:
    values, refused = run("to_double", texts, pa.string())
    assert values == [float(text) for text in texts]
    assert not any(refused)


@given(st.text(max_size=12))
def test_to_double_of_any_text_is_float_or_refused(text: str) -> None:
    [value], [was_refused] = run("to_double", [text])
    if was_refused:
        assert value is None
    else:
        assert value == float(text)


@pytest.mark.parametrize(
    "text",
    ["abc", "", " 1", "1 ", "1.2.3", "0x10", "1_000", "nan", "inf", "-Infinity", "NaN", "+nan"],
)
def test_to_double_refuses_non_decimal_text(text: str) -> None:
    values, refused = run("to_double", ["1.5", text])
    assert values == [1.5, None]
    assert refused == [False, True]


def test_to_double_of_numbers() -> None:
    assert run("to_double", [3, None], pa.int64()) == ([3.0, None], [False, False])
    assert run("to_double", [1.25], pa.float32()) == ([1.25], [False])
    assert run("to_double", [Decimal("0.5")], pa.decimal128(10, 4)) == ([0.5], [False])
    # A float that cannot hold the integer exactly is refused rather than rounded.
    assert run("to_double", [2**53 + 1], pa.int64()) == ([None], [True])


@given(st.lists(st.integers(-(2**63), INT64_MAX), max_size=20))
def test_to_int64_of_digit_text_round_trips(numbers: list[int]) -> None:
    values, refused = run("to_int64", [str(number) for number in numbers], pa.string())
    assert values == numbers
    assert not any(refused)


@pytest.mark.parametrize(
    "text",
    [*("abc", "", "1.0", "+1", " 7", "9223372036854775808", "1e3"), "0x10", "0X1f", "0xffff"],
)
def test_to_int64_refuses(text: str) -> None:
    assert run("to_int64", ["42", text]) == ([42, None], [False, True])


# Texts close to numbers: signs, dots, exponents, hex prefixes, the words Arrow's parsers know.
NUMBER_LIKE = st.text(alphabet="0123456789+-.eExXabfinINFty ", max_size=10)
DECIMAL_PATTERN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


@given(st.lists(NUMBER_LIKE, max_size=8))
def test_to_double_accepts_exactly_decimal_text(texts: list[str]) -> None:
    values, refused = run("to_double", texts, pa.string())
    for text, value, was_refused in zip(texts, values, refused, strict=True):
        if DECIMAL_PATTERN.fullmatch(text):
            assert (value, was_refused) == (float(text), False), text
        else:
            assert (value, was_refused) == (None, True), text


@given(st.lists(NUMBER_LIKE, max_size=8))
def test_to_int64_accepts_exactly_whole_numbers_in_range(texts: list[str]) -> None:
    values, refused = run("to_int64", texts, pa.string())
    for text, value, was_refused in zip(texts, values, refused, strict=True):
        if re.fullmatch(r"-?[0-9]+", text) and -(2**63) <= int(text) <= INT64_MAX:
            assert (value, was_refused) == (int(text), False), text
        else:
            assert (value, was_refused) == (None, True), text


def test_to_int64_of_floats_and_unsigned() -> None:
    floats = [3.0, 2.5, float("nan"), 1e30, -0.0, None]
    assert run("to_int64", floats, pa.float64()) == (
        [3, None, None, None, 0, None],
        [False, True, True, True, False, False],
    )
    assert run("to_int64", [2**64 - 1, 5], pa.uint64()) == ([None, 5], [True, False])


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_positive_keeps_exactly_finite_numbers_above_zero(number: float) -> None:
    keep = number == number and abs(number) != float("inf") and number > 0
    assert run("positive", [number], pa.float64()) == ([number if keep else None], [not keep])


def test_positive_on_integers() -> None:
    assert run("positive", [5, 0, -5, None], pa.int64()) == (
        [5, None, None, None],
        [False, True, True, False],
    )


# --- text -----------------------------------------------------------------------------------


@given(st.lists(st.integers(-(2**63), INT64_MAX), max_size=20))
def test_to_string_of_integers_equals_str(numbers: list[int]) -> None:
    assert run("to_string", numbers, pa.int64())[0] == [str(number) for number in numbers]


def test_to_string_of_other_types() -> None:
    assert run("to_string", [True, None], pa.bool_())[0] == ["true", None]
    assert run("to_string", ["x"], pa.large_string())[0] == ["x"]
    assert TRANSFORMS["to_string"](pa.array(["x"], pa.large_string())).values.type == pa.string()


@given(st.lists(st.text(alphabet=string.printable), max_size=10))
def test_upper_lower_strip_match_python_on_ascii(texts: list[str]) -> None:
    assert run("upper", texts, pa.string())[0] == [text.upper() for text in texts]
    assert run("lower", texts, pa.string())[0] == [text.lower() for text in texts]
    assert run("strip", texts, pa.string())[0] == [text.strip() for text in texts]


# --- trade side -----------------------------------------------------------------------------

SIDE_TEXT = st.sampled_from(["buy", "sell", "BUY", "SELL", "Buy", "sElL"])


def test_taker_side_from_buyer_maker() -> None:
    # Buyer was the maker -> the taker sold.
    assert run("taker_side_from_buyer_maker", [True, False, None]) == (
        ["SELL", "BUY", None],
        [False, False, False],
    )


@given(st.lists(SIDE_TEXT, max_size=20))
def test_side_inversion_is_an_involution(sides: list[str]) -> None:
    normalized, _ = run("normalize_side", sides, pa.string())
    assert normalized == [side.upper() for side in sides]
    for name in ("invert_side", "maker_to_taker"):
        inverted, refused = run(name, sides, pa.string())
        assert not any(refused)
        assert set(inverted) <= {"BUY", "SELL"}
        assert [a != b for a, b in zip(inverted, normalized, strict=True)] == [True] * len(sides)
        assert run(name, inverted, pa.string())[0] == normalized


@given(st.lists(st.booleans(), max_size=20))
def test_buyer_maker_flag_and_inversion_agree(flags: list[bool]) -> None:
    sides, _ = run("taker_side_from_buyer_maker", flags, pa.bool_())
    flipped, _ = run("taker_side_from_buyer_maker", [not flag for flag in flags], pa.bool_())
    assert run("invert_side", sides, pa.string())[0] == flipped


@pytest.mark.parametrize("name", ["normalize_side", "invert_side", "maker_to_taker"])
def test_side_transforms_refuse_other_words(name: str) -> None:
    values, refused = run(name, ["buy", "b", "", "short", None])
    assert values[1:] == [None, None, None, None]
    assert refused == [False, True, True, True, False]


# --- declared types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arrow_type", "sample"),
    [
        ("from_ms", pa.int64(), 1),
        ("from_us", pa.int64(), 1),
        ("from_s", pa.float64(), 1.0),
        ("iso8601", pa.string(), "2026-08-09T21:05:42Z"),
        ("to_double", pa.string(), "1"),
        ("to_int64", pa.string(), "1"),
        ("to_string", pa.int64(), 1),
        ("upper", pa.large_string(), "a"),
        ("positive", pa.float32(), 1.0),
        ("taker_side_from_buyer_maker", pa.bool_(), True),
        ("invert_side", pa.string(), "buy"),
    ],
)
def test_declared_output_type_is_the_real_one(name: str, arrow_type: pa.DataType, sample) -> None:
    transform = TRANSFORMS[name]
    assert transform.accepts_type(arrow_type)
    produced = transform(pa.array([sample], arrow_type)).values.type
    assert produced == transform.output_type(arrow_type)


def test_type_families() -> None:
    assert Kind.of(pa.string()) is Kind.STRING
    assert Kind.of(pa.uint8()) is Kind.INTEGER
    assert Kind.of(TS_US) is Kind.TIMESTAMP
    assert Kind.of(pa.list_(pa.int64())) is None
    assert not TRANSFORMS["from_ms"].accepts_type(pa.string())
    assert not TRANSFORMS["iso8601"].accepts_type(pa.int64())


# --- a row's fate never depends on its neighbours -------------------------------------------

NEIGHBOURS = {
    "to_double": ["abc", "1e400"],
    "to_int64": ["ten", "99999999999999999999"],  # the second only bisection can find
    "iso8601": ["soon", "2026-02-30T00:00:00Z", "2026-08-09T21:05:48.228568804Z"],
}
MAYBE_VALID_TEXT = st.one_of(
    st.text(max_size=12),
    DECIMAL_TEXT,
    st.integers(-(2**64), 2**64).map(str),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
)


@given(st.sampled_from(sorted(NEIGHBOURS)), MAYBE_VALID_TEXT)
def test_a_value_is_judged_the_same_alone_or_among_bad_neighbours(name: str, text: str) -> None:
    alone = run(name, [text], pa.string())
    values, refused = run(name, [*NEIGHBOURS[name], text], pa.string())
    assert (values[-1:], refused[-1:]) == alone
