"""A compiled mapping: a fixed plan of column transforms applied to whole Arrow batches.

The live daemon and the batch ``unify`` command both call :meth:`CompiledMapping.apply`, so the
two paths produce identical rows. A row is rejected (never silently dropped) when one of its
values fails a transform or a required column would be null; its siblings still land.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from schemahub.errors import MappingError
from schemahub.mapping.kernels import merge_invalid
from schemahub.mapping.transforms import Transform

RAW_PAYLOAD_COLUMN = "_raw_payload"
# One row per rejected input row: its index in the input, why, and its raw payload if known.
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("row", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_payload", pa.string(), nullable=True),
    ]
)
_NO_REJECTS = REJECTED_SCHEMA.empty_table()  # immutable, so one instance serves every call
_MAX_VALUE_CHARS = 80
_REQUIRED = "required"


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """How one target column is produced: from a source column through transforms, or a
    constant (a null scalar for an optional column nobody mapped)."""

    field: pa.Field
    source: str | None = None
    steps: tuple[Transform, ...] = ()
    constant: pa.Scalar | None = None


@dataclass(frozen=True, slots=True)
class MappingResult:
    """Mapped rows (the target schema; with ``keep_encoded``, repeated strings may be
    dictionary-encoded) and the rows that could not be mapped."""

    table: pa.Table
    rejected: pa.Table  # REJECTED_SCHEMA

    @property
    def reasons(self) -> list[str]:
        """The reject reasons, in input row order."""
        return self.rejected.column("reason").to_pylist()


@dataclass(frozen=True, slots=True)
class _Failure:
    """Rows one check refused in one column, with the values it was given."""

    target: str
    check: str
    expects: str
    mask: pa.BooleanArray
    inputs: pa.Array

    def spread(self, indices: pa.Array) -> _Failure | None:
        """This failure, found on a dictionary's values, as the rows holding ``indices``
        see it; None when no row holds a refused value."""
        mask = pc.fill_null(self.mask.take(indices), False)
        if not mask.true_count:
            return None
        inputs = pa.DictionaryArray.from_arrays(indices, self.inputs)
        return _Failure(self.target, self.check, self.expects, mask, inputs)

    def reason(self, value: object) -> str:
        if self.check == _REQUIRED:
            return f"{self.target}: required, but {self.expects} is null"
        text = repr(value)
        if len(text) > _MAX_VALUE_CHARS:
            text = text[: _MAX_VALUE_CHARS - 3] + "..."
        return f"{self.target}: {self.check} refused {text} (expected {self.expects})"


@dataclass(frozen=True)
class CompiledMapping:
    """A mapping file checked against its source and target schemas, ready to apply."""

    path: Path
    source: str
    target_table: str
    target_schema: pa.Schema
    source_schema: pa.Schema
    columns: tuple[ColumnPlan, ...]

    def apply(
        self, data: pa.Table | pa.RecordBatch, *, keep_encoded: bool = False
    ) -> MappingResult:
        """Map ``data`` (rows of the source table) to target rows; refused rows are returned
        in ``rejected`` with a reason naming the column, the transform and the value.

        The work is a fixed number of Arrow kernel calls per column whatever the row count, so a
        call costs a few hundred microseconds plus well under a microsecond per row: hand it
        batches (a flush, a REST page, a short window of frames), not one trade at a time.
        A source column may be dictionary-encoded (as the raw buffers drain repetitive ones):
        its transforms then run once per distinct value.

        With ``keep_encoded`` a string target column stays dictionary-encoded where its values
        repeat by construction: mapped from a dictionary-encoded source, or a constant. The
        rows are the same; only the table's type for those columns is the dictionary one (the
        lake writes them from their dictionary, and every reader sees plain strings).
        """
        sources = self._source_columns(data)
        rows = data.num_rows
        outputs: list[pa.Array] = []
        failures: list[_Failure] = []
        for plan in self.columns:
            values, column_failures = _evaluate(plan, sources, rows, keep_encoded)
            outputs.append(values)
            failures.extend(column_failures)
            failures.extend(_missing_required(plan, values, column_failures))
        fields = [f.with_type(v.type) for f, v in zip(self.target_schema, outputs, strict=True)]
        table = pa.Table.from_arrays(outputs, schema=pa.schema(fields, self.target_schema.metadata))
        refused = merge_invalid(*(failure.mask for failure in failures))
        if refused is None:
            return MappingResult(table, _NO_REJECTS)
        return MappingResult(table.filter(pc.invert(refused)), _rejected(data, failures))

    def _source_columns(
        self, data: pa.Table | pa.RecordBatch
    ) -> dict[str, pa.Array | pa.ChunkedArray]:
        columns: dict[str, pa.Array | pa.ChunkedArray] = {}
        for plan in self.columns:
            if plan.source is None or plan.source in columns:
                continue
            expected = self.source_schema.field(plan.source).type
            if plan.source not in data.schema.names:
                raise MappingError(
                    f"{self.path}: input lacks column {plan.source!r} of {self.source}"
                )
            column = data.column(plan.source)
            if not _value_type(column.type).equals(expected):
                raise MappingError(
                    f"{self.path}: input column {plan.source!r} is {column.type}, "
                    f"but the mapping was compiled for {expected}"
                )
            columns[plan.source] = column  # combined only if a transform needs it
        return columns


def _missing_required(
    plan: ColumnPlan, values: pa.Array, column_failures: list[_Failure]
) -> list[_Failure]:
    """A failure for rows where a required column is null, unless this column's own transforms
    already refused them (those nulls are theirs, and are reported once)."""
    if plan.field.nullable or values.null_count == 0:
        return []
    mask = pc.is_null(values)
    refused_here = merge_invalid(*(failure.mask for failure in column_failures))
    if refused_here is not None:
        mask = pc.and_(mask, pc.invert(refused_here))
    if not pc.any(mask).as_py():
        return []
    origin = f"source column {plan.source!r}" if plan.source else "the constant"
    return [_Failure(plan.field.name, _REQUIRED, origin, mask, values)]


def _as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def _value_type(type_: pa.DataType) -> pa.DataType:
    return type_.value_type if pa.types.is_dictionary(type_) else type_


def _evaluate(
    plan: ColumnPlan,
    sources: dict[str, pa.Array | pa.ChunkedArray],
    rows: int,
    keep_encoded: bool,
) -> tuple[pa.Array | pa.ChunkedArray, list[_Failure]]:
    """One target column's values (null where refused) and the failures met on the way."""
    if plan.source is None:
        scalar = plan.constant if plan.constant is not None else pa.scalar(None, plan.field.type)
        if not scalar.is_valid:
            return pa.nulls(rows, plan.field.type), []
        if keep_encoded and _is_text(scalar.type):
            zeros = pa.repeat(pa.scalar(0, pa.int8()), rows)
            return pa.DictionaryArray.from_arrays(zeros, pa.array([scalar], scalar.type)), []
        return pa.repeat(scalar, rows), []
    values = sources[plan.source]
    if not plan.steps and not pa.types.is_dictionary(values.type):
        return values, []  # taken as it is: a flush's chunks are not copied into one
    values = _as_array(values)
    if isinstance(values, pa.DictionaryArray):
        return _evaluate_encoded(plan, values, keep_encoded)
    return _run_steps(plan, values)


