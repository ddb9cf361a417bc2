"""Every use of pyiceberg's private internals, in one place (written against pyiceberg 0.12.0).

The rest of ``service/`` uses pyiceberg's public API only and calls the small functions and
classes below. A pyiceberg upgrade can rename, re-sign or remove any of these without notice:
``tests/lake/test_pyiceberg_private.py`` checks every private name listed in
:data:`PRIVATE_SIGNATURES` and :data:`PRIVATE_ATTRIBUTES` (it exists, with the parameters it
had), that the pyiceberg code mirrored here still does what :data:`MIRRORED_CALLS` says, and
that no other module of ``service/`` touches a pyiceberg private name. When it fails, revisit
this module against the new version's code.

Why each is needed (pyiceberg 0.12.0 has no public API for any of them):

- An append with its own data files (:mod:`schemahub.lake.append`): ``Transaction.append``
  always writes the files itself; :func:`append_producer` opens the same fast-append producer
  (``Transaction._append_snapshot_producer``), so the files our writer made go into one
  snapshot; :func:`check_arrow_schema_compatible` and
  :func:`dataframe_to_data_files` are the schema check and the file writer
  ``Transaction.append`` runs (``pyiceberg.io.pyarrow``'s ``_check_pyarrow_schema_compatible``
  and ``_dataframe_to_data_files``), for the rows our writer does not handle.
- Writer options (:mod:`schemahub.lake.datafiles`): :func:`parquet_writer_kwargs` is the
  table-properties-to-Parquet-options mapping pyiceberg's own writer uses
  (``_get_parquet_writer_kwargs``), so our files are written with the same settings.
- Metadata without the deep copy: ``Transaction.table_metadata`` and ``update_table_metadata``
  deep-copy the whole table metadata on every call (a third of a small commit's CPU, growing
  with the snapshots kept). :class:`LeanTransaction` (reads ``Transaction._table`` and
  ``_updates``), :func:`staged_view` and :func:`committed_metadata` replay the updates with
  ``_apply_table_update``, ``_TableMetadataUpdateContext`` and ``_update_table_metadata_log``
  as ``update_table_metadata`` does, minus the copy.
- Catalog commits (:mod:`schemahub.lake.lean_catalog`): :class:`LeanStaging` overrides
  ``MetastoreCatalog._update_and_stage_table`` (the staging step, no public hook) and calls
  ``_parse_metadata_version`` and ``_load_file_io`` as it does; :class:`SqlCatalogLoadHook`
  overrides ``SqlCatalog._convert_orm_to_iceberg`` (where a load reads the metadata file) so a
  subclass can hand it metadata it already holds.
- Raw snapshot updates (:mod:`schemahub.lake.maintenance`): :func:`apply_updates`
  (``Transaction._apply``) commits a ``RemoveSnapshotsUpdate`` guarded by a ref requirement;
  the public ``ExpireSnapshots`` takes no requirement on the head.
- A replace commit (:mod:`schemahub.lake.replace`): :func:`replace_producer` subclasses the
  ``_OverwriteFiles`` producer (the only one that deletes exactly the files it is given and
  refuses a file that is no longer live), overriding ``_summary`` (to say ``replace``) and
  ``_validate_concurrency``; :func:`mark_sorted` sets a DataFile's ``sort_order_id``, which the
  record only exposes by position.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    _check_pyarrow_schema_compatible,
    _dataframe_to_data_files,
    _get_parquet_writer_kwargs,
)
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import StagedTable, Table, Transaction
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Operation, Summary
from pyiceberg.table.update import (
    TableRequirement,
    TableUpdate,
    _apply_table_update,
    _TableMetadataUpdateContext,
    _update_table_metadata_log,
)
from pyiceberg.table.update.snapshot import _FastAppendFiles, _OverwriteFiles
from pyiceberg.typedef import Identifier, TableVersion
from pyiceberg.utils.datetime import datetime_to_millis

WRITTEN_AGAINST = "0.12.0"

# (dotted path, its signature without annotations) of every private callable used here, as in
# pyiceberg WRITTEN_AGAINST (a method is read on the class named, inherited or not).
PRIVATE_SIGNATURES: tuple[tuple[str, str], ...] = (
    (
        "pyiceberg.table.Transaction._append_snapshot_producer",
        "(self, snapshot_properties, branch='main')",
    ),
    ("pyiceberg.table.Transaction._apply", "(self, updates, requirements=())"),
    (
        "pyiceberg.io.pyarrow._check_pyarrow_schema_compatible",
        "(requested_schema, provided_schema, downcast_ns_timestamp_to_us=False, format_version=2)",
    ),
    (
        "pyiceberg.io.pyarrow._dataframe_to_data_files",
        "(table_metadata, df, io, write_uuid=None, counter=None)",
    ),
    ("pyiceberg.io.pyarrow._get_parquet_writer_kwargs", "(table_properties)"),
    ("pyiceberg.table.update._apply_table_update", "(update, base_metadata, context)"),
    ("pyiceberg.table.update._TableMetadataUpdateContext", "()"),
    (
        "pyiceberg.table.update._update_table_metadata_log",
        "(base_metadata, metadata_location, last_updated_ms)",
    ),
    (
        "pyiceberg.catalog.MetastoreCatalog._update_and_stage_table",
        "(self, current_table, table_identifier, requirements, updates)",
    ),
    ("pyiceberg.catalog.MetastoreCatalog._parse_metadata_version", "(metadata_location)"),
    ("pyiceberg.catalog.Catalog._load_file_io", "(self, properties={}, location=None)"),
    ("pyiceberg.catalog.sql.SqlCatalog._convert_orm_to_iceberg", "(self, orm_table)"),
    (
        "pyiceberg.table.update.snapshot._OverwriteFiles",
        "(operation, transaction, io, commit_uuid=None, snapshot_properties={}, branch='main')",
    ),
    ("pyiceberg.table.update.snapshot._OverwriteFiles._summary", "(self, snapshot_properties={})"),
    ("pyiceberg.table.update.snapshot._OverwriteFiles._validate_concurrency", "(self)"),
    ("pyiceberg.table.update.snapshot._FastAppendFiles.append_data_file", "(self, data_file)"),
)

# Instance attributes of pyiceberg objects read here that it does not document: (class, the
# attribute names a fresh instance has).
PRIVATE_ATTRIBUTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pyiceberg.table.Transaction", ("_table", "_updates")),
    ("pyiceberg.table.update.snapshot._FastAppendFiles", ("commit_uuid",)),
)

# pyiceberg code this module re-implements (minus a deep copy or a file read): the calls that
# must still be in its source for the re-implementation to do what it does.
MIRRORED_CALLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "pyiceberg.catalog.MetastoreCatalog._update_and_stage_table",
        ("requirement.validate(", "update_table_metadata(", "new_table_metadata_file_location("),
    ),
    (
        "pyiceberg.table.update.update_table_metadata",
        ("_update_table_metadata_log(", "check_compatible(", "model_copy(deep=True)"),
    ),
    (
        "pyiceberg.catalog.sql.SqlCatalog._convert_orm_to_iceberg",
        ("FromInputFile.table_metadata(file)",),
    ),
)

# The position of ``sort_order_id`` in a DataFile record (its fields in the v2 data file type).
_SORT_ORDER_ID_POSITION = 15


# --- Appends -------------------------------------------------------------------------------


def append_producer(txn: Transaction, properties: dict[str, str]) -> _FastAppendFiles:
    """The fast-append snapshot producer ``Transaction.append`` uses, for our own data files:
    a context manager whose ``append_data_file`` adds a file and whose exit stages the
    snapshot carrying ``properties`` in its summary."""
    return txn._append_snapshot_producer(properties)


def check_arrow_schema_compatible(
    requested: Schema,
    provided: pa.Schema,
    *,
    downcast_ns_timestamp_to_us: bool,
    format_version: TableVersion,
) -> None:
    """Raise ``ValueError`` as ``Transaction.append`` does when Arrow rows of ``provided``
    cannot be written into the Iceberg schema ``requested``."""
    _check_pyarrow_schema_compatible(
        requested,
        provided_schema=provided,
        downcast_ns_timestamp_to_us=downcast_ns_timestamp_to_us,
        format_version=format_version,
    )


def dataframe_to_data_files(
    metadata: TableMetadata, data: pa.Table, io: FileIO, write_uuid: uuid.UUID
) -> Iterable[DataFile]:
    """Write ``data`` as the table's data files exactly as ``Transaction.append`` does."""
    return _dataframe_to_data_files(metadata, data, io, write_uuid=write_uuid)


