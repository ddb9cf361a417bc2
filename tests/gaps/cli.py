"""Running ``schemahub`` commands as child processes (the simulator keeps serving meanwhile)."""

from __future__ import annotations

import asyncio
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


def write_config(config: Config, folder: Path) -> Path:
    """``config`` as the YAML file a user would pass with ``--config``."""
    path = folder / "schemahub.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


async def schemahub(config_file: Path, *args: str, timeout: float = 240) -> Finished:
    """``schemahub --config FILE ARGS...`` (as ``python -m schemahub.cli``), awaited without
    blocking the event loop the simulator runs on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemahub.cli",
        "--config",
        str(config_file),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)  # a hang guard
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())
