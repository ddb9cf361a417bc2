"""Progress of a long job: a bar with rate and ETA on a terminal, JSON log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 5.0


class Progress:
    """Counts work done out of ``total`` units (trade ids); ``close`` ends the display.

    On a terminal (``stream.isatty()``) a rich progress bar shows the count, rate and ETA; else
    a ``progress`` log line (done, total, rate per second, ETA seconds) every few seconds and
    one at the end, so a container's log shows how far a long fill got."""

    def __init__(
        self, what: str, total: int, *, stream: TextIO | None = None, unit: str = "ids"
    ) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0
        self._started = time.monotonic()
        self._logged = self._started
        stream = stream if stream is not None else sys.stderr
        self._bar = _rich_bar(what, total, stream) if stream.isatty() else None

    def advance(self, units: int) -> None:
        """``units`` more are done."""
        self.done += units
        if self._bar is not None:
            bar, task = self._bar
            rate = self.done / max(time.monotonic() - self._started, 1e-9)
            shown = f"{rate:,.0f} {self.unit}/s"
            bar.update(task, completed=min(self.done, self.total), rate=shown)
        elif time.monotonic() - self._logged >= LOG_EVERY_SECONDS:
            self._log()

    def close(self) -> None:
        """Stop the bar, or log the final line."""
        if self._bar is not None:
            self._bar[0].stop()
        else:
            self._log()

    def _log(self) -> None:
        now = time.monotonic()
        self._logged = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0)
        log.info(
            "progress",
            extra={
                "job": self.what,
                "done": self.done,
                "total": self.total,
                "unit": self.unit,
                "per_second": round(rate, 1),
                "eta_seconds": round(left / rate, 1) if rate > 0 else None,
            },
        )


def _rich_bar(what: str, total: int, stream: TextIO):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(file=stream),
    )
    task = bar.add_task(what, total=total, rate="")
    bar.start()
    return bar, task
