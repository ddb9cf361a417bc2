"""Fixtures of the batch commands' tests: a simulator holding REST history, a moto S3 bucket,
and the commands run as a user runs them (a separate process, real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow.compute as pc
import pytest

from schemahub.sim import SimConfig, Simulator
from tests.moto_server import s3_client

REPO = Path(__file__).resolve().parents[2]
VENUE_ENV = {"binance": "BINANCE", "coinbase": "COINBASE", "kraken": "KRAKEN"}


@pytest.fixture
async def history_sim() -> AsyncIterator[Simulator]:
    """BTC and ETH on every venue, with 60 s of history (about 1,200 trades a stream) already
    held when it starts, 20 trades a second a stream after that. Coinbase REST allows 40
    requests a second (the clients are told 30, see :func:`cli_env`) to keep tests short."""
    config = SimConfig(rate_per_stream=20.0, seed=11, history_seconds=60.0, coinbase_rest_rate=40.0)
    async with Simulator(config) as running:
        yield running


def fast_config(**settings: object) -> SimConfig:
    """A simulator config whose REST limits are raised on every venue, so a test walks its
    history in seconds; ``settings`` set the rest (rates, depth, symbols, seed)."""
    raised = dict(
        coinbase_rest_rate=500.0,
        kraken_rest_rate=500.0,
        kraken_rest_burst=500.0,
        binance_weight_limit=1_000_000,
    )
    return SimConfig(**{**raised, **settings})  # type: ignore[arg-type]


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    """A fresh, empty bucket on the moto server."""
    name = f"schemahub-{uuid.uuid4().hex[:12]}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    return name


def cli_env(sim: Simulator, endpoint: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment a user would set: AWS credentials and endpoint, venue URLs pointing
    at the simulator, and an embedded lake in ``workdir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEMAHUB_", "AWS_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        PYTHONPATH=os.pathsep.join([str(REPO / "service"), str(REPO)]),
        SCHEMAHUB_LAKE__WAREHOUSE=str(workdir / "warehouse"),
        SCHEMAHUB_MAPPINGS_DIR=str(REPO / "config" / "mappings"),
    )
    for venue, upper in VENUE_ENV.items():
        env[f"SCHEMAHUB_VENUES__{upper}__REST_URL"] = sim.rest_url(venue)
    env["SCHEMAHUB_VENUES__COINBASE__REST_REQUESTS_PER_SECOND"] = "30"
    env.update(extra)
    return env


@dataclass
class Ran:
    """A finished command."""

    code: int
    out: str
    err: str


def command(line: str) -> list[str]:
    """A command line as the README writes it, run with this interpreter."""
    words = shlex.split(line)
    if words[0] == "schemahub":
        return [sys.executable, "-m", "schemahub.cli", *words[1:]]
    if words[:3] == ["python3", "-m", "schemahub.cli"]:
        return [sys.executable, *words[1:]]
    raise AssertionError(f"not a schemahub command: {line}")


async def start(line: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """Start a command; the simulator keeps serving from this event loop meanwhile."""
    return await asyncio.create_subprocess_exec(
        *command(line),
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(line: str, env: dict[str, str], cwd: Path, timeout: float = 240.0) -> Ran:
    """Run a command to its end."""
    proc = await start(line, env, cwd)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def s3_objects(endpoint: str, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under ``prefix``, by key."""
    client = s3_client(endpoint)
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return out


def jsonl_records(objects: dict[str, bytes]) -> list[dict]:
    """Every record of every ``.jsonl`` object."""
    return [
        orjson.loads(line)
        for key, body in objects.items()
        if key.endswith(".jsonl")
        for line in body.splitlines()
        if line.strip()
    ]


def truth_ids(sim: Simulator, venue: str, symbol: str) -> list[int]:
    """One stream's trade ids in the simulator's ground truth, ascending."""
    truth = sim.ground_truth()
    mask = pc.and_(pc.equal(truth["exchange"], venue), pc.equal(truth["symbol"], symbol))
    return sorted(truth.filter(mask)["trade_id"].to_pylist())
