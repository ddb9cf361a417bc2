"""Streams split over replicas by rendezvous hashing: every stream once, stable, from config."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from schemahub.config import Config, ShardConfig, load_config
from schemahub.daemon.shards import assignment, configured_streams, own_streams, shard_of
from schemahub.errors import ConfigError
from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import daemon_config, running

STREAMS = [("binance", f"SYM{i}USDT") for i in range(60)] + [
    ("kraken", f"SYM{i}/USD") for i in range(40)
]


def _config(count: int, index: int) -> Config:
    return Config.model_validate(
        {
            "shard": {"count": count, "index": index},
            "venues": {
                "binance": {"symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]},
                "coinbase": {"symbols": ["BTC-USD", "ETH-USD"]},
                "kraken": {"symbols": ["BTC/USD"]},
            },
        }
    )


def test_every_stream_has_exactly_one_owner() -> None:
    for count in (1, 2, 3, 7):
        shards = assignment(STREAMS, count)
        owned = [stream for streams in shards.values() for stream in streams]
        assert sorted(owned) == sorted(STREAMS)


def test_adding_a_symbol_moves_no_other_stream() -> None:
    before = {s: shard_of(*s, 3) for s in STREAMS}
    grown = {s: shard_of(*s, 3) for s in [*STREAMS, ("coinbase", "NEW-USD")]}
    assert {s: grown[s] for s in STREAMS} == before


def test_a_new_shard_takes_streams_only_from_the_others_never_shuffles_them() -> None:
    before = {s: shard_of(*s, 3) for s in STREAMS}
    after = {s: shard_of(*s, 4) for s in STREAMS}
    moved = [s for s in STREAMS if after[s] != before[s]]
    assert moved, "a fourth shard must take some streams"
    assert all(after[s] == 3 for s in moved)


def test_each_replica_keeps_its_own_streams_and_disables_a_venue_left_with_none() -> None:
    whole = configured_streams(_config(1, 0).venues)
    seen = []
    for index in range(3):
        mine = own_streams(_config(3, index))
        streams = configured_streams(mine.venues)
        assert all(shard_of(e, s, 3) == index for e, s in streams)
        for name in ("binance", "coinbase", "kraken"):
            venue = getattr(mine.venues, name)
            assert venue.enabled == bool(venue.symbols)
        seen += streams
    assert sorted(seen) == sorted(whole)


def test_one_shard_owns_everything() -> None:
    config = _config(1, 0)
    assert own_streams(config) is config


def test_shard_comes_from_the_environment_and_a_bad_index_is_one_clear_error() -> None:
    env = {"SCHEMAHUB_SHARD__COUNT": "3", "SCHEMAHUB_SHARD__INDEX": "2"}
    shard = load_config(None, env).shard
    assert (shard.count, shard.index) == (3, 2)
    with pytest.raises(ConfigError, match=r"shard.index must be below shard.count \(3\), got 3"):
        load_config(None, {**env, "SCHEMAHUB_SHARD__INDEX": "3"})
    with pytest.raises(ConfigError, match=r"'shard\.count'"):
        load_config(None, {**env, "SCHEMAHUB_SHARD__COUNT": "0"})


def test_the_shards_command_prints_each_replicas_streams(tmp_path) -> None:
    config = tmp_path / "schemahub.yaml"
    config.write_text("venues: {coinbase: {enabled: false}, kraken: {symbols: [BTC/USD]}}\n")
    env = {**os.environ, "SCHEMAHUB_VENUES__BINANCE__SYMBOLS": "[BTCUSDT, ETHUSDT, SOLUSDT]"}
    run = subprocess.run(
        [sys.executable, "-m", "schemahub.cli", "shards", "--config", str(config), "--count", "2"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["shard 0 of 2", "shard 1 of 2"]
    listed = [s for line in lines for s in line.split(": ", 2)[2].split(", ") if s != "(none)"]
    streams = [("binance", "BTCUSDT"), ("binance", "ETHUSDT"), ("binance", "SOLUSDT")]
    streams.append(("kraken", "BTC/USD"))
    assert sorted(listed) == sorted(f"{e} {s}" for e, s in streams)
    for index, line in enumerate(lines):
        assert all(shard_of(e, s, 2) == index for e, s in streams if f"{e} {s}" in line)
    bad = subprocess.run(
        [sys.executable, "-m", "schemahub.cli", "shards", "--count", "0"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "expected a whole number from 1 to 1024, got '0'" in bad.stderr


def _shard(config: Config, count: int, index: int) -> Config:
    return config.model_copy(update={"shard": ShardConfig(count=count, index=index)})


async def test_a_replica_connects_only_to_its_venues_and_one_with_no_stream_idles_ready(tmp_path):
    async with Simulator(SimConfig(seed=5)) as sim:
        base = daemon_config(sim, tmp_path / "warehouse")
        plans = {i: configured_streams(own_streams(_shard(base, 20, i)).venues) for i in range(20)}
        idle = next(i for i, streams in plans.items() if not streams)
        single = next(i for i, streams in plans.items() if len(streams) == 1)
        async with running(_shard(base, 20, idle)) as daemon:
            await asyncio.sleep(1)
            assert daemon.readiness().ready and daemon.sessions == {}
        async with running(_shard(base, 20, single)) as daemon:
            for _ in range(100):  # bounded wait for the connection
                if daemon.readiness().ready:
                    break
                await asyncio.sleep(0.1)
            assert daemon.readiness().ready, daemon.readiness().reasons
            assert list(daemon.sessions) == [plans[single][0][0]]
            assert daemon.status.venues == (plans[single][0][0],)
