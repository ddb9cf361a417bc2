"""Creating the tables, with the unified columns the mappings add beyond the seed schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from schemahub.errors import MappingError
from schemahub.lake import Lake, TableChange
from schemahub.lake.schemas import ENRICHMENT_FIELDS, UNIFIED_SCHEMA
from schemahub.lake.tables import table_defs
from schemahub.mapping import read_spec
from schemahub.mapping.compiler import mapping_files


def init_all(lake: Lake, mappings_dir: Path) -> dict[str, TableChange]:
    """Create or evolve every table; the unified table gains the mappings' extra columns."""
    extra = mapping_extra_fields(mappings_dir)
    return lake.init(table_defs(extra, target_file_bytes=lake.config.target_file_size_bytes))


def mapping_extra_fields(mappings_dir: Path) -> list[pa.Field]:
    """Enrichment columns the mappings in ``mappings_dir`` produce beyond the seed schema."""
    files = mapping_files(mappings_dir)
    if not files:
        raise MappingError(f"no mapping files (*.yaml, *.yml) in {mappings_dir}")
    wanted: dict[str, pa.Field] = {}
    for path in files:
        spec = read_spec(path)
        for column in (*spec.mappings, *spec.constants):
            if column in UNIFIED_SCHEMA.names:
                continue
            if column not in ENRICHMENT_FIELDS:
                raise MappingError(
                    f"{path}: mappings: unknown target column {column!r}; the unified table "
                    f"takes {', '.join(UNIFIED_SCHEMA.names + list(ENRICHMENT_FIELDS))}"
                )
            wanted[column] = ENRICHMENT_FIELDS[column]
    # Keep the declared order so every run evolves the schema identically.
    return [f for name, f in ENRICHMENT_FIELDS.items() if name in wanted]
