"""Done when: after the daemon was stopped for a while, ``gaps --audit`` lists the hole and
``gap-fill`` makes trades_unified equal the simulator's ground truth again."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime

import pytest

from schemahub.jobs.rest_fetch import committed_states
from schemahub.lake import Lake
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import assert_same_trades, daemon_config, spawn_serve, unified
from tests.gaps.cli import config_env, schemahub, write_config

pytestmark = pytest.mark.slow


async def _serve_for_a_while(config, tmp_path) -> None:
    log_file = tmp_path / "daemon.log"
    with log_file.open("wb") as log:
        process = await spawn_serve(config, tmp_path, log)
        for _ in range(600):  # until something is committed (bounded)
            await asyncio.sleep(0.1)
            if '"msg":"flush"' in log_file.read_text():
                break
        await asyncio.sleep(2)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0, log_file.read_text()[-2000:]


def _snapshots(config) -> dict[str, int]:
    lake = Lake(config.lake)
    names = ("trades_unified", "raw_binance_trades", "raw_coinbase_trades")
    return {name: len(lake.table(name).snapshots()) for name in names}


async def test_gaps_lists_the_outage_and_gap_fill_restores_the_truth(tmp_path):
    started = datetime.now(UTC).isoformat()
    async with Simulator(SimConfig(seed=41, rate_per_stream=15)) as sim:
        config = daemon_config(sim, tmp_path / "warehouse")
        await _serve_for_a_while(config, tmp_path)
        committed = unified(config.lake).num_rows
        await asyncio.sleep(3)  # the daemon is down; the venues keep trading
        sim.pause()
        config_file = write_config(config, tmp_path)
        (tmp_path / "task").mkdir()

        audit = await schemahub(
            config_file, "gaps", "--audit", "--since", started, "--format", "json"
        )
        dry = await schemahub(config_file, "gap-fill", "--dry-run")
        # one venue's streams first: the other streams' committed offsets must stay as they were
        before = committed_states(Lake(config.lake))
        snapshots_before = _snapshots(config)
        ingest = await schemahub(config_file, "run", "ingest", "binance")
        between = committed_states(Lake(config.lake))
        snapshots_between = _snapshots(config)
        # Coinbase unreachable: the other venues are still audited and filled, and it says so
        down = {"SCHEMAHUB_VENUES__COINBASE__REST_URL": "http://127.0.0.1:1"}
        audit_down = await schemahub(
            config_file, "gaps", "--audit", "--since", started, "--format", "json", env=down
        )
        fill_down = await schemahub(config_file, "gap-fill", env=down)
        fill = await schemahub(config_file, "gap-fill")
        after = unified(config.lake)
        # again, as a one-off container task: configured by the environment alone
        again = await schemahub(None, "gap-fill", env=config_env(config), cwd=tmp_path / "task")
        truth = sim.ground_truth()
        listed = await schemahub(config_file, "gaps", "--audit", "--since", started)

    assert audit.code == 0, audit.err
    report = json.loads(audit.out)
    tails = {(e["venue"], e["symbol"]): e for e in report["entries"] if e["kind"] == "tail"}
    streams = {(s["venue"], s["symbol"]): s for s in report["streams"]}
    assert set(tails) == set(streams) and len(tails) == 6  # every stream traded meanwhile
    for key, tail in tails.items():
        assert tail["first_id"] == streams[key]["high_water"] + 1
    behind = sum(t["ids"] for t in tails.values())

    assert dry.code == 0, dry.err
    assert "plan (dry run, nothing fetched)" in dry.out and "requests" in dry.out

    assert ingest.code == 0, ingest.err
    binance = {k: t for k, t in tails.items() if k[0] == "binance"}
    for key, tail in binance.items():
        assert between[key].high_water == tail["last_id"] and between[key].gaps == ()
    assert {k: s for k, s in between.items() if k[0] != "binance"} == {
        k: s for k, s in before.items() if k[0] != "binance"
    }
    coinbase = sum(t["ids"] for k, t in tails.items() if k[0] == "coinbase")
    added = {n: snapshots_between[n] - snapshots_before[n] for n in snapshots_before}
    assert added == {"trades_unified": 1, "raw_binance_trades": 1, "raw_coinbase_trades": 0}

    assert audit_down.code == 0, audit_down.err
    partial = json.loads(audit_down.out)
    (problem,) = partial["problems"]
    assert problem.startswith("could not ask coinbase for its newest trade id: ")
    # binance's tails were ingested above; coinbase's cannot be known; kraken's are listed
    assert {e["venue"] for e in partial["entries"] if e["kind"] == "tail"} == {"kraken"}
    assert fill_down.code == 3, fill_down.out + fill_down.err
    assert "coinbase BTC-USD: not planned: could not ask coinbase" in fill_down.out
    assert "still open: 0; not planned: 2 streams" in fill_down.out
    assert "NOT all filled" in fill_down.out

    assert fill.code == 0, fill.out + fill.err
    assert "all filled" in fill.out and f"({coinbase} ids)" in fill.out
    assert after.num_rows >= committed + behind
    assert_same_trades(after, truth)

    assert again.code == 0, again.err
    assert "gaps found: 0 (0 ids)" in again.out  # idempotent: nothing left to fetch
    assert listed.code == 0 and "0 streams behind the venue" in listed.out


async def test_run_ingest_and_gap_fill_beside_a_running_daemon_never_double_a_trade(tmp_path):
    from tests.daemon.harness import running, settle

    async with Simulator(SimConfig(seed=42, rate_per_stream=20)) as sim:
        # commits every 4 s: the committed high-water mark trails the venue, so ingest has work
        config = daemon_config(sim, tmp_path / "warehouse", flush={"interval_seconds": 4})
        config_file = write_config(config, tmp_path)
        async with running(config) as daemon:
            await asyncio.sleep(5)
            runs = [await schemahub(config_file, "run", "ingest", "binance", "coinbase", "kraken")]
            await asyncio.sleep(1)
            runs.append(await schemahub(config_file, "run", "pipeline", "trades_unified"))
            fill = await schemahub(config_file, "gap-fill")
            sim.pause()
            await settle(daemon)
            table = unified(config.lake)
        truth = sim.ground_truth()
    for run in runs:
        assert run.code == 0, run.err
        assert "run ingest:" in run.out
    assert "trades_unified: read" in runs[1].out  # the pipeline's unify step ran
    first = runs[0].out.splitlines()[-1]
    assert "run ingest: 0 trades" not in first and "from 6 streams" in first, runs[0].out
    assert fill.code == 0 and "all filled" in fill.out, fill.out + fill.err
    assert_same_trades(table, truth)  # a doubled trade fails here
