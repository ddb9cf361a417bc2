"""Capture recording: every connect, send and received frame of a session, in the capture format.

Writing happens on a thread, so the event loop never waits on the disk (invariant 3). The queue
between them is bounded: if the disk cannot keep up, lines are dropped and counted rather than
holding memory or slowing the feed (a capture is a diagnostic copy, the lake is the record).
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from schemahub.capture import CaptureLine, CaptureWriter, Direction
from schemahub.logs import RateLimitedLog

log = logging.getLogger(__name__)
_STOP = object()


class CaptureRecorder:
    """Writes capture lines for one venue through a :class:`CaptureWriter` (rotated by size).

    Files are ``<dir>/<venue>-<first ts ms>-<counter>.jsonl``. Call :meth:`close` to flush and stop.
    """

    def __init__(
        self, directory: str | Path, venue: str, max_file_bytes: int, max_pending: int = 100_000
    ) -> None:
        self.venue = venue
        self.dropped = 0
        self.written = 0
        self._writer = CaptureWriter(directory, venue, max_file_bytes)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._warn = RateLimitedLog(log)
        self._thread = threading.Thread(target=self._drain, name=f"capture-{venue}", daemon=True)
        self._thread.start()

    def connect(self, url: str, at: float) -> None:
        """Record that a connection to ``url`` opened."""
        self._put("connect", at, None, url)

    def send(self, url: str, text: str, at: float) -> None:
        """Record a message we sent."""
        self._put("send", at, text, url)

    def recv(self, url: str, frame: str | bytes, at: float) -> None:
        """Record a frame we received (binary frames as text, undecodable bytes replaced)."""
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        self._put("recv", at, text, url)

    def close(self) -> None:
        """Write what is queued, then close the file (blocks; call off the loop or at exit)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._writer.close()

    def _put(self, direction: Direction, at: float, data: str | None, url: str) -> None:
        try:
            self._queue.put_nowait(CaptureLine(dir=direction, ts=at, data=data, url=url))
        except queue.Full:
            self.dropped += 1
            self._warn.warning(
                f"capture-full-{self.venue}",
                "capture queue full, dropping lines",
                venue=self.venue,
                dropped=self.dropped,
            )

    def _drain(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            assert isinstance(item, CaptureLine)
            try:
                self._writer.write(item)
                self.written += 1
            except OSError as exc:
                self.dropped += 1
                self._warn.warning(
                    f"capture-io-{self.venue}",
                    "capture write failed",
                    venue=self.venue,
                    error=str(exc),
                )
