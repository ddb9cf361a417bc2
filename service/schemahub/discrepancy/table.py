"""The feed's updates as a plain-text table (``schemahub discrepancy``): venues as columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Entry = dict[str, Any]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.8f}".rstrip("0").rstrip(".")


def _age(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _symbol(entry: Entry) -> str:
    rate = "" if entry["rate"] == 1 else f" x{entry['rate']:g}"
    return f"{entry['symbol']} ({entry['quote']}{rate})"


def _trade(entry: Entry) -> str:
    if entry["side"] is None:
        return "-"
    return f"{entry['side']} {entry['size']:g}"


# (label, how to show one venue's entry)
ROWS: list[tuple[str, Callable[[Entry], str]]] = [
    ("symbol (quote)", _symbol),
    ("last trade", lambda e: _number(e["price"])),
    ("taker / size", _trade),
    ("trade id", lambda e: e["trade_id"] or "-"),
    ("trade time UTC", lambda e: (e["trade_ts"] or "-")[11:26]),
    ("trade age", lambda e: _age(e["age_ms"])),
    ("best bid", lambda e: _number(e["bid"])),
    ("best ask", lambda e: _number(e["ask"])),
    ("quote age", lambda e: _age(e["quote_age_ms"])),
    ("compared", lambda e: _number(e["compared_price"])),
    ("state", lambda e: "STALE" if e["stale"] else "live"),
]


def headline(update: dict[str, Any]) -> str:
    """One line: the pair, its spread, on what it was measured, and the venues at both ends."""
    spread = update["spread_bps"]
    measured = "mid-prices" if update["basis"] == "mid" else "last trades"
    parts = [
        f"{update['pair']} in {update['quote']}",
        "spread -" if spread is None else f"spread {spread:.2f} bps",
        f"on {measured} of {update['compared']} venues",
    ]
    if update["highest"]:
        parts.append(f"high {update['highest']}, low {update['lowest']}")
    if update["alert"]:
        parts.append(f"ABOVE {update['threshold_bps']:g} bps")
    parts.append(update["ts"][11:23] + " UTC")
    return " | ".join(parts)


def render(update: dict[str, Any]) -> str:
    """The update as a headline and a table with one column per venue."""
    venues = list(update["venues"])
    cells = [[label, *(show(update["venues"][v]) for v in venues)] for label, show in ROWS]
    header = ["", *venues]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    lines = [headline(update)]
    for row in [header, *cells]:
        first = row[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        lines.append("  ".join([first, *rest]).rstrip())
    return "\n".join(lines)
