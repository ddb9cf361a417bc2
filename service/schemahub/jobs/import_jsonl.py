"""``schemahub import-jsonl``: the original tool's S3 history into the raw tables, unified.

Reads every ``raw_{venue}_trades_*.jsonl`` object under an ``s3://bucket/prefix`` (or file in
a folder), one record a line, into the venue's raw table, then runs unify. Idempotent: rows
whose (product, trade_id) the raw table already holds, or that an earlier object of the same
run held, are dropped, so importing twice (or overlapping objects) adds nothing.
A line that is not a record stops the command naming its object and line; nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from pyiceberg.expressions import In

from schemahub.decode import decoder_for
from schemahub.errors import StorageError, UsageError
from schemahub.jobs.rawjsonl import NAME_PATTERN, decode_line
from schemahub.lake import Lake
from schemahub.lake.dedupe import dedupe_within, drop_existing
from schemahub.lake.writer import commit_append
from schemahub.s3 import Bucket, split_url
from schemahub.schemas import raw_table_schema

PRODUCT_COLUMNS = {"coinbase": "product_id", "binance": "symbol", "kraken": "symbol"}
SOURCE_PROPERTY = "schemahub.import_jsonl.source"


@dataclass
class ImportReport:
    """Objects read and rows landed, per venue."""

    objects: int = 0
    lines: dict[str, int] = field(default_factory=dict)
    landed: dict[str, int] = field(default_factory=dict)
    unified: int = 0


def import_jsonl(
    lake: Lake,
    source: str,
    mappings_dir: Path,
    endpoint: str | None = None,
    region: str | None = None,
) -> ImportReport:
    """Land every JSONL object of ``source`` (``s3://...`` or a folder), then unify."""
    from schemahub.jobs.unify import run_unify

    report = ImportReport()
    rows: dict[str, list[dict]] = defaultdict(list)
    for name, body in _objects(source, endpoint, region):
        match = NAME_PATTERN.search(name)
        if match is None:
            continue
        venue = match["venue"]
        if venue not in PRODUCT_COLUMNS:
            raise UsageError(f"{name}: unknown venue {venue!r} in the object name")
        report.objects += 1
        for number, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows[venue].append(decode_line(venue, line))
            except ValueError as exc:
                raise StorageError(f"{name} line {number} is not a trade record: {exc}") from None
    if report.objects == 0:
        raise UsageError(f"no raw_<venue>_trades_*.jsonl objects found under {source}")
    lake.init()
    for venue, records in sorted(rows.items()):
        report.lines[venue] = len(records)
        report.landed[venue] = _land(lake, venue, records, source)
    report.unified = run_unify(lake, mappings_dir).written
    return report


def _land(lake: Lake, venue: str, records: list[dict], source: str) -> int:
    decoder = decoder_for(venue)
    schema = raw_table_schema(decoder.NATIVE_SCHEMA)
    try:
        table_rows = pa.Table.from_pylist(records, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
        raise StorageError(
            f"{source}: {venue} records do not fit {decoder.RAW_TABLE}: {exc}"
        ) from None
    key = [PRODUCT_COLUMNS[venue], "trade_id"]
    unique = dedupe_within(table_rows, key)
    raw = lake.table(decoder.RAW_TABLE)
    landed = 0

    def prepare(table):  # rerun on a commit conflict: recheck the keys the table holds
        nonlocal landed
        fresh = drop_existing(unique, _existing_keys(table, key, unique), key)
        landed = fresh.num_rows
        return fresh, {SOURCE_PROPERTY: source}

    commit_append(raw, prepare)
    return landed


def _existing_keys(table, key: list[str], rows: pa.Table) -> pa.Table:
    if table.current_snapshot() is None:
        return rows.select(key).slice(0, 0)
    products = sorted(set(rows[key[0]].to_pylist()))
    found = table.scan(row_filter=In(key[0], products), selected_fields=tuple(key)).to_arrow()
    return found.cast(rows.select(key).schema)


def _objects(source: str, endpoint: str | None, region: str | None) -> Iterator[tuple[str, bytes]]:
    if source.startswith("s3://"):
        name, prefix = split_url(source)
        bucket = Bucket(name, endpoint, region)
        bucket.check()
        for key in bucket.keys(f"{prefix}/" if prefix else ""):
            if key.endswith(".jsonl"):
                yield bucket.where(key), bucket.get(key) or b""
        return
    folder = Path(source)
    if not folder.is_dir():
        raise UsageError(f"{source} is neither an s3:// URL nor a folder")
    for path in sorted(folder.rglob("*.jsonl")):
        yield str(path), path.read_bytes()
