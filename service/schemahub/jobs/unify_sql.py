"""``schemahub run unify trades_unified --emit-sql spark``: the unify job as one Spark SQL MERGE.

For raw history too large for one process. The SQL is generated from the same compiled YAML
mappings as the in-process unify, each transform through the Spark SQL translation registered
with it (``Transform.spark``), so both produce the same rows: the same values, the same rows left
out as rejects, the same keys kept. A transform with no exact Spark SQL equivalent for its input
is refused (:class:`UsageError`), never approximated.

Each raw table's rows pass through one SELECT layer per transform step, then a filter that drops
exactly the rows the in-process unify would quarantine (a step refused a value, or a required
column is null). The survivors are ranked per key and merged: ``WHEN NOT MATCHED THEN INSERT``
only, so keys the table already holds are left alone, as ``drop_committed`` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from schemahub.errors import UsageError
from schemahub.jobs.tables import mapping_extra_fields
from schemahub.lake import UNIFIED_TABLE
from schemahub.lake.schemas import UNIFIED_KEY, UNIFIED_SCHEMA
from schemahub.lake.tables import raw_schemas
from schemahub.mapping import CompiledMapping, load_mappings
from schemahub.mapping.compiled import ColumnPlan
from schemahub.mapping.kernels import Kind

SQL_DIALECTS = ("spark",)
_RANK = "_schemahub_rank"
_SOURCE_PREFIX = "_schemahub_source_"
_TIE_BREAK_FIRST = "ingest_ts"  # of two raw rows with one key, the earlier ingest wins
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class SqlNames:
    """Where the tables are in the Spark session: ``<catalog>.<namespace>.<table>``."""

    catalog: str
    namespace: str

    def table(self, name: str) -> str:
        """The quoted, fully qualified name of table ``name``."""
        return ".".join(quote(part) for part in (self.catalog, self.namespace, name))


def quote(identifier: str) -> str:
    """A Spark SQL identifier in backticks."""
    return "`" + identifier.replace("`", "``") + "`"


def unify_merge_sql(mappings_dir: Path, names: SqlNames, target: str = UNIFIED_TABLE) -> str:
    """The Spark SQL statement that brings ``target`` up to date with every raw table."""
    if target != UNIFIED_TABLE:
        raise UsageError(f"unknown unify target {target!r}; expected {UNIFIED_TABLE!r}")
    schema = pa.schema([*UNIFIED_SCHEMA, *mapping_extra_fields(mappings_dir)])
    compiled = load_mappings(mappings_dir, raw_schemas(), schema)
    mappings = [m for m in compiled.values() if m.target_table == target]
    if not mappings:
        raise UsageError(f"no mapping in {mappings_dir} targets {target}")
    mapped = "\n    UNION ALL\n".join(_indent(mapped_rows(m, names), 4) for m in mappings)
    columns = schema.names
    order = [_TIE_BREAK_FIRST, *(c for c in columns if c not in (*UNIFIED_KEY, _TIE_BREAK_FIRST))]
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in UNIFIED_KEY)
    listed = ", ".join(quote(c) for c in columns)
    return "\n".join(
        [
            *_header(target, mappings),
            f"MERGE INTO {names.table(target)} AS t",
            "USING (",
            f"  SELECT {listed} FROM (",
            f"    SELECT *, ROW_NUMBER() OVER (PARTITION BY {_list(UNIFIED_KEY)}"
            f" ORDER BY {_list(order)}) AS {_RANK}",
            "    FROM (",
            mapped,
            "    ) AS mapped",
            "  ) AS ranked",
            f"  WHERE {_RANK} = 1",
            ") AS s",
            f"ON {on}",
            f"WHEN NOT MATCHED THEN INSERT ({listed})",
            f"  VALUES ({', '.join('s.' + quote(c) for c in columns)});",
        ]
    )


def mapped_rows(mapping: CompiledMapping, names: SqlNames) -> str:
    """A SELECT of one raw table's rows mapped to the target columns, rejects left out."""
    steps = max((len(plan.steps) for plan in mapping.columns), default=0)
    sql = f"SELECT {_list_exprs(_source_layer(mapping))}\nFROM {names.table(mapping.source)}"
    for depth in range(steps):
        layer = [_step(mapping, plan, depth) for plan in mapping.columns]
        layer += [quote(_SOURCE_PREFIX + p.field.name) for p in mapping.columns if _kept_source(p)]
        sql = f"SELECT {_list_exprs(layer)}\nFROM (\n{_indent(sql, 2)}\n) AS step{depth + 1}"
    final = [_typed(plan) for plan in mapping.columns]
    where = " AND ".join(_accepted(plan) for plan in mapping.columns) or "TRUE"
    return (
        f"SELECT {_list_exprs(final)}\nFROM (\n{_indent(sql, 2)}\n) AS mapped_rows\nWHERE {where}"
    )


