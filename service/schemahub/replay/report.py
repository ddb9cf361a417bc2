"""A replay of one pair over one window: the merged tick timeline, per-venue returns, when and
how far the cross-venue spread widened, and the lead/lag of every pair of venues."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from schemahub.replay.budget import Checkpoint, no_checkpoint
from schemahub.replay.leadlag import estimate
from schemahub.replay.window import Window, iso


def build_report(
    pair: str,
    window: Window,
    trades: pa.Table,
    as_of: int | None,
    checkpoint: Checkpoint = no_checkpoint,
) -> dict:
    """The replay of ``trades`` (rows of trades_unified of the pair's members in the window);
    ``checkpoint`` is called between the steps (alignment, spread, each lead/lag pair)."""
    rows = sorted(trades.to_pylist(), key=lambda r: (r["trade_ts"], r["exchange"]))
    venues = sorted({r["exchange"].upper() for r in rows})
    per_venue = {v: [r for r in rows if r["exchange"].upper() == v] for v in venues}
    checkpoint()
    spread = _widest_spread(rows)
    lead_lag = []
    for a, b in combinations(venues, 2):
        checkpoint()
        lead_lag.append(_lead_lag(a, per_venue[a], b, per_venue[b]))
    return {
        "pair": pair,
        "window": window.as_json(),
        "as_of_snapshot": as_of,
        "trades": {v: len(per_venue[v]) for v in venues},
        "returns_bps": {v: _return_bps(per_venue[v]) for v in venues},
        "spread": spread,
        "lead_lag": lead_lag,
        "timeline": [_tick(r) for r in rows],
    }


def _tick(row: dict) -> dict[str, Any]:
    return {
        "ts": iso(row["trade_ts"]),
        "venue": row["exchange"].upper(),
        "symbol": row["symbol"],
        "price": row["price"],
        "size": row["quantity"],
        "side": row["side"],
    }


def _return_bps(rows: list[dict]) -> float | None:
    if len(rows) < 2:
        return None
    return round(math.log(rows[-1]["price"] / rows[0]["price"]) * 10_000, 3)


def _widest_spread(rows: list[dict]) -> dict[str, Any]:
    """After each tick, max - min of every venue's last price (in bps of their middle); the
    widest moment."""
    last: dict[str, float] = {}
    widest: dict[str, Any] = {"max_bps": None, "at": None, "highest": None, "lowest": None}
    for row in rows:
        last[row["exchange"].upper()] = row["price"]
        if len(last) < 2:
            continue
        high, low = max(last, key=last.__getitem__), min(last, key=last.__getitem__)
        bps = (last[high] - last[low]) / ((last[high] + last[low]) / 2) * 10_000
        if widest["max_bps"] is None or bps > widest["max_bps"]:
            widest = {"max_bps": round(bps, 4), "at": iso(row["trade_ts"]), "highest": high,
                      "lowest": low}  # fmt: skip
    return widest


def _lead_lag(a: str, a_rows: list[dict], b: str, b_rows: list[dict]) -> dict:
    def arrays(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        ts = np.array([r["trade_ts"].timestamp() * 1000 for r in rows], dtype=np.float64)
        return ts, np.array([r["price"] for r in rows], dtype=np.float64)

    return estimate(a, *arrays(a_rows), b, *arrays(b_rows)).as_json()


def render_text(report: dict) -> str:
    """The report for a terminal: summary, lead/lag, then the timeline tick by tick."""
    window = report["window"]
    lines = [
        f"{report['pair']} from {window['start']} to {window['end']}"
        + (f" (snapshot {report['as_of_snapshot']})" if report["as_of_snapshot"] else ""),
        "trades: " + ", ".join(f"{v} {n}" for v, n in report["trades"].items()),
        "returns: "
        + ", ".join(
            f"{v} {'-' if r is None else f'{r:+.2f} bps'}" for v, r in report["returns_bps"].items()
        ),
    ]
    spread = report["spread"]
    if spread["max_bps"] is not None:
        lines.append(
            f"widest spread {spread['max_bps']:.2f} bps at {spread['at']} "
            f"({spread['highest']} high, {spread['lowest']} low)"
        )
    for item in report["lead_lag"]:
        if item["lag_ms"] is None:
            lines.append(f"{item['leader']} / {item['follower']}: {item['reason']}")
        else:
            lines.append(
                f"{item['follower']} trails {item['leader']} by {item['lag_ms']:.0f} ms "
                f"(confidence {item['confidence']:.2f})"
            )
    lines.append("")
    for tick in report["timeline"]:
        lines.append(
            f"{tick['ts'][11:26]}  {tick['venue']:<9} {tick['price']:>14,.8g} "
            f"{tick['size']:>12.8g} {tick['side']}"
        )
    return "\n".join(lines)


def render_html(report: dict) -> str:
    """One self-contained page (script, style and data inline, nothing fetched) whose slider
    steps through the timeline tick by tick."""
    from importlib import resources

    template = resources.files("schemahub").joinpath("web", "replay.html").read_text("utf-8")
    data = orjson.dumps(report).decode().replace("</", "<\\/")  # no early </script>
    return template.replace("/*REPORT*/null", data, 1)
