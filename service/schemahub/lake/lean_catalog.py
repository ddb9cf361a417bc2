"""The SQL and Glue catalogs with two costs of every commit taken out.

A pyiceberg catalog commits a table update in three steps: it loads the table as the catalog
points at it now (for SQL: the row, then the metadata file it names, read and parsed), stages
the updates on that metadata (``update_table_metadata``, which ends in a deep copy of the whole
metadata), then writes the new metadata file and moves the pointer if nobody else did. For a
daemon that commits two or three tables every flush, the re-read and the deep copy were a third
of a small commit's CPU on a new table, and both grow with the snapshots a table keeps.

- Staging uses :func:`schemahub.lake.append.committed_metadata`: the same metadata without
  the deep copy.
- The SQL catalog keeps the metadata of the last few metadata files it wrote or read, by
  location. A metadata file is never rewritten (every commit writes a new one, under a new
  name), so the row still naming a location we hold means the file holds exactly that
  metadata, and it is not read again. The pointer itself is still read from the database on
  every load and checked on every commit, so another writer's commit is seen as before.

Everything else (requirements, the optimistic pointer swap, conflicts) is pyiceberg's own code.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.table import CommitTableResponse, StagedTable, Table
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import TableRequirement, TableUpdate
from pyiceberg.typedef import Identifier

from schemahub.lake.append import committed_metadata

_KNOWN_METADATA = 32  # metadata files remembered: one or two per table this process writes


class LeanStaging:
    """Mixin for a pyiceberg metastore catalog: stage commits without the deep copy."""

    def _update_and_stage_table(
        self,
        current_table: Table | None,
        table_identifier: Identifier,
        requirements: tuple[TableRequirement, ...],
        updates: tuple[TableUpdate, ...],
    ) -> StagedTable:
        if current_table is None:  # a table being created: pyiceberg validates it in full
            return super()._update_and_stage_table(  # type: ignore[misc]
                current_table, table_identifier, requirements, updates
            )
        for requirement in requirements:
            requirement.validate(current_table.metadata)
        metadata = committed_metadata(
            current_table.metadata, updates, current_table.metadata_location
        )
        version = self._parse_metadata_version(current_table.metadata_location) + 1  # type: ignore[attr-defined]
        location = load_location_provider(
            metadata.location, metadata.properties
        ).new_table_metadata_file_location(version)
        return StagedTable(
            identifier=table_identifier,
            metadata=metadata,
            metadata_location=location,
            io=self._load_file_io(properties=metadata.properties, location=location),  # type: ignore[attr-defined]
            catalog=self,  # type: ignore[arg-type]
        )


class LeanSqlCatalog(LeanStaging, SqlCatalog):
    """:class:`SqlCatalog` (SQLite, PostgreSQL) with lean staging and known metadata files."""

    def __init__(self, name: str, **properties: Any) -> None:
        super().__init__(name, **properties)
        self._known: OrderedDict[str, TableMetadata] = OrderedDict()
        self._known_lock = threading.Lock()  # the commit thread and start-up or checks share it

    def commit_table(
        self,
        table: Table,
        requirements: tuple[TableRequirement, ...],
        updates: tuple[TableUpdate, ...],
    ) -> CommitTableResponse:
        response = super().commit_table(table, requirements, updates)
        self._remember(response.metadata_location, response.metadata)
        return response

    def _convert_orm_to_iceberg(self, orm_table: IcebergTables) -> Table:
        known = self._recall(orm_table.metadata_location or "")
        if known is None:
            table = super()._convert_orm_to_iceberg(orm_table)
            self._remember(table.metadata_location, table.metadata)
            return table
        namespace = Catalog.identifier_to_tuple(orm_table.table_namespace)
        return Table(
            identifier=(*namespace, orm_table.table_name),
            metadata=known,
            metadata_location=orm_table.metadata_location,
            io=self._load_file_io(known.properties, orm_table.metadata_location),
            catalog=self,
        )

    def _recall(self, location: str) -> TableMetadata | None:
        with self._known_lock:
            known = self._known.get(location)
            if known is not None:
                self._known.move_to_end(location)
            return known

    def _remember(self, location: str, metadata: TableMetadata) -> None:
        with self._known_lock:
            self._known[location] = metadata
            self._known.move_to_end(location)
            while len(self._known) > _KNOWN_METADATA:
                self._known.popitem(last=False)


class LeanGlueCatalog(LeanStaging, GlueCatalog):
    """:class:`GlueCatalog` with lean staging."""
