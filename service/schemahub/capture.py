"""The capture format: one JSON object per line, as written by the daemon and read by
``schemahub capture load``::

    {"dir": "recv"|"send"|"connect", "ts": <epoch seconds>, "url": <optional>, "data": "<frame>"}
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from schemahub.errors import CaptureError

Direction = Literal["recv", "send", "connect"]
DIRECTIONS: frozenset[str] = frozenset({"recv", "send", "connect"})


@dataclass(frozen=True, slots=True)
class CaptureLine:
    """One line of a capture file."""

    dir: Direction
    ts: float
    data: str | None
    url: str | None = None

    def to_json(self) -> bytes:
        """The line as written to a capture file (without the newline)."""
        entry: dict[str, object] = {"dir": self.dir, "ts": self.ts}
        if self.url is not None:
            entry["url"] = self.url
        entry["data"] = self.data
        return orjson.dumps(entry)


@dataclass(frozen=True, slots=True)
class BadCaptureLine:
    """A line that is not in the capture format: kept for the quarantine."""

    line_no: int
    reason: str
    text: str


def parse_capture_line(text: str | bytes) -> CaptureLine:
    """Parse one capture line; raises :class:`CaptureError` naming what is wrong."""
    try:
        entry = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CaptureError(f"not JSON ({exc})") from None
    if not isinstance(entry, dict):
        raise CaptureError(f"expected a JSON object, got {type(entry).__name__}")
    direction = entry.get("dir")
    if direction not in DIRECTIONS:
        raise CaptureError(f"'dir' must be one of recv, send, connect; got {direction!r}")
    ts = entry.get("ts")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        raise CaptureError(f"'ts' must be epoch seconds as a number; got {ts!r}")
    data = entry.get("data")
    if data is not None and not isinstance(data, str):
        raise CaptureError(f"'data' must be the frame text as a string; got {type(data).__name__}")
    url = entry.get("url")
    return CaptureLine(dir=direction, ts=float(ts), data=data, url=url)


def read_capture(path: str | Path) -> Iterator[CaptureLine | BadCaptureLine]:
    """Yield each non-blank line of a capture file, parsed, or as a :class:`BadCaptureLine`.

    Raises :class:`CaptureError` when the file cannot be opened.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise CaptureError(f"cannot read capture {path}: {exc.strerror}") from None
    with handle:
        yield from parse_capture_lines(handle)


def parse_capture_lines(lines: Iterable[bytes]) -> Iterator[CaptureLine | BadCaptureLine]:
    """Each non-blank line of capture text, parsed, or as a :class:`BadCaptureLine`."""
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield parse_capture_line(raw)
        except CaptureError as exc:
            yield BadCaptureLine(line_no, str(exc), raw.decode("utf-8", "replace").rstrip())


class CaptureWriter:
    """Appends capture lines to files in a folder, starting a new file past ``max_bytes``.

    Files are named ``<prefix>-<first ts in ms>-<counter>.jsonl`` so they sort in write order.
    Each line is flushed whole, so a reader never sees a torn line except after a crash
    mid-write (which the reader reports as bad).
    """

    def __init__(self, directory: str | Path, prefix: str, max_bytes: int) -> None:
        self._dir = Path(directory)
        self._prefix = prefix
        self._max_bytes = max_bytes
        self._file: io.BufferedWriter | None = None
        self._written = 0
        self._sequence = 0
        self._dir.mkdir(parents=True, exist_ok=True)

    @property
    def current_path(self) -> Path | None:
        """The file being written, if any."""
        return Path(self._file.name) if self._file else None

    def write(self, line: CaptureLine) -> None:
        """Append one line, rotating first when the current file is full."""
        payload = line.to_json() + b"\n"
        if self._file is None or self._written + len(payload) > self._max_bytes:
            self._rotate(line.ts)
        assert self._file is not None
        self._file.write(payload)
        self._file.flush()
        self._written += len(payload)

    def close(self) -> None:
        """Close the current file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _rotate(self, ts: float) -> None:
        self.close()
        # ms of the first line, then a counter: names sort in write order even when several
        # files start within the same millisecond.
        while True:
            self._sequence += 1
            path = self._dir / f"{self._prefix}-{int(ts * 1000):013d}-{self._sequence:06d}.jsonl"
            if not path.exists():
                break
        self._file = open(path, "ab")  # noqa: SIM115 - kept open across writes
        self._written = 0
