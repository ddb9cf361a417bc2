"""One Iceberg ``replace`` commit: delete exactly the data files a compaction read, add the files
it wrote, and nothing else.

pyiceberg 0.12.0 offers no public API for it: ``Transaction.overwrite`` deletes by a row filter,
so a trade appended to the same partition between the compaction's read and its commit would
match the filter and be deleted with the files that were read. Its private ``_OverwriteFiles``
producer does what a compaction needs when handed explicit files: it removes exactly the files
given to ``delete_data_file`` and refuses the commit (``ValidationException``) when one of them
is no longer live in the parent snapshot. That producer (and :func:`mark_sorted`, which sets a
field pyiceberg's record exposes by position only) live in
:mod:`schemahub.lake.pyiceberg_private`, the one module that touches pyiceberg internals;
``tests/lake/test_pyiceberg_private.py`` checks them, so an upgrade that changes them fails
there, loudly.

Three things differ from a plain overwrite. Files appended meanwhile are no conflict (when
pyiceberg retries an overwrite itself it checks for serializable isolation, where they are).
The snapshot says ``replace``, the Iceberg operation for a rewrite that changes no row
(pyiceberg's summary code only knows append, overwrite and delete, so the totals are computed as
for an overwrite and the operation is set afterwards). And the data files are read back through
``ArrowScan`` with the table's current schema, so files written before a column was added read
with that column as nulls.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table

from schemahub.lake.pyiceberg_private import LeanTransaction, mark_sorted, replace_producer

__all__ = ["commit_replace", "mark_sorted", "read_files"]


def read_files(table: Table, tasks: Iterable[FileScanTask]) -> pa.Table:
    """The rows of exactly these data files, in the table's current schema."""
    metadata = table.metadata
    scan = ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue())
    return scan.to_table(list(tasks))


def commit_replace(
    table: Table,
    deleted: Iterable[DataFile],
    added: Iterable[DataFile],
    properties: dict[str, str],
) -> None:
    """Commit one snapshot on the table's current head that removes ``deleted`` and adds
    ``added``.

    Raises ``CommitFailedException`` when another writer moved the head since ``table`` was
    loaded (refresh and call again: the files are re-checked against the new head), and
    ``ValidationException`` when a file of ``deleted`` is not live any more (someone else
    rewrote or deleted it: this replace must not happen).
    """
    with LeanTransaction(table) as txn:
        producer = replace_producer(txn, table.io, properties)
        with producer:
            for data_file in deleted:
                producer.delete_data_file(data_file)
            for data_file in added:
                producer.append_data_file(data_file)
