"""PostgreSQL as the Iceberg SQL catalog: a real server from Debian's packages on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from schemahub.config import CatalogConfig, LakeConfig
from schemahub.lake import UNIFIED_TABLE, Lake, TableChange
from schemahub.lake.writer import commit_append
from tests.lake.test_tables import unified_rows

pytestmark = pytest.mark.slow


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


def postgres_lake(uri: str, warehouse: Path) -> Lake:
    return Lake(LakeConfig(warehouse=str(warehouse), catalog=CatalogConfig(type="sql", uri=uri)))


def test_postgres_catalog_creates_commits_and_reads_back(postgres_uri, tmp_path):
    lake = postgres_lake(postgres_uri, tmp_path / "warehouse")
    assert lake.init()[UNIFIED_TABLE] is TableChange.CREATED
    assert set(lake.init().values()) == {TableChange.UNCHANGED}

    commit_append(lake.table(UNIFIED_TABLE), lambda _t: (unified_rows(range(7)), {"k": "v"}))

    # A second process-like client sees the same catalog state.
    again = postgres_lake(postgres_uri, tmp_path / "warehouse").table(UNIFIED_TABLE)
    assert sorted(again.scan().to_arrow()["trade_id"].to_pylist()) == list(range(7))
    assert not (tmp_path / "warehouse" / "catalog.db").exists()  # no SQLite file was used
