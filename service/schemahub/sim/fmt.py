"""Exact text forms of numbers and times as each venue prints them.

Prices and sizes travel through the simulator as integers of 1e-8 units and times as epoch
milliseconds, so every representation below is exact (no float rounding on the way out).
"""

from __future__ import annotations

import datetime as dt

UNITS = 100_000_000  # 1e8: prices and quantities are integers of 1e-8


def fixed(units: int, decimals: int) -> str:
    """``units`` (1e-8) with exactly ``decimals`` digits after the point: 65083.67000000."""
    whole, frac = divmod(units, UNITS)
    if decimals == 0:
        return str(whole)
    digits = f"{frac:08d}"
    if decimals <= 8:
        return f"{whole}.{digits[:decimals]}"
    return f"{whole}.{digits}{'0' * (decimals - 8)}"


def trimmed(units: int) -> str:
    """``units`` (1e-8) without trailing zeros, as Coinbase Advanced prints: 65091, 1919.7."""
    whole, frac = divmod(units, UNITS)
    digits = f"{frac:08d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def as_float(units: int) -> float:
    """The float nearest to the decimal value (int / int division is correctly rounded)."""
    return units / UNITS


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).replace(microsecond=(ms % 1000) * 1000)


def iso_micros(ms: int) -> str:
    """RFC 3339 with six fractional digits and Z: 2021-04-17T16:43:30.244000Z."""
    return _utc(ms).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_trimmed(ms: int) -> str:
    """RFC 3339 with trailing fractional zeros removed (Go's formatter, Coinbase Advanced):
    ...:05.5Z, ...:05.504Z, ...:05Z."""
    base = _utc(ms).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ms % 1000:03d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def iso_nanos_trimmed(ns: int) -> str:
    """Like :func:`iso_trimmed` at nanosecond precision (Coinbase frame ``timestamp``)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{rest:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def go_time(ns: int, uptime_ns: int) -> str:
    """Go's ``time.Time.String()`` with a monotonic reading, as in Coinbase heartbeats:
    2026-08-09 21:05:48.854840045 +0000 UTC m=+41691.260485341."""
    seconds, rest = divmod(ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    up_s, up_rest = divmod(uptime_ns, 1_000_000_000)
    return f"{base}.{rest:09d} +0000 UTC m=+{up_s}.{up_rest:09d}"


def kraken_rest_time(ms: int) -> float:
    """Kraken REST trade time: seconds as a JSON number (ms resolution, so at most 3 decimals)."""
    return ms / 1000
