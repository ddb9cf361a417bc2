"""Every `schemahub` command the README's query example and its section on table maintenance,
tags and queries tell a user to run, run exactly as written, in order, on a lake with trades."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from schemahub.lake import UNIFIED_TABLE, Lake
from tests.lake.lakerows import append_commits, day_start, row_fingerprint

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[str]:
    """The command lines of the quick start's query example and of the maintenance section."""
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    section = text.split("## Table maintenance, tags and queries", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick + section, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(".venv/bin/schemahub query")][:1] + [
        line
        for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)
        for line in block.splitlines()
        if line.startswith(".venv/bin/schemahub")
    ]


@pytest.mark.slow
def test_the_readme_commands_run_as_written(lake: Lake, tmp_path: Path):
    append_commits(lake, 8, 25, day_start(2))
    append_commits(lake, 4, 25, day_start(0), first_id=50_000)
    before = row_fingerprint(lake.table(UNIFIED_TABLE).scan().to_arrow())
    work = tmp_path / "cwd"
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "schemahub").symlink_to(Path(sys.executable).parent / "schemahub")
    env = {**os.environ, "SCHEMAHUB_LAKE__WAREHOUSE": lake.config.warehouse}
    commands = readme_commands()
    assert len(commands) == 9, commands

    outputs = []
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout)

    assert outputs[0].splitlines()[0].split() == ["exchange", "symbol", "trades"]
    assert "trades_unified" in outputs[1] and "to rewrite" in outputs[1]  # the dry run's plan
    assert re.search(r"trades_unified trade_ts_day=\S+: 8 files .* -> 1 files", outputs[2])
    assert "(compacted" in outputs[3]  # --horizon 0 takes today's partition too
    assert outputs[5].startswith("before-upgrade\t")
    assert outputs[6].splitlines()[2].strip() == "300"
    table = lake.table(UNIFIED_TABLE)
    assert row_fingerprint(table.scan().to_arrow()) == before
    btc = pacsv.read_csv(work / "btc.csv")
    assert btc.num_rows == 100 and set(btc.column("symbol").to_pylist()) == {"BTCUSDT"}