def parquet_writer_kwargs(properties: dict[str, str]) -> dict[str, Any]:
    """The ``pyarrow.parquet.ParquetWriter`` options pyiceberg derives from table properties."""
    return _get_parquet_writer_kwargs(properties)


# --- Metadata without the deep copy ----------------------------------------------------------


class LeanTransaction(Transaction):
    """A :class:`Transaction` that builds its view of the metadata once per staged state."""

    _lean_view: tuple[TableMetadata, tuple, TableMetadata] | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        base, updates = self._table.metadata, self._updates
        if not updates:
            return base
        view = self._lean_view
        if view is None or view[0] is not base or view[1] is not updates:
            view = self._lean_view = (base, updates, staged_view(base, updates))
        return view[2]


def staged_view(base: TableMetadata, updates: tuple[TableUpdate, ...]) -> TableMetadata:
    """``base`` with ``updates`` applied, as ``update_table_metadata`` builds it but without
    its final deep copy (and its ``last_updated_ms`` stamp): a read-only view for the staging
    of an append, never what is committed."""
    return _applied(base, updates)[0]


def committed_metadata(
    base: TableMetadata, updates: tuple[TableUpdate, ...], metadata_location: str
) -> TableMetadata:
    """What ``update_table_metadata`` makes of ``base`` (read from ``metadata_location``) and
    ``updates`` for a catalog to commit, without its final deep copy. The copy costs more than
    anything else a small commit does (~2.7 ms on a new table, growing with every snapshot
    kept), and buys nothing: the models are frozen, and pyiceberg builds new ones to change
    anything, so the new metadata can share the parts it did not change."""
    metadata, context = _applied(base, updates)
    if context.has_changes():
        metadata = _update_table_metadata_log(metadata, metadata_location, base.last_updated_ms)
        if base.last_updated_ms == metadata.last_updated_ms:
            now = datetime_to_millis(datetime.now().astimezone())
            metadata = metadata.model_copy(update={"last_updated_ms": now})
    metadata.spec().check_compatible(metadata.schema())
    metadata.sort_order().check_compatible(metadata.schema())
    return metadata