def _typed(plan: ColumnPlan) -> str:
    name = quote(plan.field.name)
    return f"CAST({name} AS {_spark_type(plan.field.type)}) AS {name}"


def _header(target: str, mappings: list[CompiledMapping]) -> Iterator[str]:
    sources = ", ".join(f"{m.source} ({m.path.name})" for m in mappings)
    yield f"-- {target} from {sources}, generated by `schemahub run unify --emit-sql spark`."
    yield "-- The same rows as `schemahub run unify`: values (taker side, UTC microsecond"
    yield "-- timestamps, decimal text as double), and rows it would quarantine are left out."
    yield "-- Differences: rejected rows are not written to the quarantine table; the unify"
    yield "-- position (snapshot property schemahub.unify.<raw table>) does not move, so a"
    yield "-- later `schemahub run unify` rereads these raw rows (it adds none of them, and"
    yield "-- quarantines the rejects); of raw rows sharing a key that is not yet unified, the"
    yield "-- one with the earliest ingest_ts is kept (in process: the first one read)."


def _source_layer(mapping: CompiledMapping) -> list[str]:
    exprs = []
    for plan in mapping.columns:
        name = quote(plan.field.name)
        value = quote(plan.source) if plan.source is not None else _literal(plan)
        exprs.append(f"{value} AS {name}")
    for plan in mapping.columns:
        if _kept_source(plan):
            exprs.append(f"{quote(plan.source)} AS {quote(_SOURCE_PREFIX + plan.field.name)}")
    return exprs


def _kept_source(plan: ColumnPlan) -> bool:
    """Whether the filter needs the source value: a nullable column whose steps may refuse."""
    return plan.source is not None and bool(plan.steps) and plan.field.nullable


def _step(mapping: CompiledMapping, plan: ColumnPlan, depth: int) -> str:
    column = quote(plan.field.name)
    if depth >= len(plan.steps):
        return column
    step = plan.steps[depth]
    input_type = mapping.source_schema.field(plan.source).type
    for earlier in plan.steps[:depth]:
        input_type = earlier.output_type(input_type)
    kind = Kind.of(input_type)
    sql = step.spark(column, kind) if step.spark is not None and kind is not None else None
    if sql is None:
        raise UsageError(
            f"{mapping.path}: transforms.{plan.field.name}: {step.name} on {input_type} has no "
            "exact Spark SQL equivalent, so no SQL is emitted; run `schemahub run unify` instead"
        )
    return f"{sql} AS {column}"


def _accepted(plan: ColumnPlan) -> str:
    """The row survives this column: required and not null, or no step refused its value."""
    column = quote(plan.field.name)
    if not plan.field.nullable:
        return f"{column} IS NOT NULL"
    if _kept_source(plan):
        return f"({quote(_SOURCE_PREFIX + plan.field.name)} IS NULL OR {column} IS NOT NULL)"
    return "TRUE"


def _literal(plan: ColumnPlan) -> str:
    spark_type = _spark_type(plan.field.type)
    value = plan.constant.as_py() if plan.constant is not None else None
    if value is None:
        return f"CAST(NULL AS {spark_type})"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        micros = (value - _EPOCH) // dt.timedelta(microseconds=1)
        return f"timestamp_micros({micros})"
    if isinstance(value, str | float | Decimal):
        return f"CAST({_string(str(value))} AS {spark_type})"
    return f"CAST({value} AS {spark_type})"


def _string(text: str) -> str:
    """A Spark SQL string literal (backslash is its escape character)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _spark_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "us" and arrow_type.tz:
        return "TIMESTAMP"
    names = {
        pa.string(): "STRING",
        pa.large_string(): "STRING",
        pa.int64(): "BIGINT",
        pa.int32(): "INT",
        pa.float64(): "DOUBLE",
        pa.float32(): "FLOAT",
        pa.bool_(): "BOOLEAN",
    }
    if arrow_type not in names:
        raise UsageError(f"no Spark SQL type is emitted for {arrow_type}")
    return names[arrow_type]


def _list(columns: list[str] | tuple[str, ...]) -> str:
    return ", ".join(quote(c) for c in columns)


def _list_exprs(exprs: list[str]) -> str:
    return "\n  " + ",\n  ".join(exprs)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line for line in text.splitlines())
