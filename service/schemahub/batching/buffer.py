"""A columnar buffer of one raw table: native records in, one Arrow table out per commit.

Appends only copy each record's values into a tuple (one C-level ``itemgetter`` call per
record), so they stay cheap at one call per websocket frame. Every ``chunk_rows`` rows the
pending tuples are converted to Arrow column by column and compacted (repeating strings such
as the symbol and ``_source`` become dictionary arrays with 1-byte indices), so what the buffer
holds is Arrow memory, not Python objects. ``drain()`` returns the columns of
``raw_table_schema(native_schema)``; a column held dictionary-encoded throughout drains as one
dictionary array of the column's type, since both its readers (the Parquet writer and the
mapping) do less work on the dictionary than on the decoded strings.

Records that cannot land (a required column missing or null, a value of the wrong type) never
stop the buffer: they are set aside as :class:`~schemahub.decode.base.Reject` for the quarantine,
collected with :meth:`RawBuffer.take_rejects`.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Sequence
from operator import itemgetter

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from schemahub.batching import columns
from schemahub.batching.columns import ColumnSpec
from schemahub.decode.base import NativeRecord, Reject
from schemahub.errors import UsageError
from schemahub.schemas import RAW_METADATA_FIELDS, TS, raw_table_schema

log = logging.getLogger(__name__)
PAYLOAD = "_raw_payload"
_PAYLOAD_SPEC = ColumnSpec(PAYLOAD, pa.string(), True)
_I64 = 2**63
_SAMPLE_ROWS = 8  # pending rows measured to estimate the memory of all pending rows


class RawBuffer:
    """Buffered rows of one raw table, held as compact Arrow chunks."""

    def __init__(
        self,
        native_schema: pa.Schema,
        keep_payload: bool = False,
        *,
        chunk_rows: int = 4096,
        name: str = "raw",
    ) -> None:
        """A buffer for records of ``native_schema``; ``_raw_payload`` is kept only if asked.

        ``name`` (the table name, say) only labels rejects.
        """
        clash = {f.name for f in RAW_METADATA_FIELDS} & set(native_schema.names)
        if clash:
            raise UsageError(f"native schema of {name} uses reserved column names {sorted(clash)}")
        if chunk_rows < 1:
            raise UsageError(f"chunk_rows must be at least 1, got {chunk_rows}")
        self.schema = raw_table_schema(native_schema)
        self.name = name
        self.keep_payload = keep_payload
        self._chunk_rows = chunk_rows
        self._specs = [ColumnSpec.of(f) for f in native_schema]
        self._native = tuple(self._specs)  # without the payload spec
        if keep_payload:
            self._specs.append(_PAYLOAD_SPEC)
        keys = [spec.name for spec in self._specs]
        self._getter = itemgetter(*keys) if len(keys) > 1 else lambda r: (r[keys[0]],)
        self._width = len(keys)
        self._pending: list[tuple[object, ...]] = []
        self._run_ends: list[int] = []  # _source and ingest time, as runs over pending rows
        self._run_sources: list[str] = []
        self._run_ts: list[int] = []
        self._chunks: list[tuple[pa.Array, ...]] = []  # native..., _source, ingest ts[, payload]
        self._sealed_rows = 0
        self._sealed_bytes = 0
        self._rejects: list[Reject] = []
        # Columnar appends waiting to be sealed: (native arrays, source, ingest ts per row).
        self._batches: list[tuple[list[pa.Array], str, pa.Array]] = []
        self._batch_rows = 0
        self._batch_bytes = 0
        # Rows buffered (not counting rejects): kept up to date by append, seal and drain, as a
        # plain attribute because the daemon checks its cap after every frame.
        self.rows = 0

    def append(self, records: Sequence[NativeRecord], source: str, ingest_ts_us: int) -> None:
        """Buffer native records that arrived together from ``source`` at ``ingest_ts_us``.

        ``ingest_ts_us`` is microseconds since the epoch (UTC). Keys beyond the native columns
        (and ``_raw_payload`` unless kept) are ignored; a missing nullable column is null.
        """
        if type(source) is not str or type(ingest_ts_us) is not int or not _I64 > ingest_ts_us >= 0:
            raise UsageError(
                f"append to {self.name}: expected source as str and ingest_ts_us as a non-negative "
                f"int64 of microseconds, got {source!r:.40} and {ingest_ts_us!r:.40}"
            )
        try:
            rows = list(map(self._getter, records))
        except (KeyError, TypeError):
            rows = self._rows_one_by_one(records)
        if not rows:
            return
        if self._batches:
            self._seal_batches()  # keep append order across the two kinds of append
        pending = self._pending
        pending += rows
        if self._run_ts and self._run_ts[-1] == ingest_ts_us and self._run_sources[-1] == source:
            self._run_ends[-1] = len(pending)
        else:
            self._run_ends.append(len(pending))
            self._run_sources.append(source)
            self._run_ts.append(ingest_ts_us)
        if len(pending) >= self._chunk_rows:
            self._seal()
        else:
            self.rows = self._sealed_rows + len(pending)

    def append_columns(
        self, arrays: Sequence[pa.Array], source: str, ingest_ts_us: pa.Array
    ) -> None:
        """Buffer rows given as Arrow arrays (dictionary-encoded ones too), one per native
        column in schema order, that arrived from ``source``; ``ingest_ts_us`` holds each row's
        receive time (int64 microseconds since the epoch, UTC). Rows with a null in a required
        column are set aside as rejects, as :meth:`append` does."""
        n = len(ingest_ts_us)
        if len(arrays) != len(self._native) or any(len(a) != n for a in arrays):
            raise UsageError(
                f"append_columns to {self.name}: expected {len(self._native)} arrays of "
                f"{n} rows, got lengths {[len(a) for a in arrays]}"
            )
        for array, spec in zip(arrays, self._native, strict=True):
            kind = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
            if kind != spec.type:
                raise UsageError(
                    f"append_columns to {self.name}: column {spec.name} expects {spec.type}, "
                    f"got {array.type}"
                )
        if not n:
            return
        if self._pending:
            self._seal()  # keep append order across the two kinds of append
        arrays, ingest_ts_us = self._without_missing(list(arrays), ingest_ts_us)
        self._batches.append((arrays, source, ingest_ts_us))
        self._batch_rows += len(ingest_ts_us)
        self._batch_bytes += sum(a.get_total_buffer_size() for a in arrays)
        if self._batch_rows >= self._chunk_rows:
            try:
                self._seal_batches()
            except Exception:
                self._refuse_last_batch()
                raise
        else:
            self.rows = self._sealed_rows + self._batch_rows

    def _refuse_last_batch(self) -> None:
        """Sealing failed (a bug of ours, never the venue's input): the append that triggered
        it lands nothing, and the earlier appends are sealed one by one, so they are kept and
        no later append meets them again. The caller reports the failure."""
        arrays, _, ingest_ts = self._batches.pop()
        self._batch_rows -= len(ingest_ts)
        self._batch_bytes -= sum(a.get_total_buffer_size() for a in arrays)
        earlier, self._batches = self._batches, []
        for batch in earlier:
            self._batches, self._batch_rows = [batch], len(batch[2])
            self._seal_batches()
        self._batches, self._batch_rows, self._batch_bytes = [], 0, 0
        self.rows = self._sealed_rows

    @property
    def nbytes(self) -> int:
        """Memory held: Arrow buffers of the chunks plus an estimate of the pending objects."""
        return self._sealed_bytes + self._batch_bytes + self._pending_bytes()

    def drain(self) -> pa.Table:
        """Everything buffered, in append order, as a table of ``self.schema`` (where a column
        was held dictionary-encoded, a dictionary of the column's type); then empty."""
        if self._pending:
            self._seal()
        if self._batches:
            self._seal_batches()
        arrays = [self._column(i, field) for i, field in enumerate(self.schema)]
        fields = [f.with_type(a.type) for f, a in zip(self.schema, arrays, strict=True)]
        table = pa.Table.from_arrays(arrays, schema=pa.schema(fields, self.schema.metadata))
        self._chunks, self._sealed_rows, self._sealed_bytes = [], 0, 0
        self.rows = 0
        return table

    def take_rejects(self) -> list[Reject]:
        """Records refused since the last call (reason + JSON payload), for the quarantine."""
        rejects, self._rejects = self._rejects, []
        return rejects

    def _column(self, i: int, field: pa.Field) -> pa.Array | pa.ChunkedArray:
        if field.name == PAYLOAD and not self.keep_payload:
            return pa.chunked_array([pa.nulls(self._sealed_rows, field.type)], type=field.type)
        parts = [chunk[i] for chunk in self._chunks]
        if parts and all(isinstance(part, pa.DictionaryArray) for part in parts):
            try:
                return columns.concat(parts)  # one dictionary for the whole flush
            except pa.ArrowException:  # a bug of ours: the flush still lands, decoded
                log.exception("dictionary chunks of %s.%s not combined", self.name, field.name)
        return pa.chunked_array(
            [columns.plain(chunk[i], field.type) for chunk in self._chunks], type=field.type
        )

    def _rows_one_by_one(self, records: Sequence[NativeRecord]) -> list[tuple[object, ...]]:
        """The slow path when some record lacks a key: nullable ones become null."""
        rows = []
        for record in records:
            try:
                rows.append(tuple(self._value(record, spec) for spec in self._specs))
            except (KeyError, TypeError, AttributeError) as exc:
                self._reject(f"{self.name}: record lacks required column {exc}", record)
        return rows

    @staticmethod
    def _value(record: NativeRecord, spec: ColumnSpec) -> object:
        return record.get(spec.name) if spec.nullable else record[spec.name]

    def _reject(self, reason: str, record: object) -> None:
        payload = record.get(PAYLOAD) if isinstance(record, dict) else None
        if not isinstance(payload, str):
            payload = orjson.dumps(record, default=repr).decode()
        self._rejects.append(Reject(reason, payload))

    def _seal(self) -> None:
        """Convert the pending rows into one compact Arrow chunk."""
        rows, ends = self._pending, self._run_ends
        values = list(zip(*rows, strict=True)) if rows else []
        bad: dict[int, str] = {}
        arrays = [columns.convert(s, v, bad) for s, v in zip(self._specs, values, strict=True)]
        sources = columns.narrow(pa.array(self._run_sources, pa.string()).dictionary_encode())
        source = pa.DictionaryArray.from_arrays(
            columns.repeat_runs(ends, sources.indices), sources.dictionary
        )
        ingest = columns.repeat_runs(ends, pa.array(self._run_ts, TS))
        if bad:
            arrays, source, ingest = self._drop_bad(rows, values, arrays, source, ingest, bad)
        native = [columns.compact(a) for a in arrays[: len(self.schema) - 3]]
        payload = arrays[-1] if self.keep_payload else None
        chunk = (*native, source, ingest, payload)
        self._chunks.append(chunk)
        self._sealed_rows += len(ingest)
        self._sealed_bytes += sum(a.get_total_buffer_size() for a in chunk if a is not None)
        self._pending, self._run_ends, self._run_sources, self._run_ts = [], [], [], []
        self.rows = self._sealed_rows

    def _drop_bad(
        self,
        rows: list[tuple[object, ...]],
        values: list[tuple[object, ...]],
        arrays: list[pa.Array | None],
        source: pa.Array,
        ingest: pa.Array,
        bad: dict[int, str],
    ) -> tuple[list[pa.Array], pa.Array, pa.Array]:
        """Set the bad rows aside as rejects and rebuild the columns without them."""
        keys = [spec.name for spec in self._specs]
        for i in sorted(bad):
            self._reject(f"{self.name}: {bad[i]}", dict(zip(keys, rows[i], strict=True)))
        keep = [i not in bad for i in range(len(rows))]
        mask = pa.array(keep, pa.bool_())
        rebuilt = [
            array.filter(mask)
            if array is not None
            else pa.array([v for v, k in zip(col, keep, strict=True) if k], type=spec.type)
            for spec, col, array in zip(self._specs, values, arrays, strict=True)
        ]
        return rebuilt, source.filter(mask), ingest.filter(mask)

    def _without_missing(
        self, arrays: list[pa.Array], ingest_ts: pa.Array
    ) -> tuple[list[pa.Array], pa.Array]:
        """The rows with a value in every required column; the others become rejects."""
        missing = None
        for array, spec in zip(arrays, self._native, strict=True):
            if not spec.nullable and array.null_count:
                nulls = array.is_null()
                missing = nulls if missing is None else pc.or_(missing, nulls)
        if missing is None:
            return arrays, ingest_ts
        keys = [spec.name for spec in self._native]
        for i in pc.indices_nonzero(missing).to_pylist():
            record = dict(zip(keys, (a[i].as_py() for a in arrays), strict=True))
            absent = [
                k
                for k, spec in zip(keys, self._native, strict=True)
                if not spec.nullable and record[k] is None
            ]
            self._reject(f"{self.name}: record lacks required column {absent[0]!r}", record)
        keep = pc.invert(missing)
        return [a.filter(keep) for a in arrays], ingest_ts.filter(keep)

    def _seal_batches(self) -> None:
        """Concatenate the columnar appends into one compact Arrow chunk."""
        batches = self._batches
        native = [
            columns.compact(columns.concat([b[0][i] for b in batches]))
            for i in range(len(self._native))
        ]
        ends = list(itertools.accumulate(len(b[2]) for b in batches))
        sources = columns.narrow(pa.array([b[1] for b in batches], pa.string()).dictionary_encode())
        source = pa.DictionaryArray.from_arrays(
            columns.repeat_runs(ends, sources.indices), sources.dictionary
        )
        ingest = pa.concat_arrays([b[2].cast(pa.int64()) for b in batches]).cast(TS)
        payload = pa.nulls(len(ingest), pa.string()) if self.keep_payload else None
        chunk = (*native, source, ingest, payload)
        self._chunks.append(chunk)
        self._sealed_rows += len(ingest)
        self._sealed_bytes += sum(a.get_total_buffer_size() for a in chunk if a is not None)
        self._batches, self._batch_rows, self._batch_bytes = [], 0, 0
        self.rows = self._sealed_rows

    def _pending_bytes(self) -> int:
        """Estimate of the Python objects pending, from a few evenly spaced sample rows."""
        n = len(self._pending)
        if not n:
            return 0
        sample = self._pending[:: max(1, n // _SAMPLE_ROWS)][:_SAMPLE_ROWS]
        per_row = sum(map(_object_bytes, sample)) / len(sample)
        runs = len(self._run_ends)
        lists = sys.getsizeof(self._pending) + 3 * sys.getsizeof(self._run_ends)
        return int(n * per_row) + lists + runs * sys.getsizeof(self._run_ts[0])


def _object_bytes(row: tuple[object, ...]) -> int:
    """A row tuple and the values it holds; None and the bools are shared singletons."""
    return sys.getsizeof(row) + sum(
        sys.getsizeof(v) for v in row if v is not None and v is not True and v is not False
    )
