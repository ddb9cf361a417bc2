"""Fixtures for the mapping tests: the real raw schemas and the shipped mapping files."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from schemahub.decode import binance, coinbase, kraken
from schemahub.mapping import CompiledMapping, load_mappings
from schemahub.schemas import UNIFIED_SCHEMA, raw_table_schema

MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "config" / "mappings"
INGEST_TS = datetime(2026, 8, 9, 21, 6, 0, 123456, tzinfo=UTC)
SOURCE_SCHEMAS: dict[str, pa.Schema] = {
    venue.RAW_TABLE: raw_table_schema(venue.NATIVE_SCHEMA) for venue in (binance, coinbase, kraken)
}


def raw_table(source: str, natives: Iterable[dict[str, Any]]) -> pa.Table:
    """Raw-table rows for ``source``: native records plus the metadata columns."""
    rows = [
        {
            "_source": "ws",
            "_source_ingest_ts": INGEST_TS,
            "_raw_payload": f"payload-{index}",
            **native,
        }
        for index, native in enumerate(natives)
    ]
    return pa.Table.from_pylist(rows, schema=SOURCE_SCHEMAS[source])


@pytest.fixture(scope="module")
def shipped() -> dict[str, CompiledMapping]:
    """The three shipped mapping files compiled against the real raw schemas."""
    return load_mappings(MAPPINGS_DIR, SOURCE_SCHEMAS, UNIFIED_SCHEMA)
