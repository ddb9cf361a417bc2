"""Vectorised building blocks the transforms are made of.

Every transform returns a :class:`StepResult`: the converted values, plus a mask of the rows whose
(non-null) input could not be converted. Invalid rows come out as nulls, so later transforms in a
chain pass them through untouched and the compiler can reject exactly those rows while their
siblings land.

Invalid values are found without per-row Python: first with vectorised checks (a regular
expression, a range comparison), and only when Arrow still refuses a batch (an overflow, a 30th
of February) by bisecting it into halves until the offending rows are isolated.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

TS_US = pa.timestamp("us", tz="UTC")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The span Python's datetime can hold: anything outside would break every reader of the table.
_US = timedelta(microseconds=1)
MIN_EPOCH_US = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _US
MAX_EPOCH_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - _EPOCH) // _US


class Kind(enum.Enum):
    """Families of Arrow types a transform can accept."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOL = "bool"
    TIMESTAMP = "timestamp"

    @classmethod
    def of(cls, arrow_type: pa.DataType) -> Kind | None:
        """The family of ``arrow_type``, or None when no transform handles it."""
        return _kind_of(arrow_type)


@functools.lru_cache(maxsize=128)
def _kind_of(arrow_type: pa.DataType) -> Kind | None:
    checks = (
        (Kind.STRING, pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)),
        (Kind.INTEGER, pa.types.is_integer(arrow_type)),
        (Kind.FLOAT, pa.types.is_floating(arrow_type)),
        (Kind.DECIMAL, pa.types.is_decimal(arrow_type)),
        (Kind.BOOL, pa.types.is_boolean(arrow_type)),
        (Kind.TIMESTAMP, pa.types.is_timestamp(arrow_type)),
    )
    return next((kind for kind, matches in checks if matches), None)


@dataclass(frozen=True, slots=True)
class StepResult:
    """Output of one transform over one column.

    ``invalid`` is None when every non-null input converted; otherwise it is True exactly where a
    non-null input was refused, and ``values`` is null at those rows.
    """

    values: pa.Array
    invalid: pa.BooleanArray | None = None


def _nothing_set(mask: pa.BooleanArray) -> bool:
    return mask.true_count == 0


@functools.lru_cache(maxsize=256)
def scalar(value: object, arrow_type: pa.DataType) -> pa.Scalar:
    """A cached Arrow scalar. Converting a Python literal on every kernel call costs more than
    the kernel itself on the small batches of the live path."""
    return pa.scalar(value, arrow_type)


def merge_invalid(*masks: pa.BooleanArray | None) -> pa.BooleanArray | None:
    """OR of the masks that are not None (None when all are None)."""
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    merged = present[0]
    for mask in present[1:]:
        merged = pc.or_(merged, mask)
    return merged


def reject_unless(values: pa.Array, ok: pa.Array) -> StepResult:
    """Keep ``values`` where ``ok`` is true; null out and flag the other non-null values.

    Null values are never flagged, whatever ``ok`` says about them (``is_in`` says false).
    """
    # One kernel call when everything is fine (the usual case): small live batches pay for each.
    if ok.false_count == 0:
        return StepResult(values)
    invalid = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(ok, True)))
    if _nothing_set(invalid):
        return StepResult(values)
    return StepResult(null_where(values, invalid), invalid)


def within(values: pa.Array, lowest: int, highest: int) -> StepResult:
    """Flag integers outside ``[lowest, highest]``; one min/max pass when all are inside."""
    bounds = pc.min_max(values)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or (low >= lowest and high <= highest):
        return StepResult(values)
    ok = pc.and_(pc.greater_equal(values, lowest), pc.less_equal(values, highest))
    return reject_unless(values, ok)


def null_where(values: pa.Array, mask: pa.BooleanArray) -> pa.Array:
    """``values`` with nulls where ``mask`` is true."""
    return pc.if_else(mask, pa.scalar(None, values.type), values)


def then(first: StepResult, second: Callable[[pa.Array], StepResult]) -> StepResult:
    """Run ``second`` on the output of ``first``, keeping both steps' invalid rows."""
    result = second(first.values)
    return StepResult(result.values, merge_invalid(first.invalid, result.invalid))


def bisect_failures(
    op: Callable[[pa.Array], pa.Array], values: pa.Array, out_type: pa.DataType
) -> StepResult:
    """Apply ``op`` to ``values``; when Arrow refuses, find the refused rows by bisection.

    The common case costs one call. With k bad rows among n, about k * log2(n) calls on slices.
    """
    try:
        return StepResult(op(values))
    except pa.ArrowInvalid:
        pass
    outputs: list[pa.Array] = []
    flags: list[pa.Array] = []
    _bisect(op, values, out_type, outputs, flags)
    return StepResult(pa.concat_arrays(outputs), pa.concat_arrays(flags))


def _bisect(
    op: Callable[[pa.Array], pa.Array],
    values: pa.Array,
    out_type: pa.DataType,
    outputs: list[pa.Array],
    flags: list[pa.Array],
) -> None:
    # Depth is log2(len), so recursion stays shallow even for millions of rows.
    try:
        outputs.append(op(values).cast(out_type))
        flags.append(pa.repeat(pa.scalar(False), len(values)))
        return
    except pa.ArrowInvalid:
        if len(values) == 1:
            outputs.append(pa.nulls(1, out_type))
            flags.append(pa.array([True]))
            return
    half = len(values) // 2
    _bisect(op, values.slice(0, half), out_type, outputs, flags)
    _bisect(op, values.slice(half), out_type, outputs, flags)


def matches(values: pa.Array, pattern: str) -> pa.Array:
    """Vectorised full-string regular expression test (RE2 syntax); null for null input."""
    return pc.match_substring_regex(values, pattern)


def epoch_to_timestamp(values: pa.Array, us_per_unit: int) -> StepResult:
    """Integers counting units of ``us_per_unit`` microseconds since 1970 -> UTC timestamps.

    Values outside years 1..9999 are flagged rather than wrapped around.
    """
    as_int = values.cast(pa.int64()) if values.type != pa.int64() else values
    lowest = -(-MIN_EPOCH_US // us_per_unit)  # ceil: the first unit inside the span
    checked = within(as_int, lowest, MAX_EPOCH_US // us_per_unit)
    micros = checked.values
    if us_per_unit != 1:
        micros = pc.multiply(micros, scalar(us_per_unit, pa.int64()))
    return StepResult(micros.cast(TS_US), checked.invalid)


def timestamp_in_range(values: pa.Array) -> StepResult:
    """Flag UTC-microsecond timestamps Python's datetime cannot hold (years 1 to 9999)."""
    checked = within(values.cast(pa.int64()), MIN_EPOCH_US, MAX_EPOCH_US)
    return StepResult(checked.values.cast(values.type), checked.invalid)
