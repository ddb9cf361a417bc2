"""Reading a capture's received frames in blocks, so replays keep memory flat and untimed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from schemahub.capture import BadCaptureLine, read_capture
from schemahub.errors import CaptureError

BLOCK_FRAMES = 20_000


@dataclass(frozen=True, slots=True)
class Frame:
    """One received frame of a capture."""

    received_at: float  # epoch seconds
    text: str


def frame_blocks(path: str | Path, block: int = BLOCK_FRAMES) -> Iterator[list[Frame]]:
    """The capture's ``recv`` frames, ``block`` at a time, in file order.

    Reading and parsing happen here, outside the timed loops of the benchmark. A line that is
    not in the capture format is an error: a benchmark capture must be clean.
    """
    frames: list[Frame] = []
    for line in read_capture(path):
        if isinstance(line, BadCaptureLine):
            raise CaptureError(f"{path} line {line.line_no}: {line.reason}")
        if line.dir == "recv" and line.data is not None:
            frames.append(Frame(line.ts, line.data))
            if len(frames) >= block:
                yield frames
                frames = []
    if frames:
        yield frames
