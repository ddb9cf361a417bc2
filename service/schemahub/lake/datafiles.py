"""The Parquet data files of one single-partition append, written here with per-column settings.

pyiceberg's ``write_file`` rebuilds every record batch through ``_to_requested_schema`` (a
schema visitor per batch), bin-packs the table and dictionary-encodes every column. This writer
does what it does for the common case, where the data already has the table's types:

- the file's Arrow schema (the table's names, nullability and field ids, the data's types) is
  built once per (table, schema id, properties, input types) and the columns are re-labelled
  with it, without copying;
- dictionary encoding only where it pays: columns that arrive dictionary-encoded (written from
  their dictionary, without re-hashing) and string columns whose first values repeat a lot
  (``schemahub.arrowutil.repeats_a_lot``). Ids, times and sizes almost never repeat;
  encoding them builds a dictionary the writer then abandons;
- files are written without the ``ARROW:schema`` footer entry, so every reader (pyarrow,
  pyiceberg, DuckDB) sees a dictionary-encoded column as its plain type, and the Iceberg
  statistics come from the Parquet footer exactly as ``ParquetFormatWriter.close`` takes them.

:func:`file_layout` returns None for data it does not handle (a column needing a cast, nested
types, names the Parquet writer would sanitize, a format other than Parquet); the caller then
takes pyiceberg's path, which casts or rejects as ``Transaction.append`` does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    MetricModeTypes,
    MetricsMode,
    StatisticsCollector,
    bin_pack_arrow_table,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
    schema_to_pyarrow,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.partitioning import PartitionKey
from pyiceberg.schema import sanitize_column_names
from pyiceberg.table import TableProperties, WriteTask
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record
from pyiceberg.utils.concurrent import ExecutorFactory
from pyiceberg.utils.properties import property_as_int

from schemahub.arrowutil import repeats_a_lot
from schemahub.lake.pyiceberg_private import parquet_writer_kwargs

_LAYOUT_CACHE_SIZE = 64  # (table, schema, input types) combinations kept; a daemon uses ~5
_NO_METRICS = MetricsMode(MetricModeTypes.NONE)


@dataclass(frozen=True)
class FileLayout:
    """How data of one input schema lands in one table's Parquet files."""

    arrow_schema: pa.Schema  # the data's types; the table's names, nullability and field ids
    dictionary_columns: tuple[str, ...]  # arrive dictionary-encoded: always written so
    string_columns: tuple[str, ...]  # plain strings: dictionary-encoded when a sample repeats
    writer_options: dict[str, Any]  # pq.ParquetWriter keywords from the table properties
    statistics_columns: list[str]  # the columns whose Parquet statistics Iceberg keeps
    row_group_rows: int
    target_file_bytes: int  # in-memory Arrow bytes per file, as bin_pack_arrow_table counts
    statistics_plan: dict[int, StatisticsCollector]
    path_to_field_id: dict[str, int]


_layouts: dict[tuple, FileLayout | None] = {}


def file_layout(metadata: TableMetadata, data_schema: pa.Schema) -> FileLayout | None:
    """The cached layout for ``data_schema`` in the table's current schema, or None when this
    writer does not handle it (see the module docstring)."""
    key = (
        metadata.table_uuid,
        metadata.current_schema_id,
        tuple(sorted(metadata.properties.items())),
        data_schema,
    )
    if key not in _layouts:
        if len(_layouts) >= _LAYOUT_CACHE_SIZE:
            _layouts.clear()
        _layouts[key] = _build_layout(metadata, data_schema)
    return _layouts[key]


def _build_layout(metadata: TableMetadata, data_schema: pa.Schema) -> FileLayout | None:
    schema, properties = metadata.schema(), metadata.properties
    file_format = properties.get(
        TableProperties.WRITE_FILE_FORMAT, TableProperties.WRITE_FILE_FORMAT_DEFAULT
    )
    if file_format.lower() != "parquet" or sanitize_column_names(schema) != schema:
        return None
    table_fields = list(schema_to_pyarrow(schema, include_field_ids=True))
    if data_schema.names != [f.name for f in table_fields]:
        return None  # reordered, missing or extra columns: pyiceberg's projection handles them
    fields = []
    for given, wanted in zip(data_schema, table_fields, strict=True):
        value_type = given.type.value_type if pa.types.is_dictionary(given.type) else given.type
        if not _lands_as_is(value_type, wanted.type):
            return None
        fields.append(wanted.with_type(given.type))
    arrow_schema = pa.schema(fields)
    plan = compute_statistics_plan(schema, properties)
    return FileLayout(
        arrow_schema=arrow_schema,
        dictionary_columns=tuple(f.name for f in fields if pa.types.is_dictionary(f.type)),
        string_columns=tuple(f.name for f in fields if _is_string(f.type)),
        writer_options=parquet_writer_kwargs(properties),
        statistics_columns=[
            field.name for field in schema.fields if plan[field.field_id].mode != _NO_METRICS
        ],
        row_group_rows=property_as_int(
            properties,
            TableProperties.PARQUET_ROW_GROUP_LIMIT,
            TableProperties.PARQUET_ROW_GROUP_LIMIT_DEFAULT,
        ),
        target_file_bytes=property_as_int(
            properties,
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
        ),
        statistics_plan=plan,
        path_to_field_id=parquet_path_to_id_mapping(schema),
    )


