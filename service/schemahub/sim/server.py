"""The simulator: three venue servers on 127.0.0.1 fed by one tape.

Binance listens on ``port_base``, Coinbase on ``port_base + 1``, Kraken on ``port_base + 2``;
``port_base=0`` binds each to a free port (see :meth:`Simulator.port`). A clock task moves the
tape forward every ``tick_s`` and hands the new trades to the venue servers, minus the runs
the ``drop_run`` fault leaves out of the websockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import pyarrow as pa

from schemahub.errors import UsageError
from schemahub.sim.binance import BinanceServer
from schemahub.sim.coinbase import CoinbaseServer
from schemahub.sim.faults import FaultConfig, FaultDice, SimStats
from schemahub.sim.kraken import KrakenServer
from schemahub.sim.markets import VENUES, Market, market
from schemahub.sim.tape import Tape, Trade
from schemahub.sim.venue import SimContext, VenueServer

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Ground-truth schema metadata: per stream ("venue:symbol"), the first trade a subscriber is owed.
FIRST_OWED_KEY = b"schemahub.sim.first_owed"
DEFAULT_LAGS_MS = {"binance": 0, "coinbase": 80, "kraken": 150}


@dataclass(frozen=True)
class SimConfig:
    """How the simulator runs. ``symbols`` are base assets, listed on every venue."""

    port_base: int = 0
    symbols: tuple[str, ...] = ("BTC", "ETH")
    rate_per_stream: float = 20.0  # trades a second per (venue, symbol)
    seed: int = 1
    lags_ms: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LAGS_MS))
    faults: FaultConfig = field(default_factory=FaultConfig)
    history_limit: int | None = None  # REST serves at most this many newest trades a stream
    # The tape starts this long before start(): REST history this deep is there from the start.
    history_seconds: float = 0.0
    tick_s: float = 0.01  # how often the tape moves
    ping_interval_s: float | None = 20.0  # websocket protocol pings (Binance pings every 20 s)
    max_connection_age_s: float | None = None  # e.g. Binance's 24 h cut, shortened for tests
    binance_weight_limit: int = 6000  # request weight a minute
    coinbase_rest_rate: float = 10.0  # requests a second (burst 1.5x)
    kraken_rest_rate: float = 1.0  # requests a second
    kraken_rest_burst: float = 5.0
    # Extra base assets listed on one venue only, e.g. {"binance": ("T0001", ...)}.
    extra_symbols: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Per venue-native symbol trade rate, overriding rate_per_stream (0 = no trades).
    rates: dict[str, float] = field(default_factory=dict)

    def markets(self) -> list[Market]:
        """Every listed market, venue by venue."""
        if not self.symbols and not self.extra_symbols:
            raise UsageError("the simulator needs at least one symbol (e.g. BTC)")
        out: list[Market] = []
        for venue in VENUES:
            bases = [*self.symbols, *self.extra_symbols.get(venue, ())]
            out.extend(market(venue, b) for b in dict.fromkeys(s.upper() for s in bases))
        return out


class Simulator:
    """Binance-, Coinbase- and Kraken-compatible endpoints serving one deterministic tape."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self._faults = self.config.faults
        self._faults_set_at = time.monotonic()
        self._stats = SimStats()
        self._dice = FaultDice(self.config.seed)
        self._markets = self.config.markets()
        self._tape: Tape | None = None
        self._servers: dict[str, VenueServer] = {}
        self._runners: dict[str, Any] = {}
        self._ports: dict[str, int] = {}
        self._clock: asyncio.Task[None] | None = None
        self._drop_left: dict[tuple[str, str], int] = {}
        self._muted: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the three servers and start the tape."""
        from aiohttp import web

        cfg = self.config
        now = _now_ms()
        self._tape = Tape(
            self._markets,
            cfg.seed,
            now - int(cfg.history_seconds * 1000),
            cfg.rate_per_stream,
            cfg.lags_ms,
            cfg.rates,
        )
        self._tape.advance_to(now)  # the past: REST history only, never sent on websockets
        ctx = SimContext(
            self._tape,
            self._stats,
            self._dice,
            lambda: self._faults,
            cfg.ping_interval_s,
            cfg.max_connection_age_s,
            cfg.history_limit,
            lambda: time.monotonic() - self._faults_set_at,
        )
        by_venue = {v: [m for m in self._markets if m.venue == v] for v in VENUES}
        self._servers = {
            "binance": BinanceServer(ctx, by_venue["binance"], cfg.binance_weight_limit),
            "coinbase": CoinbaseServer(
                ctx, by_venue["coinbase"], cfg.coinbase_rest_rate, cfg.coinbase_rest_rate * 1.5
            ),
            "kraken": KrakenServer(
                ctx, by_venue["kraken"], cfg.kraken_rest_rate, cfg.kraken_rest_burst
            ),
        }
        for offset, venue in enumerate(VENUES):
            runner = web.AppRunner(
                self._servers[venue].build_app(), handle_signals=False, shutdown_timeout=1.0
            )
            await runner.setup()
            port = cfg.port_base + offset if cfg.port_base else 0
            site = web.TCPSite(runner, HOST, port)
            await site.start()
            self._runners[venue] = runner
            self._ports[venue] = runner.addresses[0][1]
            self._servers[venue].start_background()
        self._clock = asyncio.create_task(self._run_clock())

    async def stop(self) -> None:
        """Stop the tape and close every connection and server."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        for server in self._servers.values():
            await server.stop_background()
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- addresses -------------------------------------------------------------------------
    def port(self, venue: str) -> int:
        """The port ``venue`` listens on."""
        self._check_venue(venue)
        if venue not in self._ports:
            raise UsageError("the simulator is not started: call await sim.start() first")
        return self._ports[venue]

    def ws_url(self, venue: str) -> str:
        """The websocket base URL a client's ``ws_url`` should be set to."""
        suffix = "/v2" if venue == "kraken" else ""
        return f"ws://{HOST}:{self.port(venue)}{suffix}"

    def rest_url(self, venue: str) -> str:
        """The REST base URL a client's ``rest_url`` should be set to."""
        return f"http://{HOST}:{self.port(venue)}"

    def symbols(self, venue: str) -> list[str]:
        """The venue-native symbols listed on ``venue``."""
        self._check_venue(venue)
        return [m.symbol for m in self._markets if m.venue == venue]

    @staticmethod
    def _check_venue(venue: str) -> None:
        if venue not in VENUES:
            raise UsageError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")

    # -- control ---------------------------------------------------------------------------
    @property
    def tape(self) -> Tape:
        """The tape (read it, do not advance it: the clock does)."""
        if self._tape is None:
            raise UsageError("the simulator is not started: call await sim.start() first")
        return self._tape

    def pause(self) -> None:
        """Stop generating trades (connections stay up, heartbeats go on)."""
        self.tape.pause(_now_ms())

    def resume(self) -> None:
        """Generate trades again, from now on."""
        self.tape.resume(_now_ms())

    def drop_connections(self, venue: str) -> int:
        """Drop every websocket connection of ``venue`` now, abruptly (as a network failure
        would); returns how many were open."""
        self._check_venue(venue)
        return self._servers[venue].drop_connections()

    def mute(self, venue: str) -> None:
        """Pause one venue's websocket feed: its trades are still generated (and served over
        REST) but no trade or quote frame goes out until :meth:`unmute`."""
        self._check_venue(venue)
        self._muted.add(venue)

    def unmute(self, venue: str) -> None:
        """Resume a muted venue's feed (the trades it missed show up as an id jump)."""
        self._muted.discard(venue)

    def set_faults(self, faults: FaultConfig) -> None:
        """Switch fault injection settings while running (timed outages count from now)."""
        self._faults = faults
        self._faults_set_at = time.monotonic()

    @property
    def faults(self) -> FaultConfig:
        return self._faults

    def stats(self) -> SimStats:
        """A copy of what the simulator did so far."""
        return self._stats.snapshot()

    def ground_truth(self) -> pa.Table:
        """Every trade generated so far, unified form (see :data:`tape.GROUND_TRUTH_SCHEMA`);
        the schema metadata :data:`FIRST_OWED_KEY` holds :meth:`SimStats.first_owed` as JSON."""
        owed = orjson.dumps(self._stats.first_owed())
        return self.tape.ground_truth().replace_schema_metadata({FIRST_OWED_KEY: owed})

    def write_ground_truth(self, path: str | Path) -> Path:
        """Write the ground truth to ``path``: Parquet for ``.parquet``, else JSON lines."""
        return write_truth(self.ground_truth(), Path(path))

    # -- clock -----------------------------------------------------------------------------
    async def _run_clock(self) -> None:
        tape = self.tape
        while True:
            await asyncio.sleep(self.config.tick_s)
            try:
                self._dispatch(tape.advance_to(_now_ms()))
            except Exception:  # a bug here must not stop the tape silently: log it loudly
                log.exception("simulator clock tick failed")
                raise

    def _dispatch(self, trades: list[Trade]) -> None:
        if not trades:
            return
        delivered: dict[str, list[Trade]] = {v: [] for v in VENUES}
        dropped: dict[str, list[Trade]] = {v: [] for v in VENUES}
        for trade in trades:
            self._stats.trades_generated[f"{trade.venue}:{trade.symbol}"] += 1
            muted = trade.venue in self._muted
            (dropped if muted or self._drops(trade) else delivered)[trade.venue].append(trade)
        for venue, server in self._servers.items():
            server.publish(delivered[venue], dropped[venue])
            server.publish_quotes(delivered[venue])

    def _drops(self, trade: Trade) -> bool:
        """Whether the drop-run fault leaves ``trade`` out of the websockets (and record it)."""
        key = (trade.venue, trade.symbol)
        left = self._drop_left.get(key, 0)
        if left == 0 and self._dice.hit(self._faults.drop_run_probability):
            left = self._dice.between(*self._faults.drop_run_length)
            self._stats.dropped_runs[f"{trade.venue}:{trade.symbol}"].append(
                (trade.trade_id, trade.trade_id - 1)
            )
        if left == 0:
            return False
        self._drop_left[key] = left - 1
        runs = self._stats.dropped_runs[f"{trade.venue}:{trade.symbol}"]
        runs[-1] = (runs[-1][0], trade.trade_id)
        return True


def sim_venue_overrides(sim: Simulator) -> dict[str, dict[str, Any]]:
    """Config overrides pointing every venue at ``sim``: ``{"binance": {"ws_url", "rest_url",
    "symbols"}, ...}`` (merge into ``venues`` of the config)."""
    return {
        venue: {
            "ws_url": sim.ws_url(venue),
            "rest_url": sim.rest_url(venue),
            "symbols": sim.symbols(venue),
        }
        for venue in VENUES
    }


def write_truth(table: pa.Table, path: Path) -> Path:
    """Write a ground-truth table as Parquet (``.parquet``) or JSON lines (anything else)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
        return path
    import orjson

    with path.open("wb") as out:
        for row in table.to_pylist():
            row["trade_ts"] = row["trade_ts"].isoformat().replace("+00:00", "Z")
            out.write(orjson.dumps(row) + b"\n")
    return path


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
