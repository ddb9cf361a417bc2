"""What a replay asks for: the pair, the moment, the window and the table version, checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemahub.errors import UsageError

MAX_WINDOW = timedelta(minutes=10)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Window:
    """A time window, ``start`` inclusive, ``end`` exclusive, both UTC."""

    start: datetime
    end: datetime

    @classmethod
    def around(cls, at: datetime, length: timedelta) -> Window:
        """The window of ``length`` centred on ``at``."""
        return cls(at - length / 2, at + length / 2)

    def as_json(self) -> dict[str, str]:
        return {"start": iso(self.start), "end": iso(self.end)}


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_at(text: str, flag: str = "--at") -> datetime:
    """An ISO 8601 time with a zone (``2024-02-08T15:12:04Z``) as a UTC datetime."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(
            f"{flag} {text!r}: expected an ISO 8601 time with a zone, e.g. 2024-02-08T15:12:04Z"
        )
    return moment.astimezone(UTC)


def parse_window(text: str, maximum: timedelta = MAX_WINDOW) -> timedelta:
    """``12s``, ``500ms`` or ``2m`` as a timedelta, positive and at most ``maximum``."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--window {text!r}: expected a duration such as 12s, 500ms or 2m")
    length = timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    if not timedelta(0) < length <= maximum:
        limit = f"{maximum.total_seconds():g} s"
        raise UsageError(f"--window {text!r}: expected more than 0 and at most {limit}")
    return length
