"""Running ``schemahub`` commands as child processes (the simulator keeps serving meanwhile)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from schemahub.config import Config


@dataclass(frozen=True)
class Finished:
    """A finished command: its exit code and output."""

    code: int
    out: str
    err: str


def config_env(config: Config) -> dict[str, str]:
    """The ``SCHEMAHUB_*`` variables that configure the lake and the venues' endpoints: how a
    one-off container task is configured, with no file."""
    env = {"SCHEMAHUB_LAKE__WAREHOUSE": config.lake.warehouse}
    for name, venue in config.venues.enabled().items():
        prefix = f"SCHEMAHUB_VENUES__{name.upper()}__"
        env[prefix + "REST_URL"] = venue.rest_url
        env[prefix + "WS_URL"] = venue.ws_url
        env[prefix + "SYMBOLS"] = json.dumps(venue.symbols)
    return env


def write_config(config: Config, folder: Path) -> Path:
    """``config`` as the YAML file a user would pass with ``--config``."""
    path = folder / "schemahub.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


async def schemahub(
    config_file: Path | None,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 240,
) -> Finished:
    """``schemahub --config FILE ARGS...`` (as ``python -m schemahub.cli``; without a file, the
    config comes from the environment alone), awaited without blocking the event loop the
    simulator runs on."""
    config = ["--config", str(config_file)] if config_file is not None else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemahub.cli",
        *config,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)  # a hang guard
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())
