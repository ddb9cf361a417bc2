"""The native ISO 8601 parser gives the same StepResult as the Arrow path, row for row.

The Arrow path of the ``iso8601`` transform (regex, truncating replace, Arrow's cast, year range
check) is the reference: the probes below pin down what it accepts at the edges (second 60, hour
24, zone offsets), computing accepted instants independently with ``datetime``, and every check
then asks the native path for exactly the same answer. A hypothesis grammar around the format
mutates every field, and feeds sliced, null-bearing string and large_string arrays.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemahub.errors import UsageError
from schemahub.mapping import isoparse
from schemahub.mapping.kernels import StepResult
from schemahub.mapping.transforms import TRANSFORMS, iso8601_arrow
from tests.sanitized import run_under_sanitizers

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def native(values: pa.Array) -> StepResult:
    return StepResult(*isoparse.parse_iso8601_us(values))


def micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def as_rows(result: StepResult) -> tuple[list[int | None], list[bool] | None]:
    """Values as epoch microseconds (None for null) and the refused mask (None when absent)."""
    values = result.values.cast(pa.int64()).to_pylist()
    return values, None if result.invalid is None else result.invalid.to_pylist()


def assert_same(values: pa.Array) -> StepResult:
    """Native and Arrow paths agree on ``values`` exactly; returns the Arrow path's result."""
    expected, got = iso8601_arrow(values), native(values)
    assert got.values.type == expected.values.type
    assert got.values.equals(expected.values), (values, got.values, expected.values)
    assert (got.invalid is None) == (expected.invalid is None), (values, got, expected)
    if expected.invalid is not None:
        assert got.invalid.null_count == 0
        assert got.invalid.equals(expected.invalid), (values, got.invalid, expected.invalid)
    return expected


def test_the_extension_is_built_and_the_transform_uses_it() -> None:
    """CI builds it; a silent fallback would make the bench figures false."""
    assert isoparse.AVAILABLE
    texts = pa.array(["2026-01-01T00:00:00.1234567Z", "2026-02-30T00:00:00Z", None])
    through_registry = TRANSFORMS["iso8601"](texts)
    direct = native(texts)
    assert as_rows(through_registry) == as_rows(direct)


# --- probes of the Arrow path at the edges ---------------------------------------------------

_ACCEPTED = {
    # text: the same instant computed by hand (local time minus the zone's offset)
    "2026-01-01T23:59:59+23:59": datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC)
    - timedelta(hours=23, minutes=59),
    "2026-01-01T00:00:00-2359": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=23, minutes=59),
    "2026-01-01T00:00:00+23": datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=23),
    "2026-01-01T00:00:00-00": datetime(2026, 1, 1, tzinfo=UTC),
    "2026-06-15 12:30:45.5+05:30": datetime(2026, 6, 15, 7, 0, 45, 500000, tzinfo=UTC),
    "2000-02-29T00:00:00Z": datetime(2000, 2, 29, tzinfo=UTC),
    "2400-02-29T00:00:00Z": datetime(2400, 2, 29, tzinfo=UTC),
    "0004-02-29T00:00:00Z": datetime(4, 2, 29, tzinfo=UTC),
    # year 0000 parses; only the UTC result must be in years 1..9999
    "0000-12-31T23:00:00-01:00": datetime(1, 1, 1, tzinfo=UTC),
    "9999-12-31T23:59:59.999999999Z": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "0001-01-01T00:00:00Z": datetime(1, 1, 1, tzinfo=UTC),
    # 7 to 9 fraction digits are truncated, never rounded
    "2026-01-01T00:00:00.9999999Z": datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=UTC),
    "2026-01-01T00:00:00.000000999-00:00": datetime(2026, 1, 1, tzinfo=UTC),
}

_REFUSED = [
    "2026-01-01T00:00:60Z",  # no leap second
    "2026-01-01T24:00:00Z",  # no hour 24
    "2026-01-01T00:60:00Z",
    "2026-01-01T00:00:00+24:00",  # zone hours 0-23
    "2026-01-01T00:00:00+24",
    "2026-01-01T00:00:00+2400",
    "2026-01-01T00:00:00+99:00",
    "2026-01-01T00:00:00+00:60",  # zone minutes 0-59
    "2026-01-01T00:00:00+0060",
    "0000-01-01T00:00:00Z",  # year 0 in UTC
    "0001-01-01T00:00:00+00:01",  # before year 1 once in UTC
    "9999-12-31T23:59:59-00:01",  # after year 9999 once in UTC
    "1900-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2026-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-00-01T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "2026-01-01T00:00:00.1234567891Z",  # more than 9 fraction digits
    "2026-01-01T00:00:00.Z",
    "2026-01-01T00:00:00Z\n",
    "2026-01-01T00:00:00z",
    "2026-01-01t00:00:00Z",
    "2026-01-01T00:00:00",  # a zone is required
    "2026-01-01T00:00Z",  # seconds are required
    "2026-01-01T00:00:00+05:3",
    "2026-01-01T00:00:00+0530:",
    "2026-01-01T00:00:00+05-30",  # only ':' between zone hours and minutes
    "2026-01-01T00:00:00ZZ",
    "2026-01-01T00:00:00+01:00Z",
    "+026-01-01T00:00:00Z",
    "2026-1-01T00:00:00Z",
    "2026-01-01T00:00:0\u0663Z",  # an Arabic-Indic digit three
    "\uff12026-01-01T00:00:00Z",  # a fullwidth digit two
    "",
]


