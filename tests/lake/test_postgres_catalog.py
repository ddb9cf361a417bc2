"""PostgreSQL as the Iceberg SQL catalog: a real server from Debian's packages on loopback
(the ``postgres_uri`` fixture in tests/conftest.py starts it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemahub.config import CatalogConfig, LakeConfig
from schemahub.lake import UNIFIED_TABLE, Lake, TableChange
from schemahub.lake.catalog import open_catalog
from schemahub.lake.writer import commit_append
from tests.lake.test_tables import unified_rows

pytestmark = pytest.mark.slow


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


def test_a_replica_that_loses_the_catalog_creation_race_opens_it_again(postgres_uri, tmp_path):
    """Replicas starting together on a fresh PostgreSQL catalog all create pyiceberg's tables;
    one whose CREATE waits on another's uncommitted one gets a unique violation, then opens."""
    import threading

    import sqlalchemy
    from pyiceberg.catalog.sql import SqlCatalogBaseTable

    server = postgres_uri.rsplit("/", 1)[0]
    admin = sqlalchemy.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text("CREATE DATABASE race"))
    admin.dispose()
    uri = f"{server}/race"
    # The other replica: its catalog tables created, not yet committed.
    other = sqlalchemy.create_engine(uri).connect()
    transaction = other.begin()
    SqlCatalogBaseTable.metadata.create_all(other)
    committed = threading.Timer(1.0, transaction.commit)
    committed.start()
    try:
        config = LakeConfig(
            warehouse=str(tmp_path / "warehouse"),
            catalog=CatalogConfig(type="sql", uri=uri),
        )
        catalog = open_catalog(config)
        catalog.create_namespace("after_the_race")
        assert ("after_the_race",) in catalog.list_namespaces()
    finally:
        committed.join()
        other.close()
