"""Venues fail alone: a REST outage across a websocket drop, a crashing gap worker, a region
block and a DNS failure each stay with their venue, are reported, and are recovered from, while
the other venues keep ingesting; every owed trade still lands exactly once."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest

from schemahub.sim import FaultConfig, SimConfig, Simulator
from schemahub.venues.binance import BinanceHistory
from tests.daemon.harness import (
    all_connected,
    all_streaming,
    assert_same_trades,
    daemon_config,
    pause_and_settle,
    running,
    settle,
    unified,
    wait_until,
)

pytestmark = pytest.mark.slow
BINANCE_REST_DOWN = {"rest_down_seconds": 3600.0, "rest_down_venues": ("binance",)}


def _failed_jobs(caplog, venue: str) -> list[str]:
    return [
        r.job
        for r in caplog.records
        if r.getMessage() == "REST request for a gap failed; will retry" and r.venue == venue
    ]


def _filled(daemon, venue: str) -> float:
    return daemon.metrics.gap_ids_filled.get(venue=venue)


def _open_gaps(daemon, venue: str) -> int:
    return sum(g.exchange == venue for g in daemon.sequencer.open_gaps())


async def _get(base: str, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}{path}") as response:
        return response.status, await response.text()


async def test_rest_outage_across_a_websocket_drop_then_dropped_runs_elsewhere(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="schemahub.daemon.gapfill")
    async with Simulator(SimConfig(seed=41, rate_per_stream=30)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        async with running(config) as daemon:
            await wait_until(lambda: all_streaming(daemon, sim), "every stream took a trade")
            # Binance's REST answers 503 while its websocket drops: the probe for the trades
            # missed at the drop fails after the REST client's retries (the path that used to
            # kill the gap filler of every venue).
            sim.set_faults(FaultConfig(**BINANCE_REST_DOWN))
            assert sim.drop_connections("binance") > 0
            await wait_until(
                lambda: any(
                    j.startswith("probe binance/") for j in _failed_jobs(caplog, "binance")
                ),
                "the binance probe failed against the REST outage",
            )
            # Then runs dropped on every websocket: the other venues fill theirs meanwhile.
            sim.set_faults(FaultConfig(**BINANCE_REST_DOWN, drop_run_probability=0.02))
            await wait_until(
                lambda: (
                    _filled(daemon, "coinbase") > 0
                    and _filled(daemon, "kraken") > 0
                    and _open_gaps(daemon, "binance") > 0
                ),
                "coinbase and kraken filled gaps while binance's stayed open",
            )
            binance_filled_during_outage = _filled(daemon, "binance")
            restarts = dict(daemon.metrics.task_restarts.values)
            sim.set_faults(FaultConfig())  # Binance's REST is back
            await asyncio.sleep(1)
            table, stats = await pause_and_settle(daemon, sim)
        truth = sim.ground_truth()
    assert stats.rest_down_answers["binance"] > 0
    assert binance_filled_during_outage == 0
    assert restarts == {}, f"a worker crashed instead of retrying: {restarts}"
    assert_same_trades(table, truth)


async def test_a_crashing_gap_worker_of_one_venue_leaves_the_others_working(tmp_path, monkeypatch):
    # No network answer crashes a gap worker any more, so a Binance history client that raises
    # stands in for a bug in that venue's worker.
    async with Simulator(SimConfig(seed=42, rate_per_stream=30)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        async with running(config) as daemon:
            await wait_until(lambda: all_streaming(daemon, sim), "every stream took a trade")
            monkeypatch.setattr(BinanceHistory, "latest_trade_id", _raising_latest_trade_id)
            sim.set_faults(FaultConfig(drop_run_probability=0.02))
            sim.drop_connections("binance")
            await wait_until(
                lambda: daemon.metrics.task_restarts.get(task="gapfill-binance") >= 1,
                "the binance gap worker crashed and was restarted",
            )
            filled_then = _filled(daemon, "coinbase")
            await wait_until(
                lambda: _filled(daemon, "coinbase") > filled_then,
                "coinbase kept filling its gaps after binance's worker crashed",
            )
            # Quiet streams are probed: binance's worker now crashes at every start.
            sim.pause()
            base = f"http://127.0.0.1:{daemon.http_port}"
            readyz = await _until_down(base, "task gapfill-binance")
            _, metrics = await _get(base, "/metrics")
            crashed = set(daemon.metrics.task_restarts.values)
            crashing_since = time.time()
            await wait_until(
                lambda: all(
                    (daemon.gap_filler.probed_at(v, s) or 0) > crashing_since
                    for v in ("coinbase", "kraken")
                    for s in sim.symbols(v)
                ),
                "coinbase and kraken streams probed while binance's worker crashed",
            )
            monkeypatch.undo()  # the bug fixed: the worker's next restart succeeds
            await settle(daemon)
            await wait_until(lambda: daemon.readiness().ready, "ready again")
            table = unified(config.lake)
        truth = sim.ground_truth()
    assert 'schemahub_task_restarts_total{task="gapfill-binance"}' in metrics
    assert crashed == {("gapfill-binance",)}  # only that worker failed
    assert "a bug standing in" in readyz
    assert_same_trades(table, truth)


async def _raising_latest_trade_id(self, symbol):
    raise RuntimeError("a bug standing in the binance probe")


async def _until_down(base: str, reason: str) -> str:
    """The /readyz body once it is 503 naming ``reason`` (bounded)."""
    for _ in range(600):
        status, body = await _get(base, "/readyz")
        if status == 503 and reason in body:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never reported {reason!r}")


async def test_a_region_blocked_venue_is_reported_and_retried_while_the_others_ingest(tmp_path):
    block = FaultConfig(ws_refuse_status=451, rest_refuse_status=451, refuse_venues=("binance",))
    async with Simulator(SimConfig(seed=43, rate_per_stream=30, faults=block)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        async with running(config) as daemon:
            await wait_until(lambda: all_connected(daemon, ("coinbase", "kraken")), "others up")
            await wait_until(
                lambda: daemon.metrics.task_restarts.get(task="session-binance") >= 2,
                "binance retried with backoff",
            )
            base = f"http://127.0.0.1:{daemon.http_port}"
            readyz = await _until_down(base, "binance: no live connection")
            _, metrics = await _get(base, "/metrics")
            await wait_until(lambda: _committed(config, ("coinbase", "kraken")), "others landed")
            sim.set_faults(FaultConfig())  # the block is lifted
            await wait_until(lambda: all_connected(daemon), "binance connected after the block")
            await asyncio.sleep(1)
            table, stats = await pause_and_settle(daemon, sim)
        truth = sim.ground_truth()
    assert "HTTP 451" in readyz
    assert 'schemahub_task_restarts_total{task="session-binance"}' in metrics
    assert stats.refusals["binance:rest"] > 0
    assert set(table["exchange"].to_pylist()) == {"binance", "coinbase", "kraken"}
    assert_same_trades(table, truth)


async def test_dns_failure_and_a_refused_websocket_leave_the_third_venue_ingesting(tmp_path):
    refused = FaultConfig(ws_refuse_status=403, refuse_venues=("kraken",))
    async with Simulator(SimConfig(seed=44, rate_per_stream=30, faults=refused)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        venues = config.model_dump()["venues"]
        venues["binance"].update(
            ws_url="ws://nonexistent.invalid", rest_url="http://nonexistent.invalid"
        )
        config = daemon_config(sim, tmp_path / "warehouse", venues=venues)
        async with running(config) as daemon:
            await wait_until(lambda: all_connected(daemon, ("coinbase",)), "coinbase up")
            await wait_until(
                lambda: (
                    daemon.metrics.task_restarts.get(task="session-kraken") >= 1
                    and daemon.metrics.task_restarts.get(task="session-binance") >= 1
                ),
                "binance and kraken failing and retried",
            )
            base = f"http://127.0.0.1:{daemon.http_port}"
            readyz = await _until_down(base, "binance: no live connection")
            _, metrics = await _get(base, "/metrics")
            await wait_until(lambda: _committed(config, ("coinbase",)), "coinbase landed")
            table, stats = await pause_and_settle(daemon, sim)
        truth = sim.ground_truth()
    assert "nonexistent.invalid" in readyz
    assert 'schemahub_venue_connections{venue="binance"} 0' in metrics
    assert 'schemahub_venue_connections{venue="coinbase"} 1' in metrics
    assert set(table["exchange"].to_pylist()) == {"coinbase"}
    assert stats.refusals["kraken:ws"] > 0
    assert_same_trades(table, truth)


def _committed(config, venues: tuple[str, ...]) -> bool:
    table = unified(config.lake)
    return set(venues) <= set(table["exchange"].to_pylist())
