"""The lake: the Iceberg catalog, our tables, and how we commit to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from schemahub.config import LakeConfig, S3Config
from schemahub.lake.catalog import open_catalog
from schemahub.lake.dedupe import drop_committed
from schemahub.lake.offsets import (
    committed_offsets,
    load_offsets,
    offsets_properties,
    watermark_rows,
    write_watermarks,
)
from schemahub.lake.quarantine import QuarantineEntry, quarantine_rows, rejected_entries
from schemahub.lake.tables import (
    QUARANTINE_TABLE,
    RAW_TABLE_VENUES,
    RAW_TABLES,
    UNIFIED_TABLE,
    WATERMARKS_TABLE,
    TableChange,
    TableDef,
    init_tables,
    open_table,
    table_defs,
)
from schemahub.lake.writer import CommitResult, commit_append

# What writers (the daemon's committer, the batch jobs) use: appends with conflict retries, the
# key re-check, the stream offsets in snapshots and their watermarks mirror, quarantine rows.
__all__ = [
    "QUARANTINE_TABLE",
    "RAW_TABLES",
    "RAW_TABLE_VENUES",
    "UNIFIED_TABLE",
    "WATERMARKS_TABLE",
    "CommitResult",
    "Lake",
    "QuarantineEntry",
    "TableChange",
    "TableDef",
    "commit_append",
    "committed_offsets",
    "drop_committed",
    "load_offsets",
    "offsets_properties",
    "quarantine_rows",
    "rejected_entries",
    "watermark_rows",
    "write_watermarks",
]


@dataclass
class Lake:
    """The configured catalog and namespace, opened lazily. ``s3``: the config's object
    storage section, for the endpoint and region of an ``s3://`` warehouse."""

    config: LakeConfig
    s3: S3Config = field(default_factory=S3Config)

    @cached_property
    def catalog(self) -> Catalog:
        """The Iceberg catalog (opened on first use)."""
        return open_catalog(self.config, self.s3)

    @property
    def namespace(self) -> str:
        """The namespace holding SchemaHub's tables."""
        return self.config.namespace

    def table(self, name: str) -> Table:
        """Load one of our tables; a missing table is a LakeError saying to run tables init."""
        return open_table(self.catalog, self.namespace, name)

    def init(self, defs: list[TableDef] | None = None) -> dict[str, TableChange]:
        """Create or evolve every table of the design."""
        return init_tables(self.catalog, self.namespace, defs or table_defs())
