"""Fixtures shared by the whole suite: a fresh embedded lake, DuckDB as an independent reader,
and the real venue recordings kept in tests/data/recorded."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from schemahub.config import LakeConfig
from schemahub.lake import Lake
from tests.moto_server import moto_server

REPO = Path(__file__).resolve().parents[1]
RECORDED = REPO / "tests" / "data" / "recorded"


@pytest.fixture
def recorded() -> Path:
    """The folder of real venue recordings (copied into the repository with their licence)."""
    if not RECORDED.is_dir():
        pytest.fail(f"real recordings not found at {RECORDED}")
    return RECORDED


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """A fresh embedded lake (SQLite catalog + local warehouse) with every table created."""
    lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
    lake.init()
    return lake


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto server (S3, Glue, ...) on a free port of 127.0.0.1, for the module's tests."""
    try:
        with moto_server() as endpoint:
            yield endpoint
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def duckdb_con():
    """A DuckDB connection with the iceberg extension loaded from its PyPI package (no network)."""
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_unsigned_extensions": True,
        }
    )
    for module in (duckdb_extension_avro, duckdb_extension_iceberg):
        folder = os.path.dirname(module.__file__)
        (extension,) = glob.glob(os.path.join(folder, "extensions", "*", "*.duckdb_extension"))
        con.execute(f"LOAD '{extension}'")
    yield con
    con.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so drop to the packaged user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@pytest.fixture(scope="module")
def postgres_uri():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.fail(
            "PostgreSQL is not installed (Debian package `postgresql`; .ci/run installs it)"
        )
    bin_dir = Path(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="schemahub-pg-"))
    data = root / "data"
    port = _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    run = lambda *a: subprocess.run(_as_postgres(list(a)), check=True, capture_output=True)  # noqa: E731
    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k {root}",
        "-l",
        str(root / "log"),
        "start",
    )
    try:
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "lake")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/lake"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)