def _lands_as_is(given: pa.DataType, wanted: pa.DataType) -> bool:
    """Whether pyiceberg would write a column of type ``given`` unchanged into a column it
    reads as ``wanted``: the same type, or the other width of string or binary (pyiceberg
    keeps those too). Timestamps must match unit and zone exactly; anything else needs a cast
    (or is rejected), which pyiceberg's path does."""
    if given == wanted:
        return True
    return (_is_string(given) and _is_string(wanted)) or (_is_binary(given) and _is_binary(wanted))


def _is_string(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def _is_binary(type_: pa.DataType) -> bool:
    return pa.types.is_binary(type_) or pa.types.is_large_binary(type_)


def write_data_files(
    io: FileIO,
    metadata: TableMetadata,
    layout: FileLayout,
    data: pa.Table,
    key: PartitionKey | None,
    write_uuid: uuid.UUID,
) -> list[DataFile]:
    """Write ``data`` (all in partition ``key``, None when unpartitioned) as one data file per
    ``write.target-file-size-bytes`` of it, counted as pyiceberg counts it."""
    labelled = pa.Table.from_arrays(data.columns, schema=layout.arrow_schema)
    dictionary = _dictionary_columns(layout, labelled)
    if labelled.nbytes <= layout.target_file_bytes:
        bins = [labelled]
    else:
        bins = [
            pa.Table.from_batches(batches, schema=layout.arrow_schema)
            for batches in bin_pack_arrow_table(labelled, layout.target_file_bytes)
        ]
    schema = metadata.schema()
    tasks = [
        (
            WriteTask(
                write_uuid=write_uuid,
                task_id=n,
                schema=schema,
                record_batches=[],  # the bin travels beside the task, as one table
                partition_key=key,
            ),
            part,
        )
        for n, part in enumerate(bins)
    ]

    def write(task_and_part: tuple[WriteTask, pa.Table]) -> DataFile:
        return _write_one(io, metadata, layout, dictionary, *task_and_part)

    if len(tasks) == 1:
        return [write(tasks[0])]
    return list(ExecutorFactory.get_or_create().map(write, tasks))


def _dictionary_columns(layout: FileLayout, data: pa.Table) -> list[str]:
    """Columns to dictionary-encode: those that arrive encoded, and strings that repeat."""
    sampled = [name for name in layout.string_columns if repeats_a_lot(data.column(name))]
    return [*layout.dictionary_columns, *sampled]


def _write_one(
    io: FileIO,
    metadata: TableMetadata,
    layout: FileLayout,
    dictionary: list[str],
    task: WriteTask,
    data: pa.Table,
) -> DataFile:
    """One Parquet file and its DataFile, as pyiceberg's ``write_file`` makes them."""
    locations = load_location_provider(metadata.location, metadata.properties)
    path = locations.new_data_location(
        data_file_name=task.generate_data_file_filename("parquet"),
        partition_key=task.partition_key,
    )
    output = io.new_output(path)
    with output.create(overwrite=True) as stream:
        writer = pq.ParquetWriter(
            stream,
            schema=layout.arrow_schema,
            use_dictionary=dictionary,
            store_schema=False,  # readers then see dictionary columns as their plain type
            store_decimal_as_integer=True,
            # Statistics cost a pass over each column: only those the table's metrics keep.
            write_statistics=layout.statistics_columns,
            **layout.writer_options,
        )
        with writer:
            writer.write_table(data, row_group_size=layout.row_group_rows)
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=writer.writer.metadata,
        stats_columns=layout.statistics_plan,
        parquet_column_mapping=layout.path_to_field_id,
    )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=task.partition_key.partition if task.partition_key else Record(),
        file_size_in_bytes=len(output),
        sort_order_id=None,
        spec_id=metadata.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )
