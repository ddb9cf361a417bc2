"""Creating the tables, with the unified columns the mappings add beyond the seed schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from schemahub.lake import Lake, TableChange
from schemahub.lake.tables import table_defs


def init_all(lake: Lake, mappings_dir: Path) -> dict[str, TableChange]:
    """Create or evolve every table; the unified table gains the mappings' extra columns."""
    return lake.init(table_defs(unified_extra=mapping_extra_fields(mappings_dir)))


def mapping_extra_fields(mappings_dir: Path) -> list[pa.Field]:
    """Target columns the mappings produce beyond the seed's unified schema."""
    from schemahub.mapping import extra_target_fields

    return extra_target_fields(mappings_dir)
