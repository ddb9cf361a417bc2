"""``--png``: the replay as a static chart (each venue's price in bps from its first trade,
and the cross-venue spread below), drawn with matplotlib (the ``replay`` extra)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from schemahub.errors import UsageError


def write_png(report: dict, path: str | Path) -> Path:
    """Draw ``report`` into the PNG file ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--png needs matplotlib: pip install 'schemahub[replay]'") from None
    figure, (prices, spread) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, height_ratios=(3, 1), layout="constrained"
    )
    first: dict[str, float] = {}
    series: dict[str, tuple[list, list]] = {}
    last: dict[str, float] = {}
    spread_x, spread_y = [], []
    for tick in report["timeline"]:
        venue, price = tick["venue"], tick["price"]
        moment = datetime.fromisoformat(tick["ts"].replace("Z", "+00:00"))
        first.setdefault(venue, price)
        xs, ys = series.setdefault(venue, ([], []))
        xs.append(moment)
        ys.append((price / first[venue] - 1) * 10_000)
        last[venue] = price
        if len(last) > 1:
            high, low = max(last.values()), min(last.values())
            spread_x.append(moment)
            spread_y.append((high - low) / ((high + low) / 2) * 10_000)
    for venue, (xs, ys) in series.items():
        prices.step(xs, ys, where="post", label=venue, linewidth=1.2)
    prices.set_ylabel("bps from first trade")
    prices.legend(loc="upper left")
    prices.set_title(f"{report['pair']}: {report['window']['start']} to {report['window']['end']}")
    spread.step(spread_x, spread_y, where="post", color="#e3a008")
    spread.set_ylabel("spread, bps")
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
