"""The production lake end to end: ``schemahub serve`` on an S3 warehouse with the Glue catalog.

A moto server on loopback stands in for AWS (S3 and Glue); the simulator serves the venues
with faults on. ``tables init`` (CLI), a daemon reached through endpoints from the config file,
SIGKILL, a restart reached through the standard ``AWS_ENDPOINT_URL`` variable, SIGTERM, then
``run unify`` (CLI): trades_unified, read back through Glue, equals the simulator's ground
truth. Snapshot expiry runs on S3 meanwhile: what it expired is gone from the bucket (manifest
lists and offsets sidecar files), what the kept snapshots reference is all still there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from schemahub.config import Config
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.sidecar import REFERENCE, sidecar_files
from schemahub.sequencing.offsets import OFFSETS_PROPERTY
from schemahub.sim import FaultConfig, SimConfig, SimStats, Simulator
from tests.daemon.harness import assert_same_trades, daemon_config, expected_rows, spawn_serve
from tests.moto_server import s3_client

pytestmark = pytest.mark.slow

BUCKET = "schemahub-lake"
WAREHOUSE = f"s3://{BUCKET}/warehouse"
REGION = "us-east-1"
# 3 x 160 streams: their offsets are over the 4 KB that moves them to a sidecar file.
SYMBOLS = tuple(f"T{i:03d}" for i in range(160))
FAULTS = FaultConfig(
    drop_run_probability=0.005,
    disconnect_probability=0.1,
    duplicate_replay_probability=0.5,
    malformed_probability=0.01,
    unknown_type_probability=0.01,
    rest_429_probability=0.05,
    rest_error_probability=0.02,
)
LAKE = {"snapshot_retention_seconds": 2.0, "maintenance_interval_seconds": 1.0}


@pytest.fixture
def aws_env(monkeypatch, tmp_path, moto_endpoint) -> str:
    """Dummy credentials and region for this process and the commands it starts; no endpoint
    (each step sets its own) and no SchemaHub overrides. The moto bucket exists."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "SCHEMAHUB_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    s3_client(moto_endpoint).create_bucket(Bucket=BUCKET)
    return moto_endpoint


def glue_config(sim: Simulator, endpoint: str | None) -> Config:
    """The daemon's config on Glue + S3: endpoints and region from the file when ``endpoint``
    is given, else nothing but the warehouse (the AWS variables say the rest)."""
    catalog: dict[str, Any] = {"type": "glue"}
    sections: dict[str, Any] = {}
    if endpoint is not None:
        catalog.update(region=REGION, properties={"glue.endpoint": endpoint})
        sections["s3"] = {"endpoint_url": endpoint}
    fast_rest = {"rest_requests_per_second": 200.0}
    venues = {
        name: {**v, **fast_rest}
        for name, v in daemon_config(sim, Path()).model_dump()["venues"].items()
    }
    return daemon_config(
        sim,
        Path(),
        lake={"warehouse": WAREHOUSE, "catalog": catalog, **LAKE},
        flush={"interval_seconds": 1.0},
        venues=venues,
        **sections,
    )


