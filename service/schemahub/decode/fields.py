"""Per-trade field checks shared by the venue decoders.

A venue describes its trade object as a tuple of :class:`Field` specs (column, wire key, check);
:func:`decode_trades` applies them to every trade of a frame or REST page. A check takes the
wire value (never None: a missing or null required field is caught before) and returns the
column's Python value, or raises :class:`DecodeError` with a reason naming the field, the value
and what was expected. The first failing field turns the trade into a :class:`Reject`.

Leniency, on purpose (venues change their encodings without notice):
- prices and quantities may come as JSON strings or numbers; either must be a plain decimal
  (no sign, no NaN/inf spelling, no underscores) that is finite and > 0;
- integer ids may also come as a string of ASCII digits; they must fit a signed 64-bit integer
  because the unified table stores them as int64.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, NamedTuple

from schemahub.decode.base import PAYLOAD_KEY, NativeRecord, Reject, dump
from schemahub.errors import DecodeError

Check = Callable[[Any, str], Any]

INT64_MAX = 2**63 - 1
_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = Decimal(1_000_000)
# Timestamps that passed iso_time, for the decoders' fast paths (emptied when full): trades
# of one burst share them, and the full check (regex + fromisoformat) costs ~0.6 us.
_MEMO_LIMIT = 8192
_GOOD_TIMES: dict[str, None] = {}


class Field(NamedTuple):
    """How one column is read from a trade object."""

    column: str
    key: str
    check: Check
    required: bool = True
    # How the field is named in reasons; the wire key when it equals the column.
    name: str = ""


def spec(column: str, key: str, check: Check, required: bool = True) -> Field:
    """A :class:`Field`, named ``column`` in reasons, with ``(key)`` when the wire key differs."""
    name = column if column == key else f"{column} ({key})"
    return Field(column, key, check, required, name)


def build_record(item: Any, fields: tuple[Field, ...], extras: Mapping[str, Any]) -> NativeRecord:
    """One native record from a trade object; raises DecodeError at the first bad field."""
    if not isinstance(item, dict):
        raise DecodeError(f"trade: expected a JSON object, got {type(item).__name__}")
    record: NativeRecord = dict(extras)
    for column, key, check, required, name in fields:
        value = item.get(key)
        if value is None:
            if required:
                raise DecodeError(f"{name}: {'null' if key in item else 'missing'}")
            record[column] = None
        else:
            record[column] = check(value, name)
    return record


def decode_trades(
    items: Iterable[Any],
    fields: tuple[Field, ...],
    extras: Mapping[str, Any],
    keep_payload: bool,
    payload: str | None = None,
    adapt: Callable[[Any], Any] | None = None,
) -> tuple[list[NativeRecord], list[Reject]]:
    """Records for the good trades and Rejects for the bad ones, in the order given.

    ``payload`` is the trade's text when the caller already has it (a Binance plain frame);
    otherwise each trade is re-serialized with orjson as sent, only when it is needed.
    ``adapt`` reshapes a trade before the checks (Kraken REST arrays -> objects).
    """
    records: list[NativeRecord] = []
    rejects: list[Reject] = []
    for item in items:
        try:
            record = build_record(item if adapt is None else adapt(item), fields, extras)
        except DecodeError as exc:
            rejects.append(Reject(str(exc), payload if payload is not None else dump(item)))
            continue
        if keep_payload:
            record[PAYLOAD_KEY] = payload if payload is not None else dump(item)
        records.append(record)
    return records, rejects


# --- fast-path predicates ------------------------------------------------------------------
#
# The decoders try a fast path first on the usual well-formed trade: it reads the wire values
# directly and asks these predicates, which answer True only when the full check above/below
# would accept the value unchanged. Any False sends the whole frame down the full path, so every
# reject and its reason still come from the Field machinery.


def is_int64(value: Any) -> bool:
    """True for a JSON integer in 0 .. 2^63-1 (what int_id, sequence and epoch_ms accept)."""
    return type(value) is int and 0 <= value <= INT64_MAX


def is_digits_id(value: Any) -> bool:
    """True for a string of ASCII digits short enough to be an int64 (id_text keeps it)."""
    return type(value) is str and len(value) <= 18 and value.isascii() and value.isdigit()


def is_decimal_text(value: Any) -> bool:
    """True for a string that :func:`decimal_text` accepts as sent."""
    if type(value) is not str:
        return False
    if value.isascii() and value.replace(".", "", 1).isdigit():
        # plain digits with at most one dot: what _DECIMAL matches, without the regex
        return 0.0 < float(value) < math.inf
    return _positive_float(value) is not None


def is_positive_number(value: Any) -> bool:
    """True for a JSON number (not a string) that :func:`positive_float` accepts."""
    kind = type(value)
    return (kind is float or kind is int) and 0.0 < value < math.inf


def is_iso_time(value: Any) -> bool:
    """True for a string that :func:`iso_time` accepts."""
    if type(value) is not str:
        return False
    if value in _GOOD_TIMES:
        return True
    if not _iso_text(value):
        return False
    if len(_GOOD_TIMES) >= _MEMO_LIMIT:
        _GOOD_TIMES.clear()
    _GOOD_TIMES[value] = None
    return True


def iso_times_known(values: Iterable[Any]) -> bool:
    """True when :func:`is_iso_time` holds for every value; each distinct text is tested once,
    and texts already in the memo not at all (a burst's trades share their timestamps)."""
    return all(map(is_iso_time, set(values).difference(_GOOD_TIMES)))


# --- checks -------------------------------------------------------------------------------


def _positive_float(value: Any) -> float | None:
    """The value as a float when it is a finite number > 0 (string or JSON number), else None."""
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            return None
        number = float(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        return None
    return number if 0.0 < number < math.inf else None


def positive_or_none(value: Any) -> float | None:
    """A finite number > 0 (decimal text or JSON number) as a float, else None."""
    return _positive_float(value)


def _not_positive(value: Any, name: str) -> DecodeError:
    return DecodeError(f"{name}: {value!r} is not a positive finite number")


def decimal_text(value: Any, name: str) -> str:
    """A positive finite decimal kept as text (as sent; a JSON number is converted to text)."""
    if _positive_float(value) is None:
        raise _not_positive(value, name)
    return value if isinstance(value, str) else repr(value)


def positive_float(value: Any, name: str) -> float:
    """A positive finite number as a float (a numeric string is accepted too)."""
    number = _positive_float(value)
    if number is None:
        raise _not_positive(value, name)
    return number


def _non_negative_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        return None
    return number if 0 <= number <= INT64_MAX else None


def int_id(value: Any, name: str) -> int:
    """A trade id: a non-negative integer within int64 (a string of digits is accepted)."""
    number = _non_negative_int(value)
    if number is None:
        raise DecodeError(f"{name}: {value!r} is not an integer id (0 .. 2^63-1)")
    return number


def id_text(value: Any, name: str) -> str:
    """A trade id kept as text: a string of digits as sent, or an integer id as its digits."""
    number = _non_negative_int(value)
    if number is None:
        raise DecodeError(f"{name}: {value!r} is not an integer id (0 .. 2^63-1)")
    return value if isinstance(value, str) else str(number)


def sequence(value: Any, name: str) -> int:
    """A venue sequence counter: a non-negative integer."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return value
    raise DecodeError(f"{name}: {value!r} is not a non-negative integer")


def epoch_ms(value: Any, name: str) -> int:
    """Epoch milliseconds: a non-negative JSON integer."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return value
    raise DecodeError(f"{name}: {value!r} is not epoch milliseconds (a non-negative integer)")


def boolean(value: Any, name: str) -> bool:
    """A JSON true or false."""
    if isinstance(value, bool):
        return value
    raise DecodeError(f"{name}: {value!r} is not true or false")


def text(value: Any, name: str) -> str:
    """A non-empty string."""
    if isinstance(value, str) and value:
        return value
    raise DecodeError(f"{name}: {value!r} is not a non-empty string")


def one_of(*allowed: str) -> Check:
    """A check that accepts exactly the strings ``allowed`` (kept as sent)."""
    vocabulary = frozenset(allowed)
    expected = ", ".join(allowed)

    def check(value: Any, name: str) -> str:
        if isinstance(value, str) and value in vocabulary:
            return value
        raise DecodeError(f"{name}: {value!r} is not one of {expected}")

    return check


def translated(mapping: Mapping[str, str], keep_unknown: bool = False) -> Check:
    """A check that maps a venue code to our word (``keep_unknown``: other strings pass as-is)."""
    expected = ", ".join(mapping)

    def check(value: Any, name: str) -> str:
        if isinstance(value, str):
            word = mapping.get(value)
            if word is not None:
                return word
            if keep_unknown and value:
                return value
        raise DecodeError(f"{name}: {value!r} is not one of {expected}")

    return check


def iso_time(value: Any, name: str) -> str:
    """An ISO 8601 UTC timestamp with a zone (``Z`` or an offset), kept as sent."""
    if isinstance(value, str) and _iso_text(value):
        return value
    raise DecodeError(f"{name}: {value!r} is not an ISO 8601 timestamp with a zone")


def _iso_text(value: str) -> bool:
    if not _ISO_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def epoch_seconds_iso(value: Any, name: str) -> str:
    """Epoch seconds (number or numeric string) -> ISO 8601 with microseconds and ``Z``.

    The float's shortest decimal form is what the venue sent, so rounding it with Decimal
    to whole microseconds gives the venue's own digits, not a binary-float artefact.
    """
    seconds = value if isinstance(value, str) else repr(value)
    try:
        if isinstance(value, bool) or not _DECIMAL.fullmatch(seconds):
            raise InvalidOperation
        micros = int((Decimal(seconds) * _MICRO).to_integral_value(ROUND_HALF_EVEN))
        moment = _EPOCH + timedelta(microseconds=micros)
    except (InvalidOperation, OverflowError):
        raise DecodeError(f"{name}: {value!r} is not epoch seconds") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
