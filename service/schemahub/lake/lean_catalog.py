"""The SQL and Glue catalogs with two costs of every commit taken out.

A pyiceberg catalog commits a table update in three steps: it loads the table as the catalog
points at it now (for SQL: the row, then the metadata file it names, read and parsed), stages
the updates on that metadata (``update_table_metadata``, which ends in a deep copy of the whole
metadata), then writes the new metadata file and moves the pointer if nobody else did. For a
daemon that commits two or three tables every flush, the re-read and the deep copy were a third
of a small commit's CPU on a new table, and both grow with the snapshots a table keeps.

- Staging uses :func:`schemahub.lake.pyiceberg_private.committed_metadata`: the same metadata
  without the deep copy.
- The SQL catalog keeps the metadata of the last few metadata files it wrote or read, by
  location. A metadata file is never rewritten (every commit writes a new one, under a new
  name), so the row still naming a location we hold means the file holds exactly that
  metadata, and it is not read again. The pointer itself is still read from the database on
  every load and checked on every commit, so another writer's commit is seen as before.

Everything else (requirements, the optimistic pointer swap, conflicts) is pyiceberg's own code.
The overrides of pyiceberg's private catalog methods that make both possible
(:class:`~schemahub.lake.pyiceberg_private.LeanStaging` and
:class:`~schemahub.lake.pyiceberg_private.SqlCatalogLoadHook`) live in
:mod:`schemahub.lake.pyiceberg_private`, the one module that touches pyiceberg internals; this
one only decides which metadata to keep.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import TableRequirement, TableUpdate

from schemahub.lake.pyiceberg_private import LeanStaging, SqlCatalogLoadHook

_KNOWN_METADATA = 32  # metadata files remembered: one or two per table this process writes


class LeanSqlCatalog(LeanStaging, SqlCatalogLoadHook):
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
        self.metadata_read(response.metadata_location, response.metadata)
        return response

    def known_metadata(self, location: str) -> TableMetadata | None:
        """The metadata of the file at ``location`` if this catalog wrote or read it lately."""
        with self._known_lock:
            known = self._known.get(location)
            if known is not None:
                self._known.move_to_end(location)
            return known

    def metadata_read(self, location: str, metadata: TableMetadata) -> None:
        """Remember the metadata of the file at ``location`` (written or read), dropping the
        least recently used beyond the last few."""
        with self._known_lock:
            self._known[location] = metadata
            self._known.move_to_end(location)
            while len(self._known) > _KNOWN_METADATA:
                self._known.popitem(last=False)


class LeanGlueCatalog(LeanStaging, GlueCatalog):
    """:class:`GlueCatalog` with lean staging."""
