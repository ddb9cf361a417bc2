"""The whole market in one daemon: 3 venues x N symbols from the simulator, measured.

Run: ``.venv/bin/python bench/scale_bench.py --symbols 1000 --rate 20000 --seconds 60``

The simulator runs in a child process with N symbols on each venue and a skewed activity (a
few symbols carry most trades, ``sim.markets.skewed_rates``), ``--rate`` trades a second over
all venues. ``schemahub serve`` runs as its own process, subscribed to every symbol. After
``--seconds`` the tape pauses, the REST workers fill the gaps the daemon still has (frames lost
to dropped connections or over the frame size cap), the daemon commits what it holds and stops
(SIGTERM), and trades_unified is compared row by row with the simulator's ground truth.
Reported: the daemon's CPU (its process alone), its peak RSS, bytes per buffered trade (from
/metrics), tick-to-commit p50/p99 (from the histogram's buckets), and the comparison.

A benchmark, not a test: on a shared machine only the order of magnitude means something.
``--burst-rate 100000 --burst-seconds 10`` multiplies every stream's rate for 10 s mid-run
(``Tape.set_rate_factor``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

COMPARED = ["exchange", "symbol", "trade_id", "side", "price", "quantity", "trade_ts"]
KEYS = ["exchange", "symbol", "trade_id"]


def run_simulator(pipe, symbols: int, rate: float) -> None:
    """Child process: the simulator, driven by commands on ``pipe``."""
    asyncio.run(_simulate(pipe, symbols, rate))


async def _simulate(pipe, symbols: int, rate: float) -> None:
    from schemahub.sim import SimConfig, Simulator, sim_venue_overrides
    from schemahub.sim.markets import skewed_rates

    bases = tuple(f"T{i:04d}" for i in range(symbols))
    config = SimConfig(seed=21, symbols=bases, rates=skewed_rates(bases, rate / 3))
    loop = asyncio.get_running_loop()
    async with Simulator(config) as sim:
        pipe.send(sim_venue_overrides(sim))
        while True:
            command, argument = await loop.run_in_executor(None, pipe.recv)
            if command == "pause":
                sim.pause()
                pipe.send(True)
            elif command == "burst":  # argument: the rate factor from now on
                sim.tape.set_rate_factor(argument)
                pipe.send(True)
            elif command == "truth":
                pq.write_table(sim.ground_truth(), argument)
                pipe.send(argument)
            else:
                return


def command(pipe, name: str, argument: object) -> object:
    """Send the simulator process one command; its answer."""
    pipe.send((name, argument))
    return pipe.recv()


def write_config(folder: Path, venues: dict) -> Path:
    config = {
        "lake": {"warehouse": str(folder / "warehouse")},
        "flush": {"interval_seconds": 10},
        "venues": venues,
        "http": {"port": 0},
        "log_level": "INFO",
    }
    path = folder / "schemahub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def metric_values(text: str, name: str) -> list[tuple[str, float]]:
    out = []
    for line in text.splitlines():
        if line.startswith(name):
            key, value = line.rsplit(" ", 1)
            out.append((key, float(value)))
    return out


def quantile(text: str, q: float) -> float:
    """The upper bound of the bucket holding quantile ``q`` of tick-to-commit."""
    buckets = [
        (float(key.split('le="')[1].split('"')[0]), value)
        for key, value in metric_values(text, "schemahub_tick_to_commit_seconds_bucket")
    ]
    total = max((v for _, v in buckets), default=0.0)
    for bound, count in sorted(buckets):
        if total and count >= q * total:
            return bound
    return float("nan")


def settle(port: int, timeout: float) -> tuple[float, int]:
    """Wait until the daemon has no open gap (frames it lost, over the size cap or to a
    dropped connection, are filled over REST) or ``timeout`` passed, then one flush interval
    and a little so what it holds is committed; the seconds it took and the ids still open."""
    started = time.monotonic()
    while True:
        open_ids = int(sum(v for _, v in metric_values(metrics(port), "schemahub_open_gap_ids")))
        if open_ids == 0 or time.monotonic() - started >= timeout:
            break
        time.sleep(2)
    time.sleep(12)
    return time.monotonic() - started, open_ids


def http_port(log: Path, deadline: float) -> int:
    import json

    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if '"http_port"' in line:
                return int(json.loads(line)["http_port"])
        time.sleep(0.2)
    raise SystemExit(f"the daemon did not start; see {log}")


def compare(warehouse_config: Path, truth_path: str) -> str:
    """trades_unified against the simulator's record, from each stream's first committed id
    (a stream starts at its first live trade), in Arrow: millions of rows as Python tuples
    would take gigabytes."""
    from schemahub.config import load_config
    from schemahub.lake import UNIFIED_TABLE, Lake

    config = load_config(warehouse_config)
    table = Lake(config.lake).table(UNIFIED_TABLE).scan().to_arrow().select(COMPARED)
    truth = pq.read_table(truth_path)
    starts = table.group_by(["exchange", "symbol"]).aggregate([("trade_id", "min")])
    joined = truth.join(starts, keys=["exchange", "symbol"], join_type="inner")
    want = joined.filter(pc.greater_equal(joined["trade_id"], joined["trade_id_min"]))
    want = want.select(COMPARED)
    got = table.cast(want.schema)
    missing = want.join(got.select(KEYS), keys=KEYS, join_type="left anti").num_rows
    extra = got.join(want.select(KEYS), keys=KEYS, join_type="left anti").num_rows
    duplicates = got.num_rows - got.group_by(KEYS).aggregate([]).num_rows
    return (
        f"{table.num_rows:,} rows over {starts.num_rows:,} streams; missing {missing}, "
        f"extra {extra}, duplicates {duplicates}, values differing {_differing(got, want)}"
    )


def _differing(got: pa.Table, want: pa.Table) -> int | str:
    """Rows whose values differ between the two tables, when they hold the same keys."""
    if got.num_rows != want.num_rows:
        return "n/a (the keys differ)"
    order = [(k, "ascending") for k in KEYS]
    got, want = got.sort_by(order), want.sort_by(order)
    differ = pa.scalar(False)
    for name in COMPARED:
        both_null = pc.and_(pc.is_null(got[name]), pc.is_null(want[name]))
        unequal = pc.fill_null(pc.not_equal(got[name], want[name]), True)
        differ = pc.or_(differ, pc.and_not(unequal, both_null))
    return pc.sum(differ.cast(pa.int64())).as_py() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1000, help="symbols on each venue")
    parser.add_argument("--rate", type=float, default=20_000.0, help="trades/s, all venues")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--burst-rate", type=float, default=0.0, help="trades/s during one burst mid-run (0: none)"
    )
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=900.0,
        help="seconds to wait, after the tape pauses, for the REST workers to fill every gap",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    sim = multiprocessing.get_context("spawn").Process(
        target=run_simulator, args=(theirs, args.symbols, args.rate)
    )
    sim.start()
    venues = ours.recv()
    config = write_config(folder, venues)
    log = folder / "serve.log"
    started = time.monotonic()
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "schemahub.cli", "--config", str(config), "serve"],
            stdout=out,
            stderr=out,
        )
    port = http_port(log, time.monotonic() + 120)
    cpu_start = cpu_seconds(daemon.pid)
    if args.burst_rate:
        quiet = max(0.0, args.seconds - args.burst_seconds) / 2
        time.sleep(quiet)
        command(ours, "burst", args.burst_rate / args.rate)
        time.sleep(args.burst_seconds)
        command(ours, "burst", 1.0)
        time.sleep(quiet)
    else:
        time.sleep(args.seconds)
    cpu_run = cpu_seconds(daemon.pid) - cpu_start
    text = metrics(port)
    buffered = metric_values(text, "schemahub_buffered_bytes")
    rows = metric_values(text, "schemahub_buffered_rows")
    command(ours, "pause", None)
    settle_seconds, still_open = settle(port, args.settle_timeout)
    text = metrics(port)
    peak = peak_rss_mib(daemon.pid)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=60)
    truth = command(ours, "truth", str(folder / "truth.parquet"))
    ours.send(("stop", None))
    sim.join(timeout=30)
    trades = sum(v for k, v in metric_values(text, "schemahub_trades_total"))
    per_trade = buffered[0][1] / rows[0][1] if rows and rows[0][1] else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; run {args.seconds} s")
    print(f"streams: 3 x {args.symbols}; offered {args.rate:,.0f} trades/s (skewed)")
    if args.burst_rate:
        print(f"burst: {args.burst_rate:,.0f} trades/s for {args.burst_seconds} s mid-run")
    print(f"daemon CPU: {100 * cpu_run / args.seconds:.0f} % of one core over the run")
    print(f"daemon peak RSS: {peak:.0f} MiB (VmHWM)")
    print(f"trades admitted: {trades:,.0f}; bytes per buffered trade: {per_trade:.0f}")
    print(f"tick-to-commit p50 <= {quantile(text, 0.5)} s, p99 <= {quantile(text, 0.99)} s")
    if still_open:
        print(f"after the pause: {still_open:,} ids still open after {settle_seconds:.0f} s")
    else:
        print(f"after the pause: gaps filled and committed within {settle_seconds:.0f} s")
    print(f"comparison: {compare(config, truth)}")
    print(f"wall {time.monotonic() - started:.0f} s; files in {folder}")


if __name__ == "__main__":
    main()
