"""The one registry of named transforms a mapping file can use.

Each transform is a vectorised function over a pyarrow array that declares the families of Arrow
types it accepts and the type it returns, so a mapping is type-checked when it is compiled, not
when the first trade arrives. Nulls pass through every transform; a non-null value a transform
cannot handle comes back null and flagged (see :class:`~schemahub.mapping.kernels.StepResult`).

==============================  ==================================  ==========================
name                            accepts                             returns
==============================  ==================================  ==========================
from_s / from_ms / from_us      epoch seconds / ms / us             timestamp[us, UTC]
iso8601                         ISO 8601 text with a zone           timestamp[us, UTC]
to_double / to_int64            numbers, decimal text               float64 / int64
to_string                       any scalar                          string
positive                        numbers                             same (refuses <= 0, NaN)
upper / lower / strip           text                                same
taker_side_from_buyer_maker     bool (true: buyer was maker)        BUY / SELL
normalize_side                  buy / sell, any case                BUY / SELL
invert_side (maker_to_taker)    buy / sell, any case                the opposite, BUY / SELL
==============================  ==================================  ==========================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import MappingProxyType

import pyarrow as pa
import pyarrow.compute as pc

from schemahub.mapping import isoparse
from schemahub.mapping.kernels import (
    MAX_EPOCH_US,
    MIN_EPOCH_US,
    TS_US,
    Kind,
    StepResult,
    bisect_failures,
    epoch_to_timestamp,
    matches,
    reject_unless,
    scalar,
    then,
    timestamp_in_range,
)

TransformFn = Callable[[pa.Array], StepResult]
# The step in Spark SQL: given the SQL of its input and the input's type family, an expression
# that is NULL exactly where the step returns null (a null input, or a value it refuses), or
# None when Spark SQL has no exact equivalent for that input (`--emit-sql spark` then refuses).
SparkSql = Callable[[str, Kind], str | None]


@dataclass(frozen=True, slots=True)
class Transform:
    """A named, typed, vectorised column transform."""

    name: str
    accepts: frozenset[Kind]
    output: pa.DataType | None  # None: the same type as the input
    expects: str  # what a valid input looks like, quoted in reject reasons
    fn: TransformFn
    doc: str
    spark: SparkSql | None = None

    def accepts_type(self, arrow_type: pa.DataType) -> bool:
        """Whether a column of ``arrow_type`` can be fed to this transform."""
        return Kind.of(arrow_type) in self.accepts

    def output_type(self, input_type: pa.DataType) -> pa.DataType:
        """The Arrow type this transform returns for an input of ``input_type``."""
        return self.output if self.output is not None else input_type

    def __call__(self, values: pa.Array) -> StepResult:
        return self.fn(values)


_REGISTRY: dict[str, Transform] = {}
TRANSFORMS: MappingProxyType[str, Transform] = MappingProxyType(_REGISTRY)


def _transform(
    name: str,
    *,
    accepts: Iterable[Kind],
    output: pa.DataType | None,
    expects: str,
    aliases: tuple[str, ...] = (),
    spark: SparkSql | None = None,
) -> Callable[[TransformFn], TransformFn]:
    def register(fn: TransformFn) -> TransformFn:
        for registered_name in (name, *aliases):
            if registered_name in _REGISTRY:
                raise RuntimeError(f"transform {registered_name!r} registered twice")
            _REGISTRY[registered_name] = Transform(
                registered_name,
                frozenset(accepts),
                output,
                expects,
                fn,
                inspect.getdoc(fn) or "",
                spark,
            )
        return fn

    return register


_NUMBERS = (Kind.INTEGER, Kind.FLOAT, Kind.DECIMAL)
_DECIMAL_TEXT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_INTEGER_TEXT = r"^-?[0-9]+$"
# Seconds are required; the fraction may have 1 to 9 digits; a zone is required.
_ZONE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)"
_ISO_DATE_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
_ISO_MICROS = "^" + _ISO_DATE_TIME + r"(\.[0-9]{1,6})?" + _ZONE + "$"
_ISO_TOO_PRECISE = r"^(.{19}\.[0-9]{6})[0-9]{1,3}" + _ZONE + "$"


# --- Spark SQL building blocks (`run unify --emit-sql spark`) -------------------------------
# Regular expressions here are Java's (RLIKE); none needs a backslash, so they read the same in
# a Spark SQL string literal. TRY_CAST keeps the SQL exact under spark.sql.ansi.enabled too.


def _sql_when(condition: str, value: str) -> str:
    return f"CASE WHEN {condition} THEN {value} END"


def _sql_epoch(us_per_unit: int) -> SparkSql:
    """Integers counting ``us_per_unit`` microseconds -> timestamp, the span of from_* exactly."""
    lowest, highest = -(-MIN_EPOCH_US // us_per_unit), MAX_EPOCH_US // us_per_unit

    def sql(x: str, kind: Kind) -> str | None:
        if kind is not Kind.INTEGER:
            return None  # epoch seconds as floats round to even; left to the in-process unify
        micros = (
            f"CAST({x} AS BIGINT) * {us_per_unit}" if us_per_unit != 1 else f"CAST({x} AS BIGINT)"
        )
        return _sql_when(f"{x} BETWEEN {lowest} AND {highest}", f"timestamp_micros({micros})")

    return sql


# --- time -----------------------------------------------------------------------------------


@_transform(
    "from_s",
    accepts=(Kind.INTEGER, Kind.FLOAT),
    output=TS_US,
    expects="epoch seconds",
    spark=_sql_epoch(1_000_000),
)
def from_s(values: pa.Array) -> StepResult:
    """Epoch seconds (integer, or float rounded to the nearest microsecond) -> UTC timestamp."""
    if pa.types.is_integer(values.type):
        return epoch_to_timestamp(values, 1_000_000)
    micros = pc.round(pc.multiply(values.cast(pa.float64()), 1e6))
    in_span = pc.and_(
        pc.greater_equal(micros, float(MIN_EPOCH_US)), pc.less_equal(micros, float(MAX_EPOCH_US))
    )
    checked = reject_unless(micros, pc.and_(pc.is_finite(micros), in_span))
    # float(MAX_EPOCH_US) is rounded, so the exact span is checked again on the integers.
    return then(checked, lambda whole: timestamp_in_range(whole.cast(pa.int64()).cast(TS_US)))


@_transform(
    "from_ms",
    accepts=(Kind.INTEGER,),
    output=TS_US,
    expects="epoch milliseconds",
    spark=_sql_epoch(1_000),
)
def from_ms(values: pa.Array) -> StepResult:
    """Epoch milliseconds -> UTC timestamp (microseconds)."""
    return epoch_to_timestamp(values, 1_000)


@_transform(
    "from_us",
    accepts=(Kind.INTEGER,),
    output=TS_US,
    expects="epoch microseconds",
    spark=_sql_epoch(1),
)
def from_us(values: pa.Array) -> StepResult:
    """Epoch microseconds -> UTC timestamp."""
    return epoch_to_timestamp(values, 1)


# What the Arrow parser takes, spelled out: hours 00-23, minutes and seconds 00-59, zone offsets
# up to 23:59 (Java's ZoneOffset stops at 18:00, so the offset is applied by arithmetic).
_SQL_ISO_SHAPE = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,6})?"
    "(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)$"
)
_SQL_ISO_TOO_PRECISE = "^(.{19}[.][0-9]{6})[0-9]{1,3}(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def _sql_iso8601(x: str, kind: Kind) -> str | None:
    """The date and time read as UTC (a calendar check: 02-30 is NULL), minus the offset.

    The text is bound once to a lambda variable (Spark SQL has no LET) so it is not repeated.
    """
    zone = "regexp_extract(iso_text, '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$', 1)"
    local = (
        "TRY_CAST(concat(replace(regexp_extract(iso_text, '^(.{19}([.][0-9]+)?)', 1), 'T', ' '),"
        " 'Z') AS TIMESTAMP)"
    )
    offset_minutes = (
        f"CASE WHEN {zone} = 'Z' THEN 0 ELSE (CASE WHEN substr({zone}, 1, 1) = '-' THEN -1 ELSE 1"
        f" END) * (CAST(substr({zone}, 2, 2) AS INT) * 60"
        f" + coalesce(TRY_CAST(substr(replace({zone}, ':', ''), 4, 2) AS INT), 0)) END"
    )
    micros = f"unix_micros({local}) - ({offset_minutes}) * 60000000L"
    in_span = _sql_when(
        f"iso_us BETWEEN {MIN_EPOCH_US} AND {MAX_EPOCH_US}", "timestamp_micros(iso_us)"
    )
    parsed = _sql_when(f"iso_text RLIKE '{_SQL_ISO_SHAPE}'", _sql_let(micros, "iso_us", in_span))
    return _sql_let(f"regexp_replace({x}, '{_SQL_ISO_TOO_PRECISE}', '$1$2')", "iso_text", parsed)


def _sql_let(value: str, name: str, body: str) -> str:
    """``body`` with ``name`` bound to ``value``, which is evaluated once."""
    return f"element_at(transform(array({value}), {name} -> {body}), 1)"


@_transform(
    "iso8601",
    accepts=(Kind.STRING,),
    output=TS_US,
    expects="ISO 8601 like 2026-08-09T21:05:42.514318Z",
    spark=_sql_iso8601,
)
def iso8601(values: pa.Array) -> StepResult:
    """ISO 8601 date-time with seconds and a zone -> UTC timestamp.

    Fractions beyond microseconds (Coinbase sends nanoseconds) are truncated, not rounded, so a
    trade never moves into the next microsecond.
    """
    if isoparse.AVAILABLE:
        # One C pass instead of regex + cast + range check; same rows (tests/mapping prove it).
        return StepResult(*isoparse.parse_iso8601_us(values))
    return iso8601_arrow(values)


def iso8601_arrow(values: pa.Array) -> StepResult:
    """The Arrow path of :func:`iso8601`: without the native parser, and its reference."""
    ok = matches(values, _ISO_MICROS)
    if not pc.all(ok).as_py():
        values = pc.replace_substring_regex(values, _ISO_TOO_PRECISE, r"\1\2")
        ok = matches(values, _ISO_MICROS)
    shaped = reject_unless(values, ok)
    # The shape is right but the calendar may not be (2026-02-30): Arrow's parser decides.
    parsed = then(shaped, lambda text: bisect_failures(lambda a: a.cast(TS_US), text, TS_US))
    return then(parsed, timestamp_in_range)


# --- numbers --------------------------------------------------------------------------------


# Arrow refuses integers beyond 2**53 as floats (they may not round-trip).
_EXACT_DOUBLE_INT = 2**53


def _sql_to_double(x: str, kind: Kind) -> str | None:
    if kind is Kind.STRING:  # both parse decimal text to the nearest double
        return _sql_when(
            f"{x} RLIKE '{_DECIMAL_TEXT.replace(chr(92) + '.', '[.]')}'", f"CAST({x} AS DOUBLE)"
        )
    if kind is Kind.INTEGER:
        bound = _EXACT_DOUBLE_INT
        return _sql_when(f"{x} BETWEEN -{bound} AND {bound}", f"CAST({x} AS DOUBLE)")
    if kind is Kind.FLOAT:
        return f"CAST({x} AS DOUBLE)"
    return None  # decimals: Arrow's conversion is not the correctly rounded one Spark makes


@_transform(
    "to_double",
    accepts=(Kind.STRING, *_NUMBERS),
    output=pa.float64(),
    expects="a decimal number",
    spark=_sql_to_double,
)
def to_double(values: pa.Array) -> StepResult:
    """Decimal text ("0.0012") or any number -> float64 (text parsed exactly as float() does)."""
    if Kind.of(values.type) is not Kind.STRING:
        return bisect_failures(_as_double, values, pa.float64())
    # Parsing first spares the usual batch a regex pass: a text Arrow parses to a finite number
    # is decimal text (tests/mapping check it); Arrow also reads "nan", "inf" and "infinity",
    # which the pattern refuses. When some text does not parse, the pattern finds which.
    try:
        parsed = _as_double(values)
    except pa.ArrowInvalid:
        checked = reject_unless(values, matches(values, _DECIMAL_TEXT))
        return then(checked, lambda a: bisect_failures(_as_double, a, pa.float64()))
    finite = pc.is_finite(parsed)
    if finite.false_count == 0:
        return StepResult(parsed)
    return reject_unless(parsed, pc.or_kleene(finite, matches(values, _DECIMAL_TEXT)))


def _as_double(values: pa.Array) -> pa.Array:
    return values.cast(pa.float64())


_TWO_TO_63 = "CAST('9223372036854775808' AS DOUBLE)"


def _sql_to_int64(x: str, kind: Kind) -> str | None:
    if kind is Kind.STRING:  # TRY_CAST is NULL on overflow, as Arrow refuses it
        return _sql_when(f"{x} RLIKE '{_INTEGER_TEXT}'", f"TRY_CAST({x} AS BIGINT)")
    if kind is Kind.INTEGER:
        return f"CAST({x} AS BIGINT)"
    if kind is Kind.FLOAT:  # Spark's NaN equals itself and its casts saturate: both spelled out
        in_span = f"{x} >= -{_TWO_TO_63} AND {x} < {_TWO_TO_63}"
        return _sql_when(
            f"NOT isnan({x}) AND {x} = floor({x}) AND {in_span}", f"CAST({x} AS BIGINT)"
        )
    return None  # decimals: Spark truncates fractions where Arrow refuses them


@_transform(
    "to_int64",
    accepts=(Kind.STRING, *_NUMBERS),
    output=pa.int64(),
    expects="a whole number",
    spark=_sql_to_int64,
)
def to_int64(values: pa.Array) -> StepResult:
    """Text of digits, an integer, or a whole float -> int64 (refuses fractions and overflow)."""
    kind = Kind.of(values.type)
    if kind is Kind.STRING:
        return _text_to_int64(values)
    step = StepResult(values)
    if kind is Kind.FLOAT:
        step = reject_unless(values, pc.equal(pc.floor(values), values))
    return then(step, lambda a: bisect_failures(_as_int64, a, pa.int64()))


def _text_to_int64(values: pa.Array) -> StepResult:
    # As in to_double, parse first: what Arrow parses is digits with an optional minus, or hex
    # ("0x1f"), which is not a whole number in text (tests/mapping check it).
    try:
        parsed = _as_int64(values)
    except pa.ArrowInvalid:
        checked = reject_unless(values, matches(values, _INTEGER_TEXT))
        return then(checked, lambda a: bisect_failures(_as_int64, a, pa.int64()))
    hexadecimal = pc.or_(pc.starts_with(values, "0x"), pc.starts_with(values, "0X"))
    if hexadecimal.true_count == 0:
        return StepResult(parsed)
    return reject_unless(parsed, pc.invert(hexadecimal))


def _as_int64(values: pa.Array) -> pa.Array:
    return values.cast(pa.int64())


def _sql_positive(x: str, kind: Kind) -> str | None:
    if kind is Kind.FLOAT:  # Spark orders NaN above every number, so it is refused by name
        finite = f"NOT isnan({x}) AND {x} <> CAST('Infinity' AS DOUBLE)"
        return _sql_when(f"{x} > 0 AND {finite}", x)
    return _sql_when(f"{x} > 0", x)


@_transform(
    "positive",
    accepts=_NUMBERS,
    output=None,
    expects="a finite number > 0",
    spark=_sql_positive,
)
def positive(values: pa.Array) -> StepResult:
    """Keeps finite numbers above zero; refuses zero, negatives, NaN and infinities."""
    ok = pc.greater(values, scalar(0, values.type))
    if Kind.of(values.type) is Kind.FLOAT:
        ok = pc.and_(ok, pc.is_finite(values))
    return reject_unless(values, ok)


# --- text -----------------------------------------------------------------------------------


def _sql_to_string(x: str, kind: Kind) -> str | None:
    if kind is Kind.STRING:
        return x
    if kind in (Kind.INTEGER, Kind.BOOL):  # digits, true / false: the same text in both
        return f"CAST({x} AS STRING)"
    return None  # floats, decimals and timestamps print differently in Spark


@_transform(
    "to_string",
    accepts=(Kind.STRING, Kind.BOOL, Kind.TIMESTAMP, *_NUMBERS),
    output=pa.string(),
    expects="a value with a text form",
    spark=_sql_to_string,
)
def to_string(values: pa.Array) -> StepResult:
    """Any scalar -> its Arrow text form (string)."""
    return StepResult(values.cast(pa.string()))


# upper, lower and strip have no Spark twin: Spark's case mapping is Java's (full, "ß" -> "SS")
# where Arrow's is code point by code point, and Spark's trim removes spaces only.
@_transform("upper", accepts=(Kind.STRING,), output=None, expects="text")
def upper(values: pa.Array) -> StepResult:
    """Text -> upper case."""
    return StepResult(pc.utf8_upper(values))


@_transform("lower", accepts=(Kind.STRING,), output=None, expects="text")
def lower(values: pa.Array) -> StepResult:
    """Text -> lower case."""
    return StepResult(pc.utf8_lower(values))


@_transform("strip", accepts=(Kind.STRING,), output=None, expects="text")
def strip(values: pa.Array) -> StepResult:
    """Text without leading and trailing whitespace."""
    return StepResult(pc.utf8_trim_whitespace(values))


# --- trade side -----------------------------------------------------------------------------

_BUY, _SELL = pa.scalar("BUY"), pa.scalar("SELL")
_SIDES = pa.array(["BUY", "SELL"])


# The texts whose Arrow upper case is BUY or SELL: ASCII letters either case, and U+017F (long
# s), the one other code point Arrow upper-cases to one of these letters (tests/mapping check).
_SQL_BUY = "^[bB][uU][yY]$"
_SQL_SELL = "^[sS\\u017F][eE][lL][lL]$"


def _sql_sides(buy: str, sell: str) -> SparkSql:
    def sql(x: str, kind: Kind) -> str | None:
        return (
            f"CASE WHEN {x} RLIKE '{_SQL_BUY}' THEN '{buy}'"
            f" WHEN {x} RLIKE '{_SQL_SELL}' THEN '{sell}' END"
        )

    return sql


def _sql_taker_from_buyer_maker(x: str, kind: Kind) -> str | None:
    return f"CASE WHEN {x} THEN 'SELL' WHEN NOT {x} THEN 'BUY' END"


@_transform(
    "taker_side_from_buyer_maker",
    accepts=(Kind.BOOL,),
    output=pa.string(),
    expects="true or false",
    spark=_sql_taker_from_buyer_maker,
)
def taker_side_from_buyer_maker(values: pa.Array) -> StepResult:
    """Binance ``isBuyerMaker``: true means the buyer rested, so the taker SOLD; false -> BUY."""
    return StepResult(pc.if_else(values, _SELL, _BUY))


@_transform(
    "normalize_side",
    accepts=(Kind.STRING,),
    output=pa.string(),
    expects="buy or sell",
    spark=_sql_sides("BUY", "SELL"),
)
def normalize_side(values: pa.Array) -> StepResult:
    """A side already from the taker's view, any case ("buy", "SELL") -> BUY / SELL."""
    side = pc.utf8_upper(values).cast(pa.string())
    return reject_unless(side, pc.is_in(side, value_set=_SIDES))


@_transform(
    "invert_side",
    accepts=(Kind.STRING,),
    output=pa.string(),
    expects="buy or sell",
    aliases=("maker_to_taker",),
    spark=_sql_sides("SELL", "BUY"),
)
def invert_side(values: pa.Array) -> StepResult:
    """The other side of the trade: maker BUY -> taker SELL and back (Coinbase sends maker)."""
    side = normalize_side(values)
    flipped = pc.if_else(pc.equal(side.values, _BUY), _SELL, _BUY)
    return StepResult(flipped, side.invalid)
