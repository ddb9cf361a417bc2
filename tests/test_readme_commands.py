"""The `schemahub` commands README.md and deploy/README.md tell a user to run, read from their
code blocks (so the READMEs and this test cannot drift): every one names a real command with
options it takes, every concrete one parses as written, and the lake commands of the README's
command list run as written on a fresh embedded lake."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
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
        assert word in subs[0].choices, (
            f"{word!r} is not a command; expected one of {sorted(subs[0].choices)}"
        )
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


DEMO = (
    "make demo",  # README's quick start, offline
    'DEMO_FAULTS="--fault disconnects --fault dropped-runs" make demo',  # demo.sh's comment
)


@pytest.mark.slow
@pytest.mark.parametrize("command", DEMO)
def test_make_demo_fills_the_tables_from_the_simulator(command: str, tmp_path: Path) -> None:
    """`make demo` as written, in a folder laid out as a clone whose `.venv` is installed (this
    interpreter's, so make has nothing to install); Ctrl-C stops the daemon and the simulator.
    The demo listens on its fixed ports (9100-9102, 8080), as the README says."""
    readme = (REPO / "README.md").read_text()
    script = (REPO / "deploy" / "scripts" / "demo.sh").read_text()
    assert "`make demo`" in readme and f"# Faults can be switched on: {DEMO[1]}" in script
    for name in ("Makefile", "requirements-test.lock", "requirements-build.lock",
                 "pyproject.toml", "setup.py", "service", "config", "deploy"):  # fmt: skip
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    (tmp_path / ".venv" / ".installed").touch()  # newer than every prerequisite: no install
    demo = subprocess.Popen(
        ["bash", "-c", command],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        rows = _wait_for_unified_rows(tmp_path / "warehouse", demo)
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C reaches make, the script and the daemon
        output = demo.communicate(timeout=60)[0]  # a hang guard
    assert rows > 0, output
    assert "simulator up; starting the daemon" in output
    for port in (9100, 9101, 9102, 8080):  # nothing left behind
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, (port, output)


def _wait_for_unified_rows(warehouse: Path, demo: subprocess.Popen) -> int:
    """Rows in the demo lake's trades_unified, once its first commit holds some."""
    from sqlalchemy.exc import OperationalError

    from schemahub.config import LakeConfig
    from schemahub.errors import LakeError
    from schemahub.lake import UNIFIED_TABLE, Lake

    for _ in range(600):  # a hang guard: 60 s
        assert demo.poll() is None, demo.communicate()[0]
        if (warehouse / "catalog.db").exists():
            try:
                table = Lake(LakeConfig(warehouse=str(warehouse))).table(UNIFIED_TABLE)
                current = table.current_snapshot()
            except (LakeError, OperationalError):  # tables not made yet; the catalog busy
                current = None
            if current is not None and int(current.summary["total-records"] or 0) > 0:
                return int(current.summary["total-records"])
        time.sleep(0.1)
    return 0


def test_the_quick_start_sets_up_a_fresh_machine_with_make_run_and_make_test() -> None:
    quick = (REPO / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    setup = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)[0]
    commands = [re.sub(r"\s+#.*$", "", line).strip() for line in setup.splitlines()]
    assert commands == ["make run", "make test"]


def test_the_package_table_lists_every_folder_of_the_package() -> None:
    text = (REPO / "README.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)/` \|", text, flags=re.M))
    package = REPO / "service" / "schemahub"
    folders = {p.name for p in package.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == listed, (sorted(folders - listed), sorted(listed - folders))


def _sim_commands() -> list[str]:
    """The README's `schemahub sim` lines, a synopsis's optional part both left out and given."""
    (synopsis,) = [line for line in _commands_block() if line.startswith("schemahub sim ")]
    lag = [line for line in INLINE if line.startswith("schemahub sim ")]
    bare = re.sub(r"\s*\[[^\]]*\]", "", synopsis)
    return [bare, synopsis.replace("[", "").replace("]", ""), *lag]


@pytest.mark.slow
@pytest.mark.parametrize("command", _sim_commands())
def test_the_simulator_commands_serve_the_three_venues_until_ctrl_c(command: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    sim = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready = []
        while len(ready) < 3:
            line = sim.stderr.readline()
            assert line, "the simulator stopped before all three venues were ready"
            if "simulated venue ready" in line:
                ready.append(json.loads(line))
        assert [r["ws_url"].split(":")[-1] for r in ready] == ["9100", "9101", "9102/v2"]
    finally:
        sim.send_signal(signal.SIGINT)  # Ctrl-C
        rest = sim.communicate(timeout=60)[1]  # a hang guard
    assert sim.returncode == 0, rest
    assert "simulator stopped" in rest
