"""Holes the stream state does not know (rows gone from the table) and ids the venue no longer
serves: found by ``gaps --audit``, filled or reported lost by ``gap-fill``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pyarrow.compute as pc
import pytest
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThanOrEqual

from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import assert_same_trades, daemon_config, running, settle, unified
from tests.gaps.cli import schemahub, write_config

pytestmark = pytest.mark.slow


async def _land_a_few_seconds(sim: Simulator, config) -> None:
    async with running(config) as daemon:
        await asyncio.sleep(3)
        sim.pause()
        await settle(daemon)


def _ids(config, venue: str, symbol: str) -> list[int]:
    """The stream's trade ids in trades_unified, ascending."""
    rows = unified(config.lake)
    mine = pc.and_(pc.equal(rows["exchange"], venue), pc.equal(rows["symbol"], symbol))
    return sorted(rows.filter(mine)["trade_id"].to_pylist())


def _cut(config, venue: str, symbol: str, first_index: int, count: int) -> tuple[int, int]:
    """Delete ``count`` consecutive trades of a stream from trades_unified (the state still
    counts them as present); returns their first and last id."""
    ids = _ids(config, venue, symbol)
    lo, hi = ids[first_index], ids[first_index + count - 1]
    stream = And(EqualTo("exchange", venue), EqualTo("symbol", symbol))
    ids_between = And(GreaterThanOrEqual("trade_id", lo), LessThanOrEqual("trade_id", hi))
    Lake(config.lake).table(UNIFIED_TABLE).delete(And(stream, ids_between))
    return lo, hi


async def test_audit_finds_rows_gone_from_the_table_and_gap_fill_puts_them_back(tmp_path):
    started = datetime.now(UTC).isoformat()
    async with Simulator(SimConfig(seed=43, rate_per_stream=20)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        await _land_a_few_seconds(sim, config)
        cut = {
            ("binance", "BTCUSDT"): _cut(config, "binance", "BTCUSDT", 10, 5),
            ("coinbase", "ETH-USD"): _cut(config, "coinbase", "ETH-USD", 3, 7),
            ("kraken", "BTC/USD"): _cut(config, "kraken", "BTC/USD", 12, 4),
        }
        config_file = write_config(config, tmp_path)
        plain = await schemahub(config_file, "gaps", "--format", "json")
        audit = await schemahub(
            config_file, "gaps", "--audit", "--since", started, "--format", "json"
        )
        until = datetime.now(UTC).isoformat()
        # a memory cap of 4 rows: the fill commits each time the buffers fill up
        small = {"SCHEMAHUB_FLUSH__MAX_BUFFERED_ROWS": "4"}
        fill = await schemahub(
            config_file, "gap-fill", "--since", started, "--until", until, env=small
        )
        flushes = [line for line in fill.err.splitlines() if '"msg":"flush"' in line]
        table = unified(config.lake)
        truth = sim.ground_truth()
    assert plain.code == 0 and json.loads(plain.out)["entries"] == []  # the state cannot know
    assert audit.code == 0, audit.err
    found = {
        (e["venue"], e["symbol"]): (e["first_id"], e["last_id"])
        for e in json.loads(audit.out)["entries"]
        if e["kind"] == "hole"
    }
    assert found == cut
    assert fill.code == 0, fill.out + fill.err
    assert f"gaps found: 3 ({5 + 7 + 4} ids)" in fill.out and "all filled" in fill.out
    assert len(flushes) >= 4
    assert_same_trades(table, truth)


async def test_ids_the_venue_no_longer_serves_are_marked_lost_and_exit_3(tmp_path):
    # the venues serve only their 40 newest trades a stream over REST
    async with Simulator(SimConfig(seed=44, rate_per_stream=20, history_limit=40)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        await _land_a_few_seconds(sim, config)
        lo, hi = _cut(config, "binance", "BTCUSDT", 2, 3)  # far older than the 40 newest
        config_file = write_config(config, tmp_path)
        ids = ("--from-id", str(lo), "--to-id", str(hi))
        fill = await schemahub(
            config_file, "gap-fill", "--venue", "binance", "--symbol", "BTCUSDT", *ids
        )
        state = await schemahub(config_file, "gaps", "--venue", "binance", "--format", "json")
        newest = _ids(config, "binance", "ETHUSDT")[-1]
        ahead = ("--from-id", str(newest - 2), "--to-id", str(newest + 5))
        future = await schemahub(
            config_file, "gap-fill", "--venue", "binance", "--symbol", "ETHUSDT", *ahead
        )
    assert fill.code == 3, fill.out + fill.err
    assert f"still open binance BTCUSDT {lo}..{hi}: binance does not hold trades" in fill.out
    assert "NOT all filled" in fill.out
    entries = json.loads(state.out)["entries"]
    assert {(e["symbol"], e["kind"], e["first_id"], e["last_id"]) for e in entries} == {
        ("BTCUSDT", "lost", lo, hi)
    }
    assert future.code == 3, future.out + future.err
    assert f"binance ETHUSDT {newest + 1}..{newest + 5}: above the venue's newest" in future.out


async def test_an_id_range_of_a_stream_without_state_is_filled_and_leaves_it_without(tmp_path):
    async with Simulator(SimConfig(seed=45, rate_per_stream=20)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        config_file = write_config(config, tmp_path)
        assert (await schemahub(config_file, "tables", "init")).code == 0
        await asyncio.sleep(2)
        sim.pause()
        truth = sim.ground_truth()
        mine = pc.and_(pc.equal(truth["exchange"], "kraken"), pc.equal(truth["symbol"], "ETH/USD"))
        newest = max(truth.filter(mine)["trade_id"].to_pylist())
        ids = ("--from-id", str(newest - 19), "--to-id", str(newest))
        fill = await schemahub(
            config_file, "gap-fill", "--venue", "kraken", "--symbol", "ETH/USD", *ids
        )
        state = await schemahub(config_file, "gaps", "--format", "json")
        table = unified(config.lake)
    assert fill.code == 0, fill.out + fill.err
    assert "gaps found: 1 (20 ids)" in fill.out and "all filled" in fill.out
    assert _ids(config, "kraken", "ETH/USD") == list(range(newest - 19, newest + 1))
    assert table.num_rows == 20
    streams = {(s["venue"], s["symbol"]): s for s in json.loads(state.out)["streams"]}
    assert streams[("kraken", "ETH/USD")]["high_water"] is None  # no state was made up
    assert_same_trades(table, truth)
