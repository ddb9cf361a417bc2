"""``--config`` and ``--log-level`` are taken before or after the subcommand, at any depth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemahub.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "a.yaml", "--log-level", "DEBUG", "serve"],
        ["serve", "--config", "a.yaml", "--log-level", "DEBUG"],
        ["--log-level", "DEBUG", "serve", "--config", "a.yaml"],
        ["tables", "--config", "a.yaml", "list", "--log-level", "DEBUG"],
    ],
)
def test_global_options_parse_anywhere(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.config == "a.yaml"
    assert args.log_level == "DEBUG"


def test_a_value_before_the_command_is_kept_when_the_command_omits_it() -> None:
    args = build_parser().parse_args(["--config", "a.yaml", "tables", "list"])
    assert args.config == "a.yaml"
    assert args.log_level is None


def test_an_impossible_log_level_after_the_command_is_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--log-level", "LOUD"])
    assert exit_info.value.code == 2
    assert "--log-level" in capsys.readouterr().err


def _tables_list(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemahub.cli", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_config_after_the_subcommand_names_the_lake(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text(f"lake:\n  warehouse: {tmp_path / 'lake'}\n")
    init = _tables_list(tmp_path, "tables", "init", "--config", str(config))
    assert init.returncode == 0, init.stderr
    after = _tables_list(tmp_path, "tables", "list", "--config", str(config))
    before = _tables_list(tmp_path, "--config", str(config), "tables", "list")
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    assert str(tmp_path / "lake") in after.stdout
    assert "schemahub.trades_unified\t0 rows" in after.stdout
