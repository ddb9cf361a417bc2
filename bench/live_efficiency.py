"""Live CPU per trade, side by side: ``schemahub serve`` and cryptofeed on one simulated feed.

The project's simulator serves Coinbase Advanced (``--products`` products, 20 by default) at
``--rate`` trades a second in total, spread evenly. Two consumers read it at the same time,
each in its own process:

- ``schemahub serve`` (Coinbase only), with its Iceberg commits on the embedded lake in a
  temp folder, default flush settings (``flush.interval_seconds`` 10 s);
- cryptofeed 2.4.1 (a benchmark-only dependency), its Coinbase websocket endpoint pointed at
  the simulator (its ``wss://``-only check relaxed for the loopback ``ws://`` address): parse
  and normalize only (``Trade`` objects with ``Decimal`` price and size,
  one counting callback), no storage.

After ``--warmup`` seconds, the CPU time (user + system, psutil) of each process over the next
``--seconds`` is divided by the trades it received in that window: ours from the daemon's
``schemahub_trades_total`` metric, cryptofeed's from its callback's counter. ``--idle`` runs a
handful of quiet streams (``--products 5 --rate 0.25`` unless given) and reports CPU
milliseconds per second instead: the cost of a replica that mostly waits.

``--without-feed`` turns our live discrepancy feed off (its tracker and its top-of-book
subscription), which cryptofeed's side has no counterpart of.

Run: ``.venv/bin/python bench/live_efficiency.py --rate 5000 [--seconds 60] [--without-feed]``;
the last line is JSON. The simulator's own CPU is not counted (it runs in a third process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

BASES = (
    "BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC",
    "BCH", "UNI", "ATOM", "XLM", "ETC", "FIL", "AAVE", "ALGO", "NEAR", "APT",
)  # fmt: skip
_TRADES_LINE = re.compile(r'^schemahub_trades_total\{[^}]*venue="coinbase"[^}]*\} ([0-9.e+]+)$')


def _simulator(bases: tuple[str, ...], per_product: float, conn: Any) -> None:
    """Child process: the simulator, Coinbase products only carrying trades."""
    from schemahub.sim import SimConfig, Simulator
    from schemahub.sim.markets import market

    async def serve() -> None:
        rates = {market("coinbase", b).symbol: per_product for b in bases}
        config = SimConfig(symbols=bases, rate_per_stream=0.0, rates=rates, ping_interval_s=None)
        async with Simulator(config) as sim:
            conn.send({"ws_url": sim.ws_url("coinbase"), "rest_url": sim.rest_url("coinbase")})
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told

    asyncio.run(serve())


def _cryptofeed(ws_url: str, bases: tuple[str, ...], counter: Any) -> None:
    """Child process: cryptofeed's Coinbase feed on the simulator, counting its trades."""
    import cryptofeed.feed
    from cryptofeed import FeedHandler
    from cryptofeed.connection import WebsocketEndpoint, WSAsyncConn
    from cryptofeed.defines import TRADES
    from cryptofeed.exchanges import Coinbase
    from cryptofeed.symbols import Symbols

    from schemahub.sim.catalog import coinbase_advanced_product
    from schemahub.sim.markets import market

    class PlainWebsocket(WSAsyncConn):
        """cryptofeed refuses non-TLS addresses; the simulator on loopback speaks plain ws."""

        def __init__(self, address: str, conn_id: str, **kwargs: Any) -> None:
            super().__init__("wss://" + address.removeprefix("ws://"), conn_id, **kwargs)
            self.address = address

    cryptofeed.feed.WSAsyncConn = PlainWebsocket  # the only change to how cryptofeed runs

    class SimCoinbase(Coinbase):
        websocket_endpoints = [WebsocketEndpoint(ws_url, options={"compression": None})]

    products = {"products": [coinbase_advanced_product(market("coinbase", b)) for b in bases]}
    Symbols.set(Coinbase.id, *Coinbase._parse_symbol_data(products))

    async def count(_trade: Any, _receipt_timestamp: float) -> None:
        counter.value += 1

    handler = FeedHandler(config={"log": {"disabled": True}})
    symbols = [f"{b}-USD" for b in bases]
    # cryptofeed 2.4.1 signs every Coinbase subscription; the simulator ignores the signature.
    keys = {"coinbase": {"key_id": "bench", "key_secret": "bench"}}
    feed = SimCoinbase(symbols=symbols, channels=[TRADES], callbacks={TRADES: count}, config=keys)
    handler.add_feed(feed)
    handler.run()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(
    endpoints: dict[str, str], bases: tuple[str, ...], root: Path, port: int, feed: bool
) -> Path:
    symbols = ", ".join(f"{b}-USD" for b in bases)
    text = (
        f"lake:\n  warehouse: {root / 'warehouse'}\n"
        f"venues:\n  binance:\n    enabled: false\n  kraken:\n    enabled: false\n"
        f"  coinbase:\n    ws_url: {endpoints['ws_url']}\n    rest_url: {endpoints['rest_url']}\n"
        f"    symbols: [{symbols}]\n"
        f"http:\n  port: {port}\nlog_level: WARNING\n"
    )
    if not feed:  # ingestion only: no tracker, no top-of-book subscription
        text += "discrepancy:\n  enabled: false\n"
    path = root / "schemahub.yaml"
    path.write_text(text)
    return path