@pytest.mark.parametrize("text", sorted(_ACCEPTED))
def test_arrow_path_accepts_and_native_agrees(text: str) -> None:
    expected = assert_same(pa.array([text]))
    assert as_rows(expected) == ([micros(_ACCEPTED[text])], None)


@pytest.mark.parametrize("text", _REFUSED)
def test_arrow_path_refuses_and_native_agrees(text: str) -> None:
    good = "2026-01-01T00:00:00Z"
    expected = assert_same(pa.array([good, text, None]))
    assert as_rows(expected) == ([micros(datetime(2026, 1, 1, tzinfo=UTC)), None, None],
                                 [False, True, False])  # fmt: skip


# --- the venues' real shapes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-01-01T00:00:00.123456789Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T00:00:00.01Z", datetime(2026, 1, 1, 0, 0, 0, 10000, tzinfo=UTC)),
        ("2026-01-01T00:00:00.000000Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-08-09T21:05:48.228568804Z", datetime(2026, 8, 9, 21, 5, 48, 228568, tzinfo=UTC)),
        ("2026-08-09T21:05:48.228568+02:00", datetime(2026, 8, 9, 19, 5, 48, 228568, tzinfo=UTC)),
        (
            "2026-08-09T21:05:48.228568804-0530",
            datetime(2026, 8, 10, 2, 35, 48, 228568, tzinfo=UTC),
        ),
    ],
)
def test_venue_shapes(text: str, moment: datetime) -> None:
    for kind in (pa.string(), pa.large_string()):
        expected = assert_same(pa.array([None, text, text], kind))
        assert as_rows(expected) == ([None, micros(moment), micros(moment)], None)


def test_rows_sharing_a_date_are_each_checked_in_full() -> None:
    # Rows of one column mostly share their date, which the parser remembers: a row with that
    # date must still be refused for its own time or zone, and a refused date never remembered.
    texts = [
        "2028-02-29T23:59:59.999999Z",
        "2028-02-29T24:00:00Z",  # the remembered date, an hour that does not exist
        "2028-02-29T10:00:00+24:00",  # the remembered date, a zone that does not exist
        "2028-02-29 10:00:00.5+01:00",
        "2027-02-29T10:00:00Z",  # not a leap year: refused, and not remembered
        "2027-02-29T10:00:00Z",
        "2027-02-28T10:00:00Z",
        "2028-02-29T00:00:00Z",
    ]
    result = assert_same(pa.array(texts))
    values, refused = as_rows(result)
    assert refused == [False, True, True, False, True, True, False, False]
    assert values[0] == micros(datetime(2028, 2, 29, 23, 59, 59, 999999, tzinfo=UTC))
    assert values[3] == micros(datetime(2028, 2, 29, 9, 0, 0, 500000, tzinfo=UTC))


# --- buffers: slices, nulls, empty and broken arrays -----------------------------------------


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_slices_at_every_offset(kind: pa.DataType) -> None:
    texts = ["2026-01-01T00:00:00Z" if i % 3 else ("bad" if i % 2 else None) for i in range(37)]
    texts = [t if t is None or i % 5 else f"2026-01-{1 + i % 28:02d}T01:02:03.4+01:00"
             for i, t in enumerate(texts)]  # fmt: skip
    column = pa.array(texts, kind)
    for start in range(0, 20):
        for length in (0, 1, 7, 8, 9, 17):
            assert_same(column.slice(start, length))


def test_empty_and_all_null_arrays() -> None:
    for values in (pa.array([], pa.string()), pa.array([None, None], pa.string())):
        assert as_rows(native(values)) == ([None] * len(values), None)
        assert_same(values)


def test_refuses_a_non_string_array() -> None:
    with pytest.raises(UsageError, match="string or large_string"):
        isoparse.parse_iso8601_us(pa.array([1, 2]))


def test_broken_offsets_are_an_error_not_a_read_out_of_bounds() -> None:
    data = pa.py_buffer(b"2026-01-01T00:00:00Z")
    # Arrow's cheap validation only checks the last offset; the row 0..30 runs past the data.
    offsets = pa.array([0, 30, 20], pa.int32()).buffers()[1]
    broken = pa.Array.from_buffers(pa.string(), 2, [None, offsets, data])
    with pytest.raises(UsageError, match="offsets are not increasing"):
        isoparse.parse_iso8601_us(broken)


