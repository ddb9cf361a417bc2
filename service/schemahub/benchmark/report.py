"""The figures of one ``schemahub bench`` run: human-readable lines and the final JSON object."""

from __future__ import annotations

import math
import os
import platform
import resource
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemahub.benchmark.cryptofeed_cmp import CryptofeedRun
from schemahub.benchmark.replay import PipelineRun

TARGET_SPEEDUP = 2.0
TARGET_BYTES_PER_TRADE = 150.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (``ru_maxrss`` is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024


@dataclass(frozen=True)
class BenchReport:
    """Everything one run measured."""

    pipeline: PipelineRun
    peak_rss_bytes: int
    cryptofeed: CryptofeedRun | None = None  # None when not asked for (--no-cryptofeed)
    cpus: int | None = None  # CPUs the run could use (1 when pinned), None if unknown

    def figures(self) -> dict[str, Any]:
        """The JSON object printed as the last line (keys stable for scripts)."""
        run = self.pipeline
        trades = run.trades_admitted
        flush_ms = [s * 1000.0 for s in run.flush_seconds]
        out: dict[str, Any] = {
            "venue": run.venue,
            "trades_per_s": _rate(trades, run.seconds),
            "peak_rss_bytes": self.peak_rss_bytes,
            "bytes_per_buffered_trade": _round(max(run.bytes_per_row_at_drain, default=None)),
            "commit_p50_ms": _round(percentile(flush_ms, 50) if run.commit else None),
            "commit_p99_ms": _round(percentile(flush_ms, 99) if run.commit else None),
            "commit": run.commit,
            "trades": trades,
            "frames": run.frames,
            "flushes": len(flush_ms),
            "seconds": _round(run.seconds),
            "cpu_seconds": _round(run.cpu_seconds),
            "trades_per_cpu_s": _rate(trades, run.cpu_seconds),
            "decode_trades_per_s": _rate(run.trades_in_frames, run.decode_seconds),
            "ingest_trades_per_s": _rate(trades, run.seconds - sum(run.flush_seconds)),
            "keep_payload": run.keep_payload,
            "cpus": self.cpus,
            "rows_in_unified": run.rows_in_unified,
        }
        out.update(self._cryptofeed_figures(out["trades_per_s"]))
        return out

    def _cryptofeed_figures(self, ours: float | None) -> dict[str, Any]:
        cf = self.cryptofeed
        if cf is None:
            return {"cryptofeed_skipped": "not requested"}
        if cf.skipped:
            return {"cryptofeed_skipped": cf.skipped}
        theirs = _rate(cf.trades, cf.seconds)
        return {
            "cryptofeed_version": cf.version,
            "cryptofeed_trades_per_s": theirs,
            "cryptofeed_trades": cf.trades,
            "speedup_vs_cryptofeed": _round(ours / theirs if ours and theirs else None, 3),
        }

    def lines(self) -> list[str]:
        """Human-readable summary lines (printed before the JSON line)."""
        f = self.figures()
        run = self.pipeline
        out = [
            f"venue {run.venue}: {f['frames']:,} frames, {f['trades']:,} trades admitted, "
            f"{f['flushes']} flushes of up to {_flush_rows(run)} rows"
            + ("" if run.commit else " (--no-commit: mapped, not committed)"),
            f"end to end: {_num(f['trades_per_s'])} trades/s over {f['seconds']} s wall "
            f"({_num(f['trades_per_cpu_s'])} trades per CPU second)",
            f"  decode alone: {_num(f['decode_trades_per_s'])} trades/s; decode + sequence + "
            f"buffer: {_num(f['ingest_trades_per_s'])} trades/s (flush time excluded)",
            f"memory: peak RSS {f['peak_rss_bytes'] / 2**20:.1f} MiB; buffered trade "
            f"{f['bytes_per_buffered_trade']} bytes (max before a drain; target <= "
            f"{TARGET_BYTES_PER_TRADE:.0f})",
        ]
        if run.commit:
            out.append(
                f"flush (drain + raw commit + map + unified commit): p50 {f['commit_p50_ms']} ms,"
                f" p99 {f['commit_p99_ms']} ms; trades_unified holds {f['rows_in_unified']:,} rows"
            )
        out.extend(self._cryptofeed_lines(f))
        out.append(
            f"machine: {os.cpu_count()} CPUs, this run on {self.cpus or 'all'}; "
            f"load average {_load()}"
        )
        return out

    def _cryptofeed_lines(self, f: dict[str, Any]) -> list[str]:
        cf = self.cryptofeed
        if cf is None or cf.skipped:
            return [f"cryptofeed comparison skipped: {f['cryptofeed_skipped']}"]
        return [
            f"cryptofeed {cf.version}: {_num(f['cryptofeed_trades_per_s'])} trades/s "
            f"({cf.trades:,} trades, {cf.frames:,} frames); measured: {cf.measured}",
            f"ours end to end / cryptofeed parse+normalize: {f['speedup_vs_cryptofeed']}x "
            f"(target >= {TARGET_SPEEDUP:.0f}x)",
        ]


def _flush_rows(run: PipelineRun) -> str:
    return f"{run.flush_rows:,}"


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
