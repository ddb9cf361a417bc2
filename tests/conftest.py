"""Fixtures shared by the whole suite: a fresh embedded lake, DuckDB as an independent reader,
and the real venue recordings kept in tests/data/recorded."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from schemahub.config import LakeConfig
from schemahub.lake import Lake
from tests.moto_server import moto_server
from tests.postgres import postgres_server

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


@pytest.fixture(scope="module")
def postgres_uri():
    """A throwaway PostgreSQL server's database ``lake`` (tests/postgres.py), trusted logins."""
    with postgres_server() as server:
        yield f"postgresql+psycopg2://postgres@{server}/lake"
