"""Finding events worth replaying: the seconds where the cross-venue spread or a venue's 1 s
return was most extreme, so a user need not know the timestamp in advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import pyarrow as pa

from schemahub.replay.window import iso

MAX_SPAN_S = 24 * 3600  # a search reads every trade of the span


def find_spikes(trades: pa.Table, top: int = 5) -> dict[str, list[dict]]:
    """The ``top`` seconds by cross-venue spread and by absolute 1 s return (per venue, the
    last price of each second against the previous second's), newest data only from
    ``trades`` (rows of trades_unified)."""
    micros = trades.column("trade_ts").cast(pa.int64()).to_numpy()
    order = np.argsort(micros, kind="stable")
    seconds = (micros[order] // 1_000_000).tolist()
    venues = [v.upper() for v in trades.column("exchange").take(pa.array(order)).to_pylist()]
    prices = trades.column("price").to_numpy()[order].tolist()
    last: dict[str, dict[int, float]] = {}
    for venue, second, price in zip(venues, seconds, prices, strict=True):
        last.setdefault(venue, {})[second] = price  # in time order: the second's last price
    return {
        "spread": _top(_spreads(last), top, "spread_bps"),
        "return": _top(_returns(last), top, "return_bps"),
    }


def _spreads(last: dict[str, dict[int, float]]) -> list[dict]:
    """Per second where two venues or more traded: max - min of their last prices, in bps."""
    out = []
    for second in sorted(set().union(*[set(v) for v in last.values()])):
        here = {venue: by[second] for venue, by in last.items() if second in by}
        if len(here) < 2:
            continue
        high, low = max(here, key=here.__getitem__), min(here, key=here.__getitem__)
        bps = (here[high] - here[low]) / ((here[high] + here[low]) / 2) * 10_000
        out.append({"second": second, "value": bps, "highest": high, "lowest": low})
    return out


def _returns(last: dict[str, dict[int, float]]) -> list[dict]:
    out = []
    for venue, by in last.items():
        ordered = sorted(by.items())
        for (before, p0), (second, p1) in pairwise(ordered):
            if second - before == 1:
                out.append({"second": second, "value": np.log(p1 / p0) * 10_000, "venue": venue})
    return out


def _top(items: list[dict], top: int, name: str) -> list[dict]:
    ranked = sorted(items, key=lambda item: abs(item["value"]), reverse=True)[:top]
    result = []
    for item in ranked:
        second = item.pop("second")
        value = item.pop("value")
        at_us = second * 1_000_000 + 500_000  # the middle of that second
        result.append({"at": _iso_us(at_us), name: round(float(value), 4), **item})
    return result


def _iso_us(epoch_us: int) -> str:
    return iso(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=epoch_us))
