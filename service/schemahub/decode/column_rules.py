"""Column-at-once value rules for the columnar decoder (see :mod:`schemahub.decode.columnar`).

Each rule's per-value predicate is the per-frame fast path's own (:mod:`schemahub.decode.fields`);
the whole-column test is a cheaper way to reach the same answer when every value is of the
usual kind, and may say False for a column that is in fact fine (the rows are then tested one by
one). It must never say True for a column with a value the predicate refuses.
"""

from __future__ import annotations

import math
from itertools import repeat
from operator import contains
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from schemahub.decode.columnar import ColumnRule
from schemahub.decode.fields import is_decimal_text, is_digits_id, is_iso_time, iso_times_known

_DIGITS_AND_DOT = b"0123456789."
# Beyond this many characters a decimal is left to the per-value test: Arrow's and Python's
# text -> float readings are both correctly rounded, but short texts make the bound obvious
# (40 digits are far from float overflow and underflow).
_MAX_DECIMAL_CHARS = 40


def _decimals_ok(values: list[Any], array: pa.Array | None) -> bool:
    """True when every value is a plain positive finite decimal of digits and one dot at most.

    The characters are checked on the joined text; Arrow then reads each value as a float,
    which fails for an empty text, a lone dot or a second dot (so only ``[0-9]+.?[0-9]*`` and
    ``.[0-9]+`` pass, as in ``fields._DECIMAL``); min > 0 and max < inf do the rest.
    """
    if not values:
        return True
    joined = "".join(values)
    if not joined.isascii() or joined.encode().translate(None, _DIGITS_AND_DOT):
        return False
    strings = array if array is not None else pa.array(values, pa.string())
    if pc.max(pc.binary_length(strings)).as_py() > _MAX_DECIMAL_CHARS:
        return False
    try:
        numbers = pc.cast(strings, pa.float64())
    except pa.ArrowInvalid:
        return False
    low, high = pc.min_max(numbers).values()
    return low.as_py() > 0.0 and high.as_py() < math.inf


def _digit_ids_ok(values: list[Any], _array: pa.Array | None) -> bool:
    """True when every value is ASCII digits, 1 to 18 of them.

    The struct field already bounds the length (``min_length=1, max_length=18``), so a
    joined text of ASCII digits means every value is one.
    """
    joined = "".join(values)
    return not joined or (joined.isascii() and joined.isdigit())


def _iso_times_ok(values: list[Any], _array: pa.Array | None) -> bool:
    """True when every value passes ``is_iso_time``; each distinct text is checked once."""
    return iso_times_known(values)


def _at_signs_ok(values: list[Any], _array: pa.Array | None) -> bool:
    return all(map(contains, values, repeat("@")))


def _has_at_sign(value: Any) -> bool:
    return type(value) is str and "@" in value


DECIMAL_TEXT = ColumnRule(is_decimal_text, _decimals_ok)
DIGITS_ID = ColumnRule(is_digits_id, _digit_ids_ok)
ISO_TIME = ColumnRule(is_iso_time, _iso_times_ok)
STREAM_NAME = ColumnRule(_has_at_sign, _at_signs_ok)  # Binance '<symbol>@<channel>'
