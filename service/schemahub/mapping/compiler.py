"""Compiling mapping files against schemas: every mistake surfaces at load time.

A compiled mapping knows, for each target column, which source column feeds it and which
transforms run, and it has checked that each transform accepts the type it is given and that the
chain ends in the target column's type. Errors name the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from schemahub.errors import MappingError
from schemahub.mapping.compiled import ColumnPlan, CompiledMapping
from schemahub.mapping.kernels import Kind
from schemahub.mapping.spec import MappingSpec, mapping_error, read_spec
from schemahub.mapping.transforms import TRANSFORMS, Transform

MAPPING_SUFFIXES = (".yaml", ".yml")
# The original tool keeps its product lists (``update-seed``) beside the mappings: not mappings.
SEED_FILE_PREFIX = "product_ids_seed"
# Which YAML scalars may fill a column of each type family.
_CONSTANT_TYPES: dict[Kind, tuple[type, ...]] = {
    Kind.STRING: (str,),
    Kind.INTEGER: (int,),
    Kind.FLOAT: (int, float),
    Kind.DECIMAL: (int, str),
    Kind.BOOL: (bool,),
    Kind.TIMESTAMP: (datetime,),
}


def mapping_files(directory: str | Path) -> list[Path]:
    """The mapping files in ``directory``: every ``*.yaml`` / ``*.yml`` but the product seeds."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in MAPPING_SUFFIXES and not path.name.startswith(SEED_FILE_PREFIX)
    )


def load_mapping(
    path: str | Path, source_schema: pa.Schema, target_schema: pa.Schema
) -> CompiledMapping:
    """Read the mapping file at ``path`` and compile it for rows of ``source_schema``."""
    return compile_spec(read_spec(path), source_schema, target_schema)


def load_mappings(
    directory: str | Path, source_schemas: Mapping[str, pa.Schema], target_schema: pa.Schema
) -> dict[str, CompiledMapping]:
    """Compile every ``*.yaml`` / ``*.yml`` in ``directory``, keyed by source table name.

    ``source_schemas`` maps each known source table (e.g. ``raw_binance_trades``) to its schema.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MappingError(f"{directory}: mapping directory does not exist")
    paths = mapping_files(directory)
    if not paths:
        raise MappingError(f"{directory}: no mapping files (*.yaml) found")
    compiled: dict[str, CompiledMapping] = {}
    for path in paths:
        spec = read_spec(path)
        if spec.source not in source_schemas:
            known = ", ".join(sorted(source_schemas))
            raise mapping_error(path, "source", f"unknown source {spec.source!r} (known: {known})")
        if spec.source in compiled:
            other = compiled[spec.source].path
            raise mapping_error(path, "source", f"{spec.source!r} is already mapped by {other}")
        compiled[spec.source] = compile_spec(spec, source_schemas[spec.source], target_schema)
    return compiled


def compile_spec(
    spec: MappingSpec, source_schema: pa.Schema, target_schema: pa.Schema
) -> CompiledMapping:
    """Check ``spec`` against both schemas and build its column plans in target order."""
    for section, columns in (("mappings", spec.mappings), ("constants", spec.constants)):
        for column in columns:
            if column not in target_schema.names:
                raise mapping_error(
                    spec.path,
                    f"{section}.{column}",
                    f"{column!r} is not a column of {spec.target_table} "
                    f"(columns: {', '.join(target_schema.names)})",
                )
    plans = tuple(_plan(spec, field, source_schema) for field in target_schema)
    return CompiledMapping(
        path=spec.path,
        source=spec.source,
        target_table=spec.target_table,
        target_schema=target_schema,
        source_schema=source_schema,
        columns=plans,
    )


def _plan(spec: MappingSpec, field: pa.Field, source_schema: pa.Schema) -> ColumnPlan:
    if field.name in spec.mappings:
        return _source_plan(spec, field, source_schema)
    if field.name in spec.constants:
        return ColumnPlan(field, constant=_constant(spec, field))
    if field.nullable:
        return ColumnPlan(field)
    raise mapping_error(
        spec.path,
        f"mappings.{field.name}",
        f"required column {field.name!r} of {spec.target_table} is not mapped "
        "(add it to mappings or constants)",
    )


def _source_plan(spec: MappingSpec, field: pa.Field, source_schema: pa.Schema) -> ColumnPlan:
    source = spec.mappings[field.name]
    if source not in source_schema.names:
        raise mapping_error(
            spec.path,
            f"mappings.{field.name}",
            f"source column {source!r} is not in {spec.source} "
            f"(columns: {', '.join(source_schema.names)})",
        )
    key = f"transforms.{field.name}"
    current = source_schema.field(source).type
    steps: list[Transform] = []
    for name in spec.transforms.get(field.name, ()):
        step = _transform(spec.path, key, name)
        if not step.accepts_type(current):
            after = f" after {steps[-1].name}" if steps else ""
            accepted = ", ".join(sorted(kind.value for kind in step.accepts))
            raise mapping_error(
                spec.path,
                key,
                f"{name} accepts {accepted}, but gets {current} (source column {source!r}{after})",
            )
        current = step.output_type(current)
        steps.append(step)
    if not current.equals(field.type):
        raise mapping_error(
            spec.path,
            key if steps else f"mappings.{field.name}",
            f"produces {current} but {spec.target_table}.{field.name} is {field.type}"
            f"{_suggest(current, field.type)}",
        )
    return ColumnPlan(field, source=source, steps=tuple(steps))


def _transform(path: Path, key: str, name: str) -> Transform:
    try:
        return TRANSFORMS[name]
    except KeyError:
        known = ", ".join(sorted(TRANSFORMS))
        raise mapping_error(path, key, f"unknown transform {name!r} (known: {known})") from None


def _suggest(produced: pa.DataType, wanted: pa.DataType) -> str:
    fitting = sorted(
        name
        for name, step in TRANSFORMS.items()
        if step.accepts_type(produced) and step.output_type(produced).equals(wanted)
    )
    return f"; a transform that fits: {', '.join(fitting)}" if fitting else ""


def _constant(spec: MappingSpec, field: pa.Field) -> pa.Scalar:
    key = f"constants.{field.name}"
    value = spec.constants[field.name]
    if value is None:
        if not field.nullable:
            raise mapping_error(spec.path, key, f"required column {field.name!r} cannot be null")
        return pa.scalar(None, field.type)
    kind = Kind.of(field.type)
    allowed = _CONSTANT_TYPES.get(kind) if kind is not None else None
    if allowed is None:
        raise mapping_error(spec.path, key, f"constants of type {field.type} are not supported")
    # bool is an int in Python, but `true` for a price is a mistake, not 1.
    wrong_bool = isinstance(value, bool) and kind is not Kind.BOOL
    if wrong_bool or not isinstance(value, allowed):
        raise mapping_error(
            spec.path, key, f"{value!r} does not fit column {field.name!r} of type {field.type}"
        )
    if isinstance(value, datetime) and value.tzinfo is None:
        raise mapping_error(spec.path, key, f"{value!r} needs a zone (e.g. Z or +00:00)")
    try:
        return pa.scalar(Decimal(value) if kind is Kind.DECIMAL else value, field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ArithmeticError) as exc:
        raise mapping_error(
            spec.path, key, f"{value!r} does not fit column {field.name!r} of type {field.type}"
        ) from exc
