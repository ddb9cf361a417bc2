"""The catalogs the lake opens commit as pyiceberg's do: another writer's commit is seen, a
conflicting one is refused, and known metadata files are not read again."""

from __future__ import annotations

import pytest
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io import pyarrow as iceberg_arrow

from schemahub.config import LakeConfig
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.append import append_table
from schemahub.lake.lean_catalog import LeanSqlCatalog
from tests.lake.test_tables import unified_rows


def ids(lake: Lake) -> list[int]:
    return sorted(lake.table(UNIFIED_TABLE).scan().to_arrow()["trade_id"].to_pylist())


def test_the_embedded_catalog_is_the_lean_one(lake):
    assert isinstance(lake.catalog, LeanSqlCatalog)


def test_a_commit_by_another_process_is_seen_and_a_stale_one_refused(lake, tmp_path):
    other = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))  # its own catalog object
    stale = lake.table(UNIFIED_TABLE)
    append_table(other.table(UNIFIED_TABLE), unified_rows([1, 2]), {})
    assert ids(lake) == [1, 2]  # the pointer moved: the new metadata file is read
    with pytest.raises(CommitFailedException):
        append_table(stale, unified_rows([3]), {})  # staged on the old head
    append_table(lake.table(UNIFIED_TABLE), unified_rows([3]), {})
    assert ids(other) == [1, 2, 3]
    assert ids(lake) == [1, 2, 3]


def test_metadata_the_catalog_wrote_is_not_read_back(lake, monkeypatch):
    table = lake.table(UNIFIED_TABLE)
    append_table(table, unified_rows([1]), {})
    reads: list[str] = []
    original = iceberg_arrow.PyArrowFileIO.new_input

    def counted(self, location: str):
        if location.endswith(".metadata.json"):
            reads.append(location)
        return original(self, location)

    monkeypatch.setattr(iceberg_arrow.PyArrowFileIO, "new_input", counted)
    for n in range(2, 5):
        append_table(lake.table(UNIFIED_TABLE), unified_rows([n]), {})
    assert reads == []
    fresh = Lake(lake.config)  # a new process knows nothing: it reads the file once
    assert sorted(fresh.table(UNIFIED_TABLE).scan().to_arrow()["trade_id"].to_pylist()) == [
        1, 2, 3, 4,
    ]  # fmt: skip
    assert len(reads) == 1
