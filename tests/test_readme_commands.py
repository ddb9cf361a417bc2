"""The `schemahub` commands README.md and deploy/README.md tell a user to run, read from their
code blocks (so the READMEs and this test cannot drift): every one names a real command with
options it takes, every concrete one parses as written, and the lake commands of the README's
command list run as written on a fresh embedded lake."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from schemahub.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
READMES = (REPO / "README.md", REPO / "deploy" / "README.md")


def _command_lines(path: Path) -> list[str]:
    """Each `schemahub ...` line of the file's ``sh`` blocks, without its comment, environment
    assignments or `.venv/bin/` prefix."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            line = re.sub(r"^(\w+='[^']*'\s+)+", "", line)  # SCHEMAHUB_...='...' assignments
            line = line.removeprefix(".venv/bin/")
            if line.startswith("schemahub "):
                lines.append(line)
    return lines


def _inline_commands(path: Path) -> list[str]:
    """The `schemahub ...` commands quoted inline in the file's text."""
    return re.findall(r"`(schemahub [^`]+)`", path.read_text(encoding="utf-8"))


COMMANDS = [line for path in READMES for line in _command_lines(path)]
INLINE = [line for path in READMES for line in _inline_commands(path)]


def _commands_block() -> list[str]:
    """The lines of the README's `## Commands` block."""
    section = (REPO / "README.md").read_text().split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)[:1]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def _leaf(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser the leading command words select; fails on an unknown command."""
    for word in words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            break
        assert word in subs[0].choices, f"{word!r} is not a command; expected {subs[0].choices}"
        parser = subs[0].choices[word]
    return parser


def test_the_readmes_list_the_commands_this_test_checks() -> None:
    assert len(COMMANDS) >= 30 and len(INLINE) >= 20, (COMMANDS, INLINE)
    assert "schemahub tables init" in COMMANDS
    assert any(c.startswith("schemahub shards") for c in COMMANDS)  # deploy/README.md's


@pytest.mark.parametrize("line", COMMANDS + INLINE)
def test_each_command_names_a_real_command_and_its_options(line: str) -> None:
    line = re.sub(r"--(config|log-level) \S+", "", line).replace("...", "")  # global options
    words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))[1:]
    leaf = _leaf(build_parser(), [w for w in words if not w.startswith("-")])
    for word in words:
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            assert flag in leaf._option_string_actions, f"{line}: {flag} is not an option"


@pytest.mark.parametrize("line", [c for c in COMMANDS if "[" not in c and "..." not in c])
def test_each_concrete_command_parses_as_written(line: str) -> None:
    args = build_parser().parse_args(shlex.split(line)[1:])  # argparse exits on a bad line
    assert callable(args.handler)


@pytest.mark.slow
def test_the_lake_commands_of_the_command_list_run_as_written(tmp_path: Path) -> None:
    block = _commands_block()
    init = "schemahub tables init"
    unify = "schemahub run unify trades_unified [--full]"
    assert init in block and unify in block
    # the synopsis stands for both of its forms; each is run as a user types it
    written = [init, unify.removesuffix(" [--full]"), unify.replace("[--full]", "--full")]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "SCHEMAHUB_LAKE__WAREHOUSE": str(tmp_path / "warehouse"),
    }
    outputs = []
    for command in [*written, init, "schemahub tables list"]:
        done = subprocess.run(
            ["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout)
    assert "schemahub.trades_unified: created" in outputs[0], outputs[0]
    assert "created" not in outputs[3]  # init is idempotent
    listed = outputs[4]
    assert "schemahub.trades_unified\t0 rows\t" in listed
    assert str(tmp_path / "warehouse") in listed
