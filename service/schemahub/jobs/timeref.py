"""Parsing what a user types for a duration (``--horizon 1d``) or a moment (``--at``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from schemahub.errors import UsageError

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3_600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str, option: str) -> float:
    """Seconds in ``text`` (``90``, ``30s``, ``15m``, ``6h``, ``1d``, ``2w``)."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(
            f"{option} {text!r} is not a duration; expected a number with an optional unit "
            "s, m, h, d or w (e.g. 0, 90s, 6h, 1d)"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_moment(text: str, option: str) -> datetime:
    """An aware datetime from ISO 8601 text (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a time; expected ISO 8601, e.g. 2026-12-07T05:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
