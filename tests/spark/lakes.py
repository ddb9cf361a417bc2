"""Small lakes built by SchemaHub's own code for the Spark tests.

- :func:`daemon_lake`: ``schemahub serve``'s daemon against the simulator for a few seconds
  (the daemon's own Parquet files: raw tables, trades_unified, watermarks), plus a real
  Coinbase recording through ``schemahub capture load`` and ``schemahub run unify``, and
  ``schemahub maintain`` compacting one raw table (the compaction's files).
- :func:`raw_only_lake`: raw rows of all three venues (simulator-built captures through
  ``capture load``, and rows with the values a unify must refuse or read carefully) that are
  not unified yet.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import yaml

from schemahub.benchmark.capture_gen import write_capture
from schemahub.cli import main
from schemahub.config import Config
from schemahub.lake import RAW_TABLES, Lake
from schemahub.lake.tables import raw_schemas
from schemahub.lake.writer import commit_append
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import daemon_config, running

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "config" / "mappings"
RECORDED = REPO / "tests" / "data" / "recorded"


@dataclass(frozen=True)
class BuiltLake:
    """A lake on disk: its config file (for the CLI) and the parsed config."""

    config_file: Path
    config: Config

    @property
    def catalog_name(self) -> str:
        return self.config.lake.catalog.name

    @property
    def catalog_db(self) -> Path:
        return Path(self.config.lake.warehouse).resolve() / "catalog.db"

    @property
    def warehouse_uri(self) -> str:
        return Path(self.config.lake.warehouse).resolve().as_uri()

    def lake(self) -> Lake:
        return Lake(self.config.lake)

    def cli(self, *args: str) -> int:
        return main(["--config", str(self.config_file), *args])


def _write_config(config: Config, folder: Path) -> BuiltLake:
    data = config.model_dump(mode="json")
    data["mappings_dir"] = str(MAPPINGS)
    path = folder / "schemahub.yaml"
    path.write_text(yaml.safe_dump(data))
    return BuiltLake(path, Config.model_validate(data))


MIN_TRADES = 900  # over six streams, half of them BTCUSDT


def daemon_lake(folder: Path, catalog: str) -> BuiltLake:
    """The daemon's files from a short run against the simulator, and a loaded recording."""

    async def run() -> Config:
        async with Simulator(SimConfig(seed=5, rate_per_stream=30)) as sim:
            config = daemon_config(
                sim,
                folder / "warehouse",
                lake={"catalog": {"name": catalog}},
                flush={"interval_seconds": 0.5},
            )
            async with running(config) as daemon:
                # bounded: until a few flushes of enough trades have landed (the README query
                # reads the newest 100 BTCUSDT trades; offsets-only commits come first)
                for _ in range(300):
                    await asyncio.sleep(0.1)
                    landed = daemon.buffers.total_rows == 0 and _commits(daemon) >= 3
                    if landed and daemon.sequencer.stats.admitted >= MIN_TRADES:
                        break
            return config

    built = _write_config(asyncio.run(run()), folder)
    assert (
        built.cli("capture", "load", "coinbase", str(RECORDED / "coinbase_advanced_ws.jsonl")) == 0
    )
    assert built.cli("run", "unify", "trades_unified") == 0
    # one table compacted, so the lake holds the compaction's files beside the flushes' files
    assert built.cli("maintain", "--table", RAW_TABLES["binance"], "--horizon", "0") == 0
    return built


def _commits(daemon) -> int:
    return int(sum(daemon.metrics.commits.values.values()))


def cli_lake(folder: Path, catalog: dict) -> BuiltLake:
    """A config file for a lake in ``folder`` on the catalog described by ``catalog``."""
    lake = {"warehouse": str(folder / "warehouse"), "catalog": catalog}
    return _write_config(Config.model_validate({"lake": lake}), folder)


def raw_only_lake(folder: Path, catalog: str) -> BuiltLake:
    """Raw rows of every venue, none unified yet."""
    built = cli_lake(folder, {"name": catalog})
    assert built.cli("tables", "init") == 0
    for venue in ("binance", "coinbase", "kraken"):
        capture = folder / f"{venue}.jsonl"
        write_capture(capture, venue, 300, symbols=("BTC", "ETH"), seed=3)
        assert built.cli("capture", "load", venue, str(capture)) == 0
    assert (
        built.cli("capture", "load", "coinbase", str(RECORDED / "coinbase_advanced_ws.jsonl")) == 0
    )
    lake = built.lake()
    for venue, rows in careful_rows().items():
        table = lake.table(RAW_TABLES[venue])
        commit_append(table, lambda _t, r=rows: (r, {}))
    return built


