"""One Iceberg append, as pyiceberg's ``Transaction.append`` does it, minus three costs.

The pyiceberg internals it needs (the append producer, the schema check and file writer of
``Transaction.append``, :class:`LeanTransaction`) are reached through
:mod:`schemahub.lake.pyiceberg_private`, the one module that touches them;
``tests/lake/test_pyiceberg_private.py`` checks their signatures and ``tests/lake/test_append.py``
that an append here lands exactly what ``Transaction.append`` lands.

1. ``Transaction.table_metadata`` replays the staged updates and deep-copies the whole table
   metadata on every read, and one append reads it about twenty times. The copy grows with the
   snapshot count (every flush adds one): at 300 snapshots a 100-row append cost ~280 ms of CPU,
   ~85% of it in ``copy.deepcopy``. :class:`LeanTransaction` replays the updates once per
   staged state without the final deep copy, and hands out the table's own metadata while
   nothing is staged (the models are frozen, and pyiceberg builds new ones to change
   anything, so sharing their parts is safe). The catalog replays them once more to build what
   it commits: the catalogs :mod:`schemahub.lake.catalog` opens do it with
   :func:`~schemahub.lake.pyiceberg_private.committed_metadata`, without the copy.
2. For a partitioned table pyiceberg groups the rows by partition and filters the table once per
   partition, even when there is one. A flush almost always falls in one day: when the min and
   max of the partition column land in the same partition (order-preserving transforms only),
   the rows are written as they are, with that partition key.
3. pyiceberg's ``write_file`` rebuilds every record batch through a schema visitor, bin-packs
   the table and dictionary-encodes every column (ids, times and sizes build a dictionary that
   is then abandoned). Rows of one partition (or of an unpartitioned table) that already have
   the table's types are written by :mod:`schemahub.lake.datafiles` instead: the columns are
   re-labelled with a cached file schema, dictionary encoding is kept for the columns that
   repeat, and columns that arrive dictionary-encoded are written from their dictionary.
   Everything else takes pyiceberg's path, with dictionary columns decoded first, so every data
   file reads back with the table's plain types.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

# pyiceberg imports these on first use, which is in the middle of a daemon's first commit
# (~30 ms of the GIL): the schema check builds its report with rich, and the day transform of
# a partition key runs in pyiceberg_core. Imported with this module instead, at start-up.
import pyiceberg_core.transform  # noqa: F401
import rich.console
import rich.table  # noqa: F401
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.table import DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.transforms import IdentityTransform, TimeTransform
from pyiceberg.utils.config import Config

from schemahub.lake.datafiles import file_layout, write_data_files
from schemahub.lake.pyiceberg_private import (
    LeanTransaction,
    append_producer,
    check_arrow_schema_compatible,
    dataframe_to_data_files,
)
from schemahub.schemas import decoded, plain_schema


def append_table(table: Table, data: pa.Table, properties: dict[str, str]) -> None:
    """Append ``data`` to ``table`` in one snapshot carrying ``properties`` in its summary.

    Raises what ``Transaction.append`` raises (``CommitFailedException`` when another writer
    moved the table, ``ValueError`` for an incompatible schema).
    """
    with LeanTransaction(table) as txn:
        metadata = txn.table_metadata
        check_schema_compatible(metadata, data.schema)
        with append_producer(txn, properties) as append_files:
            if data.num_rows > 0:
                files = data_files(txn.table_metadata, data, table.io, append_files.commit_uuid)
                for data_file in files:
                    append_files.append_data_file(data_file)


# Schemas already found compatible, by (table, schema id, format version, Arrow schema, ns
# downcast): the check walks both schemas (~2.5 ms) and every flush appends the same shapes.
_COMPATIBLE: set[tuple] = set()
_COMPATIBLE_MAX = 256


def check_schema_compatible(metadata: TableMetadata, schema: pa.Schema) -> None:
    """Raise ``ValueError`` as ``Transaction.append`` does when rows of ``schema`` cannot be
    appended to the table's current schema; remembers the shapes that passed."""
    downcast = _downcast_ns()
    # Schema equality ignores field metadata (where field ids may be given)
    field_metadata = tuple(tuple(sorted((f.metadata or {}).items())) for f in schema)
    key = (metadata.table_uuid, metadata.current_schema_id, metadata.format_version, downcast)
    key += (schema, field_metadata)
    if key in _COMPATIBLE:
        return
    check_arrow_schema_compatible(
        metadata.schema(),
        # Dictionary columns as their value types: what Iceberg sees (and pyiceberg then
        # logs no warning per dictionary column on every append).
        plain_schema(schema),
        downcast_ns_timestamp_to_us=downcast,
        format_version=metadata.format_version,
    )
    if len(_COMPATIBLE) >= _COMPATIBLE_MAX:
        _COMPATIBLE.clear()
    _COMPATIBLE.add(key)


def data_files(
    metadata: TableMetadata, data: pa.Table, io: FileIO, write_uuid: uuid.UUID
) -> Iterable[DataFile]:
    """Write ``data`` as Parquet data files of the table: with our writer when every row falls
    in one partition (or the table is unpartitioned) and the data has the table's types,
    otherwise as ``Transaction.append`` does."""
    unpartitioned = metadata.spec().is_unpartitioned()
    key = None if unpartitioned else single_partition_key(metadata, data)
    layout = file_layout(metadata, data.schema) if unpartitioned or key is not None else None
    if layout is None:
        return dataframe_to_data_files(metadata, decoded(data), io, write_uuid)
    return write_data_files(io, metadata, layout, data, key, write_uuid)


def single_partition_key(metadata: TableMetadata, data: pa.Table) -> PartitionKey | None:
    """The partition key every row of ``data`` shares, or None (unpartitioned, several
    partitions, nulls, or a spec this shortcut does not handle)."""
    spec, schema = metadata.spec(), metadata.schema()
    if len(spec.fields) != 1 or data.num_rows == 0:
        return None
    field = spec.fields[0]
    if not isinstance(field.transform, (TimeTransform, IdentityTransform)):
        return None  # only order-preserving transforms: f(min) == f(max) means one partition
    name = schema.find_column_name(field.source_id)
    if name is None or name not in data.column_names:
        return None  # nested source columns take pyiceberg's path
    column = data.column(name)
    if column.null_count:
        return None
    bounds = pc.min_max(column)
    ends = pa.array([bounds["min"], bounds["max"]], type=column.type)
    source_type = schema.find_field(field.source_id).field_type
    low, high = field.transform.pyarrow_transform(source_type)(ends).to_pylist()
    if low != high:
        return None
    return PartitionKey(
        field_values=[PartitionFieldValue(field=field, value=low)],
        partition_spec=spec,
        schema=schema,
    )


@functools.cache
def _downcast_ns() -> bool:
    # pyiceberg's setting (its config file or environment), read once: reading it parses the
    # whole environment, ~0.5 ms an append.
    return Config().get_bool(DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE) or False
