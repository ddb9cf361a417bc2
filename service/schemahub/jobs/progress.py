"""Long work made visible: a rich progress bar (rate, ETA) on a terminal, otherwise one JSON
log line every few seconds with the same figures."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

log = logging.getLogger("schemahub.progress")
LOG_INTERVAL_SECONDS = 5.0


class Progress:
    """Counts ``unit`` done out of ``total`` (which may grow, or be unknown: None)."""

    def __init__(
        self,
        description: str,
        total: int | None = None,
        *,
        unit: str = "trades",
        stream: TextIO | None = None,
        interval: float = LOG_INTERVAL_SECONDS,
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.done = 0
        self._started = time.monotonic()
        self._last_log = self._started
        self._interval = interval
        stream = stream or sys.stderr
        self._bar: Any = None
        if stream.isatty():
            self._bar, self._task = _rich_bar(description, total, stream)

    def add_total(self, count: int) -> None:
        """More work became known."""
        self.total = (self.total or 0) + count
        if self._bar is not None:
            self._bar.update(self._task, total=self.total)

    def advance(self, count: int) -> None:
        """``count`` more units are done."""
        self.done += count
        if self._bar is not None:
            self._bar.update(self._task, advance=count)
            return
        now = time.monotonic()
        if now - self._last_log >= self._interval:
            self._last_log = now
            self._log("progress")

    def close(self) -> None:
        """Stop the bar, or log the final figures."""
        if self._bar is not None:
            self._bar.stop()
        else:
            self._log("finished")

    def figures(self) -> dict[str, Any]:
        """Done, total, rate a second and the estimated seconds left."""
        elapsed = max(1e-9, time.monotonic() - self._started)
        rate = self.done / elapsed
        left = None
        if self.total is not None and rate > 0:
            left = round(max(0, self.total - self.done) / rate, 1)
        return {
            "done": self.done,
            "total": self.total,
            "per_second": round(rate, 1),
            "eta_seconds": left,
            "elapsed_seconds": round(elapsed, 1),
        }

    def _log(self, what: str) -> None:
        log.info(f"{self.description}: {what}", extra={"unit": self.unit, **self.figures()})


def _rich_bar(description: str, total: int | None, stream: TextIO) -> tuple[Any, Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed or 0:,.0f}/s")

    bar = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
    )
    task = bar.add_task(description, total=total)
    bar.start()
    return bar, task