def _applied(
    base: TableMetadata, updates: tuple[TableUpdate, ...]
) -> tuple[TableMetadata, _TableMetadataUpdateContext]:
    context = _TableMetadataUpdateContext()
    metadata = base
    for update in updates:
        metadata = _apply_table_update(update, metadata, context)
    return metadata, context


def apply_updates(
    txn: Transaction,
    updates: tuple[TableUpdate, ...],
    requirements: tuple[TableRequirement, ...],
) -> None:
    """Stage raw table ``updates`` on ``txn``, committed only if ``requirements`` hold."""
    txn._apply(updates, requirements)


# --- Catalogs --------------------------------------------------------------------------------


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


class SqlCatalogLoadHook(SqlCatalog):
    """:class:`SqlCatalog` whose loads can skip reading a metadata file: a subclass answers
    :meth:`known_metadata` for a location it already holds, and hears of every metadata file
    read through :meth:`metadata_read`."""

    def known_metadata(self, location: str) -> TableMetadata | None:
        """The metadata of the file at ``location``, when already known (default: never)."""
        return None

    def metadata_read(self, location: str, metadata: TableMetadata) -> None:
        """Called with every metadata file a load read (default: nothing)."""

    def _convert_orm_to_iceberg(self, orm_table: IcebergTables) -> Table:
        known = self.known_metadata(orm_table.metadata_location or "")
        if known is None:
            table = super()._convert_orm_to_iceberg(orm_table)
            self.metadata_read(table.metadata_location, table.metadata)
            return table
        namespace = Catalog.identifier_to_tuple(orm_table.table_namespace)
        return Table(
            identifier=(*namespace, orm_table.table_name),
            metadata=known,
            metadata_location=orm_table.metadata_location,
            io=self._load_file_io(known.properties, orm_table.metadata_location),
            catalog=self,
        )


# --- Replace commits -------------------------------------------------------------------------


class _ReplaceFiles(_OverwriteFiles):
    """An explicit-files overwrite whose snapshot is labelled ``replace``."""

    def _validate_concurrency(self) -> None:
        # pyiceberg's own retry (tables without commit.retry.num-retries=0) checks an overwrite
        # for serializable isolation: any file added meanwhile in the partition is a conflict.
        # A rewrite changes no row, so appends beside it are not; what matters is that every
        # file it deletes is still live, which ``_deleted_entries`` checks on the new parent.
        return None

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
        summary = super()._summary(snapshot_properties or {})
        return Summary(operation=Operation.REPLACE, **summary.additional_properties)


def replace_producer(txn: Transaction, io: FileIO, properties: dict[str, str]) -> _OverwriteFiles:
    """A snapshot producer (a context manager) that removes exactly the files given to its
    ``delete_data_file``, adds those given to ``append_data_file``, and labels the snapshot
    ``replace``; it raises ``ValidationException`` when a deleted file is no longer live."""
    return _ReplaceFiles(
        operation=Operation.OVERWRITE,
        transaction=txn,
        io=io,
        snapshot_properties=properties,
    )


def mark_sorted(data_file: DataFile, order_id: int) -> DataFile:
    """``data_file`` recorded as sorted by the table's sort order ``order_id`` (pyiceberg's
    writers always record None, and the record sets its fields by position only)."""
    data_file[_SORT_ORDER_ID_POSITION] = order_id
    return data_file
