"""Reading a mapping file into a :class:`MappingSpec`: shape checks only, no schemas yet.

The format is the seed tool's::

    source: raw_binance_trades          # the raw table the rows come from
    target_table: trades_unified
    mappings:    {target column: source column}
    constants:   {target column: literal value}          (optional)
    transforms:  {target column: name or [names...]}     (optional, applied in order)

Every problem is a :class:`MappingError` that starts with the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from schemahub.errors import MappingError

REQUIRED_KEYS = ("source", "target_table", "mappings")
OPTIONAL_KEYS = ("constants", "transforms")


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """A mapping file as written, with its shape validated."""

    path: Path
    source: str
    target_table: str
    mappings: Mapping[str, str]  # target column -> source column
    constants: Mapping[str, Any]  # target column -> literal
    transforms: Mapping[str, tuple[str, ...]]  # target column -> transform names, in order


def mapping_error(path: Path, key: str, problem: str) -> MappingError:
    """A :class:`MappingError` in the one format: ``<file>: <key>: <problem>``."""
    return MappingError(f"{path}: {key}: {problem}")


def read_spec(path: str | Path) -> MappingSpec:
    """Parse and shape-check the mapping file at ``path``."""
    path = Path(path)
    document = _load_yaml(path)
    if not isinstance(document, dict):
        raise mapping_error(
            path, "<top level>", f"expected a mapping of keys, got {type(document).__name__}"
        )
    unknown = sorted(str(key) for key in document if key not in (*REQUIRED_KEYS, *OPTIONAL_KEYS))
    if unknown:
        allowed = ", ".join((*REQUIRED_KEYS, *OPTIONAL_KEYS))
        raise mapping_error(path, unknown[0], f"unknown key (allowed: {allowed})")
    for key in REQUIRED_KEYS:
        if key not in document:
            raise mapping_error(path, key, "required key is missing")
    spec = MappingSpec(
        path=path,
        source=_name(path, "source", document["source"]),
        target_table=_name(path, "target_table", document["target_table"]),
        mappings=_mappings(path, document["mappings"]),
        constants=_section(path, "constants", document.get("constants")),
        transforms=_transforms(path, document.get("transforms")),
    )
    _check_cross_references(spec)
    return spec


def _load_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping file: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc


def _name(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise mapping_error(path, key, f"expected a non-empty name, got {value!r}")
    return value


def _section(path: Path, key: str, value: object) -> dict[str, Any]:
    """A ``{column: ...}`` section; absent or empty means no entries."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise mapping_error(path, key, f"expected a mapping of columns, got {value!r}")
    for column in value:
        # YAML 1.1 turns keys like `on` or `1` into booleans and numbers.
        if not isinstance(column, str):
            raise mapping_error(path, f"{key}.{column}", "column names must be strings")
    return dict(value)


def _mappings(path: Path, value: object) -> dict[str, str]:
    section = _section(path, "mappings", value)
    if not section:
        raise mapping_error(path, "mappings", "maps no column")
    for target, source in section.items():
        _name(path, f"mappings.{target}", source)
    return section


def _transforms(path: Path, value: object) -> dict[str, tuple[str, ...]]:
    chains: dict[str, tuple[str, ...]] = {}
    for target, names in _section(path, "transforms", value).items():
        key = f"transforms.{target}"
        chain = (names,) if isinstance(names, str) else names
        if not isinstance(chain, list | tuple) or not chain:
            raise mapping_error(path, key, f"expected a transform name or a list, got {names!r}")
        chains[target] = tuple(_name(path, key, name) for name in chain)
    return chains


def _check_cross_references(spec: MappingSpec) -> None:
    for column in spec.constants:
        if column in spec.mappings:
            raise mapping_error(
                spec.path, f"constants.{column}", "column is also mapped in mappings; pick one"
            )
    for column in spec.transforms:
        if column not in spec.mappings:
            raise mapping_error(
                spec.path,
                f"transforms.{column}",
                "transforms apply to mapped columns only; add it to mappings",
            )
