"""PostgreSQL as the Iceberg SQL catalog: a real server from Debian's packages on loopback
(the ``postgres_uri`` fixture in tests/conftest.py starts it)."""

from __future__ import annotations

import threading
import time
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


def fresh_database(postgres_uri: str, name: str) -> str:
    """A new empty database on the test server; its URI."""
    import sqlalchemy

    server = postgres_uri.rsplit("/", 1)[0]
    admin = sqlalchemy.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{server}/{name}"


def open_after_the_race(uri: str, warehouse: Path) -> None:
    """open_catalog on ``uri`` succeeds and the catalog works."""
    config = LakeConfig(warehouse=str(warehouse), catalog=CatalogConfig(type="sql", uri=uri))
    catalog = open_catalog(config)
    catalog.create_namespace("after_the_race")
    assert ("after_the_race",) in catalog.list_namespaces()


def when_a_backend_waits_on_a_lock(uri: str, then) -> threading.Thread:
    """A thread that runs ``then()`` once some backend of the server waits on a lock (what a
    replica's CREATE does behind another's uncommitted one); no timer decides it."""
    import sqlalchemy

    watcher = sqlalchemy.create_engine(uri, isolation_level="AUTOCOMMIT")

    def watch() -> None:
        waiting = sqlalchemy.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        with watcher.connect() as conn:
            while not conn.execute(waiting).scalar():
                time.sleep(0.02)
        then()
        watcher.dispose()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_a_replica_whose_create_waited_on_another_opens_the_catalog_again(postgres_uri, tmp_path):
    """The other replica's catalog tables are created, not committed; our CREATE waits on them
    and gets a unique violation when they commit; open_catalog opens the catalog again."""
    import sqlalchemy
    from pyiceberg.catalog.sql import SqlCatalogBaseTable

    uri = fresh_database(postgres_uri, "race_unique")
    other = sqlalchemy.create_engine(uri).connect()
    transaction = other.begin()
    SqlCatalogBaseTable.metadata.create_all(other)
    committed = when_a_backend_waits_on_a_lock(uri, transaction.commit)
    try:
        open_after_the_race(uri, tmp_path / "warehouse")
    finally:
        committed.join()
        other.close()


def test_a_replica_that_finds_a_table_created_after_its_check_opens_the_catalog_again(
    postgres_uri, tmp_path
):
    """Our replica checked both catalog tables absent; while its first CREATE waits on another
    replica's uncommitted one, a third replica commits the second table, and the waited-on one
    rolls back: our second CREATE finds its table there (duplicate table); open_catalog opens
    the catalog again."""
    import sqlalchemy
    from pyiceberg.catalog.sql import IcebergNamespaceProperties, IcebergTables

    uri = fresh_database(postgres_uri, "race_duplicate")
    holder = sqlalchemy.create_engine(uri).connect()
    transaction = holder.begin()
    IcebergTables.__table__.create(holder)
    third = sqlalchemy.create_engine(uri)

    def third_commits_then_holder_rolls_back() -> None:
        IcebergNamespaceProperties.__table__.create(third)
        transaction.rollback()

    moved = when_a_backend_waits_on_a_lock(uri, third_commits_then_holder_rolls_back)
    try:
        open_after_the_race(uri, tmp_path / "warehouse")
    finally:
        moved.join()
        holder.close()
        third.dispose()
