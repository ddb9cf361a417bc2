"""YAML mapping rules compiled into a vectorised Arrow transform (native rows -> unified rows).

Usage::

    mappings = load_mappings("config/mappings", {"raw_binance_trades": schema, ...}, UNIFIED_SCHEMA)
    result = mappings["raw_binance_trades"].apply(raw_batch)
    result.table      # exactly UNIFIED_SCHEMA
    result.rejected   # REJECTED_SCHEMA: row, reason, raw_payload
"""

from schemahub.mapping.compiled import REJECTED_SCHEMA, CompiledMapping, MappingResult
from schemahub.mapping.compiler import compile_spec, load_mapping, load_mappings
from schemahub.mapping.spec import MappingSpec, read_spec
from schemahub.mapping.transforms import TRANSFORMS, Transform

__all__ = [
    "REJECTED_SCHEMA",
    "TRANSFORMS",
    "CompiledMapping",
    "MappingResult",
    "MappingSpec",
    "Transform",
    "compile_spec",
    "load_mapping",
    "load_mappings",
    "read_spec",
]