def write_config(config: Config, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "schemahub.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


async def schemahub(config_file: Path, *args: str) -> str:
    """The ``schemahub`` command as a user runs it; its output (it must exit 0)."""
    command = Path(sys.executable).with_name("schemahub")
    process = await asyncio.create_subprocess_exec(
        str(command),
        "--config",
        str(config_file),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 180)  # a hang guard, not a timing
    text = out.decode()
    assert process.returncode == 0, text[-3000:]
    return text


class UnifiedWatch:
    """trades_unified as the test process sees it through Glue: every snapshot ever seen, with
    the manifest list and sidecar files it referenced."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.seen: dict[int, set[str]] = {}

    def look(self) -> Any:
        table = self.lake.table(UNIFIED_TABLE)
        for snapshot in table.metadata.snapshots:
            files = {snapshot.manifest_list, *sidecar_files(table, [snapshot])}
            self.seen.setdefault(snapshot.snapshot_id, files)
        return table

    def expired(self, table: Any) -> dict[int, set[str]]:
        """The snapshots seen before and no longer in ``table``, with their files."""
        kept = {s.snapshot_id for s in table.metadata.snapshots}
        return {sid: files for sid, files in self.seen.items() if sid not in kept}


def faults_happened(stats: SimStats) -> bool:
    """Whether the simulator dropped a websocket, left a run of trades out of one, and failed
    a REST request."""
    rest = sum(stats.rest_errors_injected.values()) + sum(stats.rest_429_injected.values())
    dropped = sum(len(runs) for runs in stats.dropped_runs.values())
    return sum(stats.disconnects.values()) > 0 and dropped > 0 and rest > 0


def offsets_in_sidecar(table: Any) -> bool:
    current = table.current_snapshot()
    summary = current.summary.additional_properties if current and current.summary else {}
    return summary.get(OFFSETS_PROPERTY, "").startswith(REFERENCE)


def referenced_files(table: Any) -> set[str]:
    """Every file the kept snapshots need: manifest lists, sidecars, and the current snapshot's
    manifests and data files."""
    io = table.io
    snapshots = table.metadata.snapshots
    files = {s.manifest_list for s in snapshots} | sidecar_files(table, snapshots)
    for manifest in table.current_snapshot().manifests(io):
        files.add(manifest.manifest_path)
        files.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(io, True))
    return files


def bucket_files(endpoint: str) -> set[str]:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {f"s3://{BUCKET}/{o['Key']}" for page in pages for o in page.get("Contents", [])}


async def wait_for_port(log_file: Path) -> None:
    """Until the daemon logged that it serves (bounded)."""
    for _ in range(600):
        await asyncio.sleep(0.1)
        if any('"msg":"serving"' in line for line in log_file.read_text().splitlines()):
            return
    raise AssertionError(log_file.read_text()[-3000:])


async def poll(what: str, check, seconds: float) -> Any:
    """``check()`` until it returns something true (bounded); its last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        answer = await asyncio.to_thread(check)
        if answer or loop.time() > deadline:
            assert answer, f"{what}: not reached"
            return answer
        await asyncio.sleep(0.5)


def caught_up(watch: UnifiedWatch, truth: pa.Table) -> pa.Table | None:
    """trades_unified once it holds as many rows as it owes (the comparison says the rest)."""
    table = watch.look().scan().to_arrow()
    return table if table.num_rows >= expected_rows(truth, table).num_rows > 0 else None


async def test_daemon_on_glue_and_s3_survives_sigkill_and_equals_the_truth(
    tmp_path, monkeypatch, aws_env
):
    endpoint = aws_env
    sim_config = SimConfig(
        seed=41,
        symbols=SYMBOLS,
        rate_per_stream=1.0,
        faults=FAULTS,
        coinbase_rest_rate=500.0,
        kraken_rest_rate=500.0,
        kraken_rest_burst=500.0,
        binance_weight_limit=1_000_000,
    )
    async with Simulator(sim_config) as sim:
        from_file = glue_config(sim, endpoint)
        from_env = glue_config(sim, None)
        file_config = write_config(from_file, tmp_path / "file")
        env_config = write_config(from_env, tmp_path / "env")
        watch = UnifiedWatch(Lake(from_file.lake, from_file.s3))

        # tables init through the standard variable
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        created = await schemahub(env_config, "tables", "init")
        assert UNIFIED_TABLE in created

        # first daemon: endpoints from the config file only; SIGKILL once it committed offsets
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        with (tmp_path / "first.log").open("wb") as log:
            first = await spawn_serve(from_file, tmp_path / "file", log)
            await wait_for_port(tmp_path / "first.log")
            await poll("offsets in a sidecar", lambda: offsets_in_sidecar(watch.look()), 120)
            first.kill()
            assert await first.wait() == -9

        # second daemon: endpoints from AWS_ENDPOINT_URL; until it expired snapshots it wrote
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        watch.seen = {}  # what the first daemon expired may have died before its deletion
        log_file = tmp_path / "second.log"
        with log_file.open("wb") as log:
            second = await spawn_serve(from_env, tmp_path / "env", log)
            await wait_for_port(log_file)

            def expired_with_sidecar() -> bool:
                return any(len(files) > 1 for files in watch.expired(watch.look()).values())

            await poll("snapshot expiry of a snapshot with a sidecar", expired_with_sidecar, 120)
            await poll("each kind of fault", lambda: faults_happened(sim.stats()), 120)
            sim.pause()
            truth = sim.ground_truth()
            stats = sim.stats()
            await poll("trades_unified caught up", lambda: caught_up(watch, truth), 150)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 120) == 0  # a hang guard, not a timing

        table = watch.look()
        expired = watch.expired(table)
        assert_same_trades(table.scan().to_arrow(), truth)

        # snapshot expiry on S3: expired snapshots' own files gone, every kept reference there
        stored = bucket_files(endpoint)
        assert all(path.startswith(f"{WAREHOUSE}/") for path in referenced_files(table))
        missing = referenced_files(table) - stored
        assert not missing, f"files the table references are gone: {sorted(missing)[:5]}"
        still_there = {f for files in expired.values() for f in files} & stored
        assert expired and not still_there, f"expired files not deleted: {sorted(still_there)}"
        assert any(f.endswith(".txt") for files in expired.values() for f in files)

        # a batch unify on the same Glue catalog (endpoints from the file) adds nothing twice
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        await schemahub(file_config, "run", "unify", UNIFIED_TABLE)
        assert_same_trades(watch.look().scan().to_arrow(), truth)

    lines = [json.loads(x) for x in log_file.read_text().splitlines() if x.startswith("{")]
    assert [x for x in lines if x["msg"] == "stopped"][-1]["uncommitted_rows"] == 0
    # the faults happened, on the websockets and over REST
    assert faults_happened(stats)