@pytest.mark.parametrize(
    ("length", "offset", "validity", "offsets", "match"),
    [
        (3, 0, None, [0, 20], "offsets buffer holds 8 bytes; expected at least 16"),
        (1, 2, None, [0, 20], "offsets buffer holds 8 bytes; expected at least 16"),
        (9, 0, b"\xff", list(range(0, 200, 20)), "validity buffer holds 1 bytes"),
        (-1, 0, None, [0], "must be >= 0"),
    ],
)
def test_the_extension_checks_buffer_sizes(
    length: int, offset: int, validity: bytes | None, offsets: list[int], match: str
) -> None:
    """Called directly with buffers shorter than length and offset promise: refused."""
    from schemahub.mapping import _iso

    offset_bytes = pa.array(offsets, pa.int32()).buffers()[1]
    with pytest.raises(ValueError, match=match):
        _iso.parse(length, offset, validity, offset_bytes, b"x" * 200, False)


# --- the property: a grammar around the format, with every field mutated ---------------------


def _field(width: int, top: int) -> st.SearchStrategy[str]:
    edges = st.sampled_from([0, 1, top - 1, top, top + 1, 10**width - 1])
    return st.one_of(edges, st.integers(0, 10**width - 1)).map(lambda n: f"{n:0{width}d}")


_ZONES = st.one_of(
    st.sampled_from(["Z", "z", "", "+", "-00", "+00:00", "-23:59", "+24:00", "UTC"]),
    st.tuples(st.sampled_from("+-"), _field(2, 24), st.sampled_from(["", ":", "::", "-", "."]),
              st.sampled_from(["", "00", "30", "59", "60", "99", "5"]))
    .map(lambda parts: parts[0] + parts[1] + (parts[3] and parts[2] + parts[3])),
)  # fmt: skip
_FRACTIONS = st.one_of(
    st.just(""),
    st.integers(0, 11).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n).map(lambda d: "." + d)
    ),
)


_SIGNS = st.sampled_from("+-")


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


def _date_time(*fields: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """year, month, day, separator, hour, minute, second, fraction, zone -> one text."""
    layout = "{}-{}-{}{}{}:{}:{}{}{}"
    return st.tuples(*fields).map(lambda parts: layout.format(*parts))


# Fields in range (the day may still overrun a short month): mostly accepted texts.
_VALID = _date_time(
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    _two(1, 12),
    _two(1, 31),
    st.sampled_from(["T", " "]),
    _two(0, 23),
    _two(0, 59),
    _two(0, 59),
    _FRACTIONS.filter(lambda f: len(f) != 1 and len(f) <= 10),
    st.one_of(
        st.just("Z"),
        st.tuples(_SIGNS, _two(0, 23)).map("".join),
        # mostly a valid separator; '-' and '.' between zone hours and minutes are refused
        st.tuples(_SIGNS, _two(0, 23), st.sampled_from(["", ":", ":", "-", "."]), _two(0, 59)).map(
            "".join
        ),
    ),
)
# Every field at and around its limits, and wrong separators.
_SHAPED = _date_time(
    st.one_of(st.sampled_from(["0000", "0001", "1970", "2000", "2100", "9999"]), _field(4, 2026)),
    _field(2, 12),
    _field(2, 31),
    st.sampled_from(["T", " ", "T", "t", "_"]),
    _field(2, 23),
    _field(2, 59),
    _field(2, 59),
    _FRACTIONS,
    _ZONES,
)
# What a mutation may put in: ASCII digits and separators, other scripts' digits, whitespace.
# (Arabic-Indic three, fullwidth zero, extended Arabic-Indic nine, NKo zero, e acute, NUL)
_UNICODE = ["\u0663", "\uff10", "\u06f9", "\u07c0", "\u00e9", "\x00"]
_NOISE = st.sampled_from([*"0123456789-:T .Z+z\n\t", *_UNICODE])


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.one_of(_VALID, _SHAPED))
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["replace", "insert", "delete", "cut"]))
        if how == "replace":
            text = text[:at] + draw(_NOISE) + text[at + 1 :]
        elif how == "insert":
            text = text[:at] + draw(_NOISE) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at]
    return text


_TEXTS = st.one_of(_VALID, _SHAPED, _mutated(), st.none(), st.text(max_size=40))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(_TEXTS, max_size=40),
    large=st.booleans(),
    start=st.integers(0, 9),
    cut=st.integers(0, 9),
)
def test_native_equals_arrow_on_the_grammar(
    texts: list[str | None], large: bool, start: int, cut: int
) -> None:
    column = pa.array(texts, pa.large_string() if large else pa.string())
    assert_same(column)
    assert_same(column.slice(min(start, len(texts)), max(0, len(texts) - start - cut)))


# --- the same tests against an AddressSanitizer/UBSan build ----------------------------------


@pytest.mark.slow
def test_iso_tests_pass_under_sanitizers(tmp_path: Path) -> None:
    """The C parser reads Arrow buffers by offsets: run this file against a sanitized build."""
    run = run_under_sanitizers(
        tmp_path, "schemahub.mapping._iso", ["tests/mapping/test_iso_native.py"]
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