_T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _raw(venue: str, rows: list[dict]) -> pa.Table:
    """Rows of a venue's raw table; ingest times one second apart, in row order."""
    schema = raw_schemas()[RAW_TABLES[venue]]
    for i, row in enumerate(rows):
        row.setdefault("_source", "spark-test")
        row.setdefault("_source_ingest_ts", _T0 + timedelta(seconds=i))
    return pa.Table.from_pylist(rows, schema=schema)


def careful_rows() -> dict[str, pa.Table]:
    """Raw rows with the values a unify must refuse, or read with care, per venue (the raw
    columns are required, so nulls are tried on the transforms alone)."""
    ms = int(_T0.timestamp() * 1000)

    def binance(trade_id: int, price: str, qty: str = "0.5", **kw) -> dict:
        row = {"symbol": "BTCUSDT", "trade_id": trade_id, "price": price, "qty": qty}
        return {"trade_time": ms + trade_id, "is_buyer_maker": trade_id % 2 == 0, **row, **kw}

    def coinbase(trade_id: str, side: str, time: str, price: str = "10") -> dict:
        row = {"product_id": "BTC-USD", "trade_id": trade_id, "price": price, "size": "1"}
        return {**row, "side": side, "time": time, "feed": "advanced"}

    def kraken(trade_id: int, price: float, side: str, stamp: str) -> dict:
        row = {"symbol": "BTC/USD", "trade_id": trade_id, "price": price, "qty": 0.25}
        return {**row, "side": side, "ord_type": "limit", "timestamp": stamp}

    iso = "2026-03-01T12:00:00.123456Z"
    return {
        "binance": _raw(
            "binance",
            [
                binance(9_000_001, "65000.5"),
                binance(9_000_002, "+.5e-3"),
                binance(9_000_003, "1."),
                binance(9_000_004, "abc"),
                binance(9_000_005, "-1"),
                binance(9_000_006, "0"),
                binance(9_000_007, "1e400"),
                binance(9_000_008, " 1"),
                binance(9_000_009, "NaN"),
                binance(9_000_011, "2", qty="0x10"),
                binance(9_000_013, "4", trade_time=10**17),
                binance(9_000_014, "5", trade_time=-62_135_596_800_001),
                # one key twice: the earlier ingest is the one kept
                binance(9_000_015, "6"),
                binance(9_000_015, "7"),
            ],
        ),
        "coinbase": _raw(
            "coinbase",
            [
                coinbase("8000001", "buy", iso),
                coinbase("8000002", "SELL", "2026-03-01 12:00:00+01"),
                coinbase("8000003", "\u017fell", "2026-03-01T12:00:00.123456789+0130"),
                coinbase("8000004", "Sell", "2026-03-01T12:00:00-00:00"),
                coinbase("8000005", "bUy", "2026-03-01T12:00:00+19:00"),
                coinbase("8000006", "hold", iso),
                coinbase("0x1f", "buy", iso),
                coinbase("+5", "buy", iso),
                coinbase("99999999999999999999", "buy", iso),
                coinbase("-3", "buy", iso),
                coinbase("8000008", "buy", "2026-02-30T00:00:00Z"),
                coinbase("8000009", "buy", "2026-03-01T24:00:00Z"),
                coinbase("8000010", "buy", "2026-03-01T12:00:00+24:00"),
                coinbase("8000011", "buy", "0001-01-01T00:00:00+01:00"),
                coinbase("8000012", "buy", "0001-01-01T00:30:00-01:00"),
                coinbase("8000013", "buy", "2026-03-01T12:00:00"),
                coinbase("8000015", "buy", iso, price="1e-320"),
            ],
        ),
        "kraken": _raw(
            "kraken",
            [
                kraken(7_000_001, 65000.1, "buy", iso),
                kraken(7_000_002, float("nan"), "buy", iso),
                kraken(7_000_003, float("inf"), "sell", iso),
                kraken(7_000_004, -1.0, "sell", iso),
                kraken(7_000_005, 0.0, "sell", iso),
                kraken(7_000_006, 5e-324, "Buy", iso),
                kraken(7_000_007, 1.5, "x", iso),
                kraken(7_000_008, 1.5, "SELL", "2026-03-01T12:00:00.5+23:59"),
            ],
        ),
    }
