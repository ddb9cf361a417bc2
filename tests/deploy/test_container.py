"""The container's command, run as the image would run it, without a container engine.

The Dockerfile's final stage is read (ENTRYPOINT + CMD, ENV, WORKDIR, USER, COPY, HEALTHCHECK)
and replayed on this machine: the image's /opt/venv is `make image-env`'s virtualenv (built
by the same script as the image's build stage: runtime lock only, the project as a wheel,
native extensions required), /app a read-only copy of what the Dockerfile copies there, /data
an empty folder owned by the image's user. The command runs as that numeric user against the
simulator, configured only through SCHEMAHUB_* variables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemahub.config import LakeConfig
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.sim import SimConfig, Simulator
from tests.deploy.dockerfile import FinalStage, final_stage
from tests.deploy.serving import serve_until_committed, sim_env
from tests.moto_server import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
IMAGE_VENV = REPO / ".venv-image"
IMAGE_PYTHON_ROOT = "/opt/venv"  # where the build stage puts the environment (COPY --from)
DATA = "/data"  # the image's writable folder


@pytest.fixture(scope="module")
def stage() -> FinalStage:
    return final_stage(REPO / "Dockerfile")


@pytest.fixture
def image_root(stage: FinalStage) -> Iterator[Path]:
    """A folder standing for the image's file system: app (read-only) and data (the user's)."""
    if not (IMAGE_VENV / ".installed").exists():
        pytest.fail(f"{IMAGE_VENV} is missing: run `make image-env` (`make test` does) first")
    closed = [p for p in IMAGE_VENV.parents if not p.stat().st_mode & stat.S_IXOTH]
    if closed:
        pytest.fail(f"the image's user cannot reach {IMAGE_VENV}: {closed[0]} is closed to others")
    # Not under pytest's tmp_path: that is private to root, and the command runs as another user.
    root = Path(tempfile.mkdtemp(prefix="schemahub-image-"))
    root.chmod(0o755)
    app = root / stage.workdir.lstrip("/")
    for source, dest in stage.context_copies:
        target = root / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(REPO / source, target)
    _read_only(app)
    data = root / DATA.lstrip("/")
    data.mkdir(mode=0o750)
    os.chown(data, *_uid_gid(stage))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_dockerfile_declares_what_the_runtime_test_relies_on(stage: FinalStage) -> None:
    assert stage.entrypoint == ["schemahub"]
    assert stage.cmd[0] == "serve", stage.cmd
    uid, gid = _uid_gid(stage)
    assert uid != 0 and gid != 0, f"USER {stage.user}: expected a numeric non-root uid:gid"
    assert ("build", IMAGE_PYTHON_ROOT, IMAGE_PYTHON_ROOT) in stage.stage_copies
    assert stage.env["PATH"].startswith(f"{IMAGE_PYTHON_ROOT}/bin:")
    assert stage.env["SCHEMAHUB_LAKE__WAREHOUSE"].startswith(f"{DATA}/")
    assert stage.healthcheck, "HEALTHCHECK missing"
    # The image itself gives the user its data folder (the test stands in for it below).
    assert any(DATA in run and f"-o {uid}" in run for run in stage.runs), stage.runs
    # The config file the CMD names is copied into the image.
    config_arg = stage.cmd[stage.cmd.index("--config") + 1]
    assert any(
        (stage.workdir + "/" + config_arg).startswith(dest) for _, dest in stage.context_copies
    ), (config_arg, stage.context_copies)


async def test_the_image_command_starts_ingests_and_stops_cleanly_as_its_user(
    stage: FinalStage, image_root: Path
) -> None:
    port = free_port()
    async with Simulator(SimConfig(seed=12, rate_per_stream=30)) as sim:
        env = {**_image_env(stage, image_root), **sim_env(sim, port)}
        as_user = _as_image_user(stage)
        healthcheck = [*as_user, *_resolve(stage.healthcheck, env)]
        # Before the daemon starts, the health check fails (it is not a check that cannot fail).
        assert _run(healthcheck, env, image_root).returncode != 0
        log_file = image_root / "serve.log"
        with log_file.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *as_user,
                *_resolve(stage.entrypoint + stage.cmd, env),
                cwd=image_root / stage.workdir.lstrip("/"),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

            async def healthcheck_passes() -> None:
                check = await asyncio.to_thread(_run, healthcheck, env, image_root)
                assert check.returncode == 0, check.stderr

            served = await serve_until_committed(process, port, log_file, healthcheck_passes)
        assert served.exit_code == 0, served.log[-3000:]
        assert _run(healthcheck, env, image_root).returncode != 0  # stopped: unhealthy again
    lines = served.json_lines()
    assert next(x for x in lines if x["msg"] == "serving")["frame_decoder"] == "native"
    assert next(x for x in lines if x["msg"] == "stopped")["uncommitted_rows"] == 0
    # The lake is where the image's ENV puts it, in the user's folder, owned by the user.
    warehouse = _host_path(stage.env["SCHEMAHUB_LAKE__WAREHOUSE"], image_root)
    assert (warehouse / "catalog.db").stat().st_uid == _uid_gid(stage)[0]
    rows = Lake(LakeConfig(warehouse=str(warehouse))).table(UNIFIED_TABLE).scan().to_arrow()
    assert rows.num_rows == served.unified_rows_flushed() > 0
    assert set(rows["exchange"].to_pylist()) == {"binance", "coinbase", "kraken"}


def test_a_warehouse_the_user_cannot_write_is_one_clear_error(
    stage: FinalStage, image_root: Path
) -> None:
    # An operator who forgot the data volume and pointed the lake into the read-only /app.
    env = {**_image_env(stage, image_root), "SCHEMAHUB_LAKE__WAREHOUSE": "/app/warehouse"}
    env["SCHEMAHUB_LAKE__WAREHOUSE"] = _on_host(env["SCHEMAHUB_LAKE__WAREHOUSE"], image_root)
    for venue in ("BINANCE", "COINBASE", "KRAKEN"):  # nothing leaves this machine either way
        env[f"SCHEMAHUB_VENUES__{venue}__WS_URL"] = "ws://127.0.0.1:9"
        env[f"SCHEMAHUB_VENUES__{venue}__REST_URL"] = "http://127.0.0.1:9"
    command = [*_as_image_user(stage), *_resolve(stage.entrypoint + stage.cmd, env)]
    run = _run(command, env, image_root / stage.workdir.lstrip("/"))
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("schemahub: error: lake.warehouse "), run.stderr
    assert "Permission denied" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def _uid_gid(stage: FinalStage) -> tuple[int, int]:
    user, _, group = stage.user.partition(":")
    assert user.isdigit() and (not group or group.isdigit()), (
        f"USER {stage.user}: expected numeric uid[:gid], so Kubernetes/ECS can tell it is not root"
    )
    return int(user), int(group or user)


def _as_image_user(stage: FinalStage) -> list[str]:
    uid, gid = _uid_gid(stage)
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run as the image's user; .ci/run installs it"
    return [setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]


def _image_env(stage: FinalStage, root: Path) -> dict[str, str]:
    """The image's ENV with its paths moved to this machine's stand-ins."""
    env = {key: _on_host(value, root) for key, value in stage.env.items()}
    env["HOME"] = str(_host_path(DATA, root))  # the user's home in the image's /etc/passwd
    return env


def _on_host(value: str, root: Path) -> str:
    if IMAGE_PYTHON_ROOT in value:
        value = value.replace(IMAGE_PYTHON_ROOT, str(IMAGE_VENV))
    parts = value.split(":")
    return ":".join(
        str(_host_path(p, root)) if p.startswith((f"{DATA}/", "/app/")) or p == DATA else p
        for p in parts
    )


def _host_path(image_path: str, root: Path) -> Path:
    return root / image_path.lstrip("/")


def _resolve(command: list[str], env: dict[str, str]) -> list[str]:
    """The command with its program looked up on the image's PATH, as the runtime does."""
    program = shutil.which(command[0], path=env["PATH"])
    assert program, f"{command[0]} is not on the image's PATH {env['PATH']}"
    return [program, *command[1:]]


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def _read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) | stat.S_IROTH)
        if path.is_dir():
            path.chmod(path.stat().st_mode | stat.S_IXOTH)