def _evaluate_encoded(
    plan: ColumnPlan, encoded: pa.DictionaryArray, keep_encoded: bool
) -> tuple[pa.Array, list[_Failure]]:
    """The steps on the distinct values, then each row takes its value's outcome (the steps
    are value by value, so this equals running them on the decoded column)."""
    values, failures = _run_steps(plan, encoded.dictionary)
    indices = encoded.indices
    spread = [failure.spread(indices) for failure in failures]
    failures = [failure for failure in spread if failure is not None]
    # A refused value is a null in the dictionary, which a row's null check would not see
    # through its index: such a column is spread out plain.
    if keep_encoded and _is_text(values.type) and values.null_count == 0:
        return pa.DictionaryArray.from_arrays(indices, values), failures
    return values.take(indices), failures


def _is_text(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def _run_steps(plan: ColumnPlan, values: pa.Array) -> tuple[pa.Array, list[_Failure]]:
    failures: list[_Failure] = []
    for step in plan.steps:
        result = step(values)
        if result.invalid is not None:
            failures.append(
                _Failure(plan.field.name, step.name, step.expects, result.invalid, values)
            )
        values = result.values
    return values, failures


def _rejected(data: pa.Table | pa.RecordBatch, failures: list[_Failure]) -> pa.Table:
    """One row per refused input row, reasons joined when a row failed several checks."""
    reasons: dict[int, list[str]] = {}
    for failure in failures:
        # Per-row Python only over the refused rows.
        indices = pc.indices_nonzero(failure.mask)
        refused_values = failure.inputs.take(indices).to_pylist()
        for index, value in zip(indices.to_pylist(), refused_values, strict=True):
            reasons.setdefault(index, []).append(failure.reason(value))
    rows = sorted(reasons)
    if RAW_PAYLOAD_COLUMN in data.schema.names:
        payloads = _as_array(data.column(RAW_PAYLOAD_COLUMN)).take(pa.array(rows, pa.int64()))
        payload_array = payloads.cast(pa.string())
    else:
        payload_array = pa.nulls(len(rows), pa.string())
    return pa.Table.from_arrays(
        [
            pa.array(rows, pa.int64()),
            pa.array(["; ".join(reasons[row]) for row in rows], pa.string()),
            payload_array,
        ],
        schema=REJECTED_SCHEMA,
    )
