"""Load check of the live discrepancy feed: many WebSocket and SSE clients, some never reading.

Two runs of the same length, each with a fresh daemon (in a child process) against the same
simulator (in another child process): first without feed clients, then with ``--ws`` WebSocket
and ``--sse`` SSE clients connected from this process, ``--stuck`` of them never reading (a
4 KiB receive buffer, no reads). Reported per run: trades committed per second and
tick-to-commit lag (the daemon's histogram), the daemon's resident memory at the end, clients
dropped; for the second run also the tick-to-client latency of every update a reading client
got (client receive time minus ``received_ts``, the daemon's receive time of the newest trade
or quote in the update), which includes up to one coalescing interval; measured both at the
reading clients of this (busy) process and at ``--probes`` clients in a process of their own.
The probes also report trade-to-client latency: for each trade they see for the first time,
their receive time minus the trade's own time (the simulator's clock, this machine's), which
counts the time frames wait in the daemon's socket before it reads them.

Run: ``.venv/bin/python bench/discrepancy_load.py [--rate 2000] [--seconds 30] [--ws 50]
[--sse 10] [--stuck 6] [--coalesce-ms 250] [--probes 5]``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import statistics
import tempfile
import time
from datetime import datetime
from typing import Any

import aiohttp
from live_lag import STREAMS, SYMBOLS, _quantile, _simulator

from schemahub.config import Config
from schemahub.daemon.service import Daemon
from schemahub.discrepancy.client import follow_sse, follow_ws


def _daemon(overrides: dict, args: dict, conn: Any) -> None:
    """A daemon in this child process until told to stop; sends its port, then its figures."""
    import psutil

    async def serve() -> dict:
        with tempfile.TemporaryDirectory(prefix="shfeed-") as warehouse:
            groups = {
                base: {
                    "quote": "USD",
                    "members": {
                        "binance": {"symbol": f"{base}USDT", "quote": "USDT"},
                        "coinbase": {"symbol": f"{base}-USD", "quote": "USD"},
                        "kraken": {"symbol": f"{base}/USD", "quote": "USD"},
                    },
                    "conversions": {"USDT": 1.0},
                }
                for base in SYMBOLS
            }
            config = Config.model_validate(
                {
                    "lake": {"warehouse": warehouse},
                    "flush": {"interval_seconds": 10},
                    "venues": overrides,
                    "http": {"port": 0},
                    "discrepancy": {"coalesce_ms": args["coalesce_ms"], "groups": groups},
                }
            )
            stop, ready = asyncio.Event(), asyncio.Event()
            daemon = Daemon(config)
            task = asyncio.create_task(daemon.run(stop, ready=lambda _d: ready.set()))
            await ready.wait()
            conn.send(daemon.http_port)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told
            rss = psutil.Process().memory_info().rss
            feed = daemon.feed
            stop.set()
            await task
        hist = daemon.metrics.tick_to_commit_seconds
        counts = [sum(c[i] for c in hist.counts.values()) for i in range(len(hist.buckets) + 1)]
        return {
            "trades_committed": sum(counts),
            "commit_lag_p50_s": round(_quantile(hist.buckets, counts, 0.50), 3),
            "commit_lag_p99_s": round(_quantile(hist.buckets, counts, 0.99), 3),
            "daemon_rss_mib": round(rss / 2**20, 1),
            "clients_dropped": feed.stats.clients_dropped,
            "feed_updates": feed.stats.updates,
        }

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:  # as `schemahub serve` runs
        conn.send(runner.run(serve()))


def _loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _lag_recorder(lags: list[float], trade_lags: list[float] | None = None):
    """A callback noting each update's tick-to-client latency; with ``trade_lags``, also the
    trade-to-client latency of each trade the client sees for the first time (client receive
    time minus the venue's trade time: this includes the time a frame waited in the daemon's
    socket, which the daemon's own receive time does not)."""
    seen: dict[tuple[str, str], object] = {}

    def note(update: dict) -> None:
        now = time.time()
        if update["received_ts"]:
            lags.append(now - _epoch(update["received_ts"]))
        if trade_lags is None:
            return
        for venue, entry in update["venues"].items():
            key = (update["pair"], venue)
            if entry["trade_ts"] and seen.get(key, entry["trade_id"]) != entry["trade_id"]:
                trade_lags.append(now - _epoch(entry["trade_ts"]))
            seen[key] = entry["trade_id"]

    return note


async def _reader(url: str, lags: list[float], trade_lags: list[float] | None = None) -> None:
    follow = follow_ws if url.startswith("ws") else follow_sse
    async with aiohttp.ClientSession() as http:
        await follow(http, url, _lag_recorder(lags, trade_lags))


async def _stop(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _stuck(port: int, path: str) -> socket.socket:
    """Connect, ask for ``path``, never read (tiny receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    ws = path.endswith("/ws")
    headers = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if ws
        else ""
    )
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    return sock


def _probe(port: int, count: int, seconds: float, conn: Any) -> None:
    """A few reading WebSocket clients in their own process (so the latency they see is not
    that of the busy client process); sends back their latencies."""

    async def read() -> tuple[list[float], list[float]]:
        lags: list[float] = []
        trade_lags: list[float] = []
        url = f"ws://127.0.0.1:{port}/discrepancy/ws"
        tasks = [asyncio.create_task(_reader(url, lags, trade_lags)) for _ in range(count)]
        await asyncio.sleep(seconds)
        await _stop(tasks)
        return lags, trade_lags

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        conn.send(runner.run(read()))


def _percentiles(lags: list[float], prefix: str) -> dict:
    lags = sorted(lags)
    if not lags:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p99_ms": None}
    return {
        f"{prefix}_p50_ms": round(statistics.median(lags) * 1000, 1),
        f"{prefix}_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1),
    }


async def _clients(port: int, args: argparse.Namespace) -> dict:
    base = f"127.0.0.1:{port}"
    lags: list[float] = []
    readers = [
        asyncio.create_task(_reader(f"ws://{base}/discrepancy/ws", lags))
        for _ in range(args.ws - args.stuck // 2)
    ]
    readers += [
        asyncio.create_task(_reader(f"http://{base}/discrepancy/sse", lags))
        for _ in range(args.sse - (args.stuck - args.stuck // 2))
    ]
    stuck = [await _stuck(port, "/discrepancy/ws") for _ in range(args.stuck // 2)]
    stuck += [await _stuck(port, "/discrepancy/sse") for _ in range(args.stuck - args.stuck // 2)]
    ours, theirs = mp.Pipe()
    probe = mp.get_context("spawn").Process(
        target=_probe, args=(port, args.probes, args.seconds, theirs)
    )
    probe.start()
    await asyncio.sleep(args.seconds)
    await _stop(readers)
    probe_lags, trade_lags = await asyncio.to_thread(ours.recv)
    probe.join(timeout=30)
    for sock in stuck:
        sock.close()
    return {
        "updates_received": len(lags),
        **_percentiles(lags, "tick_to_client"),
        **_percentiles(probe_lags, "tick_to_probe"),
        **_percentiles(trade_lags, "trade_to_probe"),
    }


def _run(overrides: dict, args: argparse.Namespace, with_clients: bool) -> dict:
    ours, theirs = mp.Pipe()
    settings = {"coalesce_ms": args.coalesce_ms}
    child = mp.get_context("spawn").Process(target=_daemon, args=(overrides, settings, theirs))
    child.start()
    port = ours.recv()
    started = time.monotonic()
    if with_clients:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            result = runner.run(_clients(port, args))
    else:
        time.sleep(args.seconds)
        result = {}
    ours.send("stop")
    result.update(ours.recv())
    child.join(timeout=60)
    elapsed = time.monotonic() - started
    result["trades_per_s_committed"] = round(result["trades_committed"] / elapsed, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2_000.0, help="trades a second, all venues")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each run")
    parser.add_argument("--ws", type=int, default=50, help="WebSocket clients")
    parser.add_argument("--sse", type=int, default=10, help="SSE clients")
    parser.add_argument("--stuck", type=int, default=6, help="clients (of those) never reading")
    parser.add_argument("--coalesce-ms", type=int, default=250)
    parser.add_argument(
        "--probes", type=int, default=5, help="extra reading clients in a process of their own"
    )
    args = parser.parse_args()
    ours, theirs = mp.Pipe()
    sim = mp.get_context("spawn").Process(target=_simulator, args=(args.rate / STREAMS, theirs))
    sim.start()
    try:
        overrides = ours.recv()
        without = _run(overrides, args, with_clients=False)
        with_clients = _run(overrides, args, with_clients=True)
    finally:
        ours.send("stop")
        sim.join(timeout=30)
    change = with_clients["trades_per_s_committed"] / without["trades_per_s_committed"] - 1
    result = {
        "rate_target": args.rate,
        "seconds_each": args.seconds,
        "clients": {"ws": args.ws, "sse": args.sse, "stuck": args.stuck},
        "coalesce_ms": args.coalesce_ms,
        "without_clients": without,
        "with_clients": with_clients,
        "throughput_change": round(change, 3),
    }
    print(
        f"without clients: {without['trades_per_s_committed']:,.0f} trades/s, commit lag p50 "
        f"{without['commit_lag_p50_s']} s; with {args.ws} ws + {args.sse} sse "
        f"({args.stuck} stuck): {with_clients['trades_per_s_committed']:,.0f} trades/s "
        f"({change:+.1%}), commit lag p50 {with_clients['commit_lag_p50_s']} s, "
        f"{with_clients['clients_dropped']} dropped; tick-to-client p50 "
        f"{with_clients['tick_to_client_p50_ms']} ms, "
        f"p99 {with_clients['tick_to_client_p99_ms']} ms; at the probes p50 "
        f"{with_clients['tick_to_probe_p50_ms']} ms, p99 {with_clients['tick_to_probe_p99_ms']} ms"
        f" (trade to probe p50 {with_clients['trade_to_probe_p50_ms']} ms, "
        f"p99 {with_clients['trade_to_probe_p99_ms']} ms)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