def _our_trades(port: int) -> int:
    """Trades our daemon admitted so far (every source), from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return int(sum(float(m.group(1)) for ln in text.splitlines() if (m := _TRADES_LINE.match(ln))))


def _wait_ready(port: int, daemon: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"schemahub serve exited with {daemon.returncode} before ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("schemahub serve not ready within a minute")


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def _measure(ours: psutil.Process, theirs: psutil.Process, port: int, counter: Any, s: float):
    start = (_cpu(ours), _cpu(theirs), _our_trades(port), counter.value, time.monotonic())
    time.sleep(s)
    end = (_cpu(ours), _cpu(theirs), _our_trades(port), counter.value, time.monotonic())
    return [b - a for a, b in zip(start, end, strict=True)]


def _summary(args: argparse.Namespace, deltas: list[float], load: list[float]) -> dict[str, Any]:
    cpu_ours, cpu_theirs, trades_ours, trades_theirs, wall = deltas
    result: dict[str, Any] = {
        "rate_target": args.rate,
        "products": args.products,
        "discrepancy_feed": not args.without_feed,
        "window_s": round(wall, 1),
        "ours": {"trades": trades_ours, "cpu_s": round(cpu_ours, 3)},
        "cryptofeed": {"trades": trades_theirs, "cpu_s": round(cpu_theirs, 3)},
        "machine": f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in load)}",
    }
    for name, cpu, trades in (
        ("ours", cpu_ours, trades_ours),
        ("cryptofeed", cpu_theirs, trades_theirs),
    ):
        result[name]["trades_per_s"] = round(trades / wall, 1)
        result[name]["cpu_ms_per_s"] = round(1000 * cpu / wall, 2)
        result[name]["cpu_us_per_trade"] = round(1e6 * cpu / trades, 2) if trades else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=None, help="trades a second, all products")
    parser.add_argument("--products", type=int, default=None, help="Coinbase products (max 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring")
    parser.add_argument("--idle", action="store_true", help="a handful of quiet streams")
    parser.add_argument(
        "--without-feed",
        action="store_true",
        help="serve with the discrepancy feed off (discrepancy.enabled: false)",
    )
    args = parser.parse_args()
    args.products = args.products or (5 if args.idle else 20)
    args.rate = args.rate if args.rate is not None else (0.25 if args.idle else 1_000.0)
    bases = BASES[: args.products]
    spawn = mp.get_context("spawn")
    ours_end, sim_end = spawn.Pipe()
    sim = spawn.Process(target=_simulator, args=(bases, args.rate / len(bases), sim_end))
    sim.start()
    daemon = feed = None
    try:
        endpoints = ours_end.recv()
        with tempfile.TemporaryDirectory(prefix="sheff-") as root:
            port = _free_port()
            config = _config(endpoints, bases, Path(root), port, not args.without_feed)
            daemon = subprocess.Popen(
                [sys.executable, "-m", "schemahub.cli", "--config", str(config), "serve"]
            )
            counter = spawn.Value("q", 0, lock=False)
            feed = spawn.Process(target=_cryptofeed, args=(endpoints["ws_url"], bases, counter))
            feed.start()
            _wait_ready(port, daemon)
            time.sleep(args.warmup)
            ours, theirs = psutil.Process(daemon.pid), psutil.Process(feed.pid)
            deltas = _measure(ours, theirs, port, counter, args.seconds)
            result = _summary(args, deltas, list(os.getloadavg()))
            daemon.terminate()
            daemon.wait(timeout=60)
    finally:
        for proc in (feed,):
            if proc is not None and proc.is_alive():
                proc.terminate()
                proc.join(timeout=10)
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        ours_end.send("stop")
        sim.join(timeout=30)
    _print(result, args.idle)


def _print(result: dict[str, Any], idle: bool) -> None:
    ours, theirs = result["ours"], result["cryptofeed"]
    if idle:
        print(
            f"idle ({result['products']} quiet streams): ours {ours['cpu_ms_per_s']} ms CPU/s, "
            f"cryptofeed {theirs['cpu_ms_per_s']} ms CPU/s"
        )
    else:
        print(
            f"{result['rate_target']:,.0f} trades/s: ours {ours['cpu_us_per_trade']} µs/trade "
            f"({ours['trades']:,} trades), cryptofeed {theirs['cpu_us_per_trade']} µs/trade "
            f"({theirs['trades']:,} trades); {result['machine']}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
