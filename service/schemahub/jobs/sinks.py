"""Where the batch commands put chunks of trades, and their checkpoints.

- :class:`S3Sink` (``--s3-bucket``): one JSONL object a chunk, then the checkpoint object or
  file. A crash between the two leaves a chunk without its checkpoint; the rerun fetches the
  same chunk again (same trades, same object name) and overwrites it: exactly once.
- :class:`LakeSink` (no bucket): chunks are buffered and committed to the venue's raw table
  with each product's checkpoint as a snapshot property of the same commit, so rows and
  checkpoint land together or not at all; ``finish`` unifies.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa
from pyiceberg.table import Table

from schemahub.decode import decoder_for
from schemahub.decode.base import NativeRecord
from schemahub.errors import LakeError
from schemahub.jobs.checkpoints import Checkpoint, CheckpointStore, parse_checkpoint
from schemahub.jobs.rawjsonl import encode_chunk, key_name, object_key
from schemahub.lake import Lake
from schemahub.lake.writer import commit_append, latest_property
from schemahub.s3 import Bucket
from schemahub.schemas import raw_table_schema

LAKE_FLUSH_ROWS = 50_000


class ChunkSink(Protocol):
    """What a batch job writes through (called from worker threads)."""

    def checkpoint(self, product: str) -> Checkpoint | None:
        """The product's stored checkpoint, None when it has none."""
        ...

    def anchor(self, product: str, checkpoint: Checkpoint) -> None:
        """Record where a fresh walk starts, before any of its data."""
        ...

    def write_chunk(
        self, product: str, chunk: Sequence[NativeRecord], checkpoint: Checkpoint | None
    ) -> None:
        """Write the chunk, then the checkpoint that covers it (None: leave it as it is)."""
        ...

    def finish(self) -> str:
        """Make everything durable; a line saying what was done at the end."""
        ...


class S3Sink:
    """JSONL objects under ``prefix``; checkpoints in ``checkpoints``."""

    def __init__(
        self, bucket: Bucket, prefix: str, venue: str, job: str, checkpoints: CheckpointStore
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.venue = venue
        self.source = f"{venue}:rest:{job}"
        self.checkpoints = checkpoints
        self.objects = 0

    def checkpoint(self, product: str) -> Checkpoint | None:
        return self.checkpoints.read(key_name(self.venue, product))

    def anchor(self, product: str, checkpoint: Checkpoint) -> None:
        self.checkpoints.write(key_name(self.venue, product), checkpoint)

    def write_chunk(
        self, product: str, chunk: Sequence[NativeRecord], checkpoint: Checkpoint | None
    ) -> None:
        body = encode_chunk(self.venue, chunk, self.source, datetime.now(UTC))
        self.bucket.put(object_key(self.prefix, self.venue, product, chunk), body)
        self.objects += 1
        if checkpoint is not None:
            self.checkpoints.write(key_name(self.venue, product), checkpoint)

    def finish(self) -> str:
        return f"{self.objects} objects written to {self.bucket.where(self.prefix)}"


class LakeSink:
    """The venue's raw table; checkpoints as ``schemahub.<job>.<product>`` properties."""

    def __init__(
        self,
        lake: Lake,
        venue: str,
        job: str,
        mappings_dir: Path,
        with_count: bool = True,
        create: bool = True,
    ) -> None:
        decoder = decoder_for(venue)
        if create:
            lake.init()  # idempotent: a first run needs no `tables init` beforehand
        self.lake = lake
        self.venue = venue
        self.job = job
        self.source = f"{venue}:rest:{job}"
        self.mappings_dir = mappings_dir
        self.with_count = with_count
        try:
            self.table: Table | None = lake.table(decoder.RAW_TABLE)
        except LakeError:
            if create:
                raise
            self.table = None  # a dry run on a fresh lake: no table, so no checkpoints
        self.schema = raw_table_schema(decoder.NATIVE_SCHEMA)
        self._rows: list[NativeRecord] = []
        self._props: dict[str, str] = {}
        self._lock = threading.Lock()
        self.committed = 0

    def _property(self, product: str) -> str:
        return f"schemahub.{self.job}.{key_name(self.venue, product)}"

    def checkpoint(self, product: str) -> Checkpoint | None:
        if self.table is None:
            return None
        key = self._property(product)
        value = latest_property(self.table, key)
        if value is None:
            return None
        where = f"{'.'.join(self.table.name())} snapshot property {key}"
        return parse_checkpoint(value.encode(), where, with_count=self.with_count)

    def anchor(self, product: str, checkpoint: Checkpoint) -> None:
        """Nothing to record: without a commit there is no data to be consistent with."""

    def write_chunk(
        self, product: str, chunk: Sequence[NativeRecord], checkpoint: Checkpoint | None
    ) -> None:
        stamp = datetime.now(UTC)
        with self._lock:
            for record in chunk:
                self._rows.append({**record, "_source": self.source, "_source_ingest_ts": stamp})
            if checkpoint is not None:
                self._props[self._property(product)] = checkpoint.to_json().decode()
            if len(self._rows) >= LAKE_FLUSH_ROWS:
                self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        assert self.table is not None, "a LakeSink made with create=False only reads"
        rows = pa.Table.from_pylist(self._rows, schema=self.schema)
        props = dict(self._props)
        commit_append(self.table, lambda _t: (rows, props))
        self.committed += rows.num_rows
        self._rows, self._props = [], {}

    def finish(self) -> str:
        from schemahub.jobs.unify import run_unify

        with self._lock:
            self._flush()
        report = run_unify(self.lake, self.mappings_dir)
        return (
            f"{self.committed} rows committed to {decoder_for(self.venue).RAW_TABLE}; "
            f"trades_unified +{report.written} rows ({report.duplicates} already there)"
        )
