"""Opening the Iceberg catalog named by the config.

The embedded default is a SQLite SQL catalog at ``<warehouse>/catalog.db`` beside a local
warehouse folder, so a first run needs no setup. PostgreSQL (``sql`` with a ``postgresql+...``
uri), AWS Glue and REST catalogs use the same code; only the config changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog, load_catalog

from schemahub.config import CatalogConfig, LakeConfig
from schemahub.errors import LakeError
from schemahub.lake.lean_catalog import LeanGlueCatalog, LeanSqlCatalog


def open_catalog(lake: LakeConfig) -> Catalog:
    """Load the configured catalog; raises :class:`LakeError` with the reason when it cannot."""
    props = catalog_properties(lake)
    lean = _LEAN_CATALOGS.get(lake.catalog.type)
    try:
        if lean is not None:
            return lean(lake.catalog.name, **props)
        return load_catalog(lake.catalog.name, **props)
    except Exception as exc:  # pyiceberg and its drivers raise many unrelated types here
        raise LakeError(
            f"cannot open the {lake.catalog.type} catalog '{lake.catalog.name}': {_reason(exc)}"
        ) from exc


# The catalog types whose commits skip a deep copy and a metadata re-read (lake.lean_catalog);
# others (REST) are pyiceberg's own.
_LEAN_CATALOGS: dict[str, type[Catalog]] = {"sql": LeanSqlCatalog, "glue": LeanGlueCatalog}


def catalog_properties(lake: LakeConfig) -> dict[str, str]:
    """The pyiceberg properties for the configured catalog (secrets included: never log them)."""
    catalog = lake.catalog
    warehouse = _warehouse_location(lake.warehouse)
    props: dict[str, Any] = {"type": catalog.type, "warehouse": warehouse}
    if catalog.type == "sql":
        props["uri"] = catalog.uri or _default_sqlite_uri(lake.warehouse)
        props.setdefault("init_catalog_tables", "true")
    elif catalog.type == "glue":
        if catalog.region:
            props["glue.region"] = catalog.region
            props.setdefault("s3.region", catalog.region)
    elif catalog.type == "rest":
        props["uri"] = catalog.uri
    _add_secrets(props, catalog)
    props.update(catalog.properties)
    return {k: str(v) for k, v in props.items()}


def _warehouse_location(warehouse: str) -> str:
    if "://" in warehouse:
        return warehouse
    path = Path(warehouse).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a container's read-only folder instead of its data volume
        raise LakeError(
            f"lake.warehouse {warehouse!r}: cannot create the folder {path} ({exc.strerror}); "
            "expected a folder this user may write, or an s3:// location"
        ) from None
    return path.as_uri()


def _default_sqlite_uri(warehouse: str) -> str:
    if "://" in warehouse:
        raise LakeError(
            "lake.catalog.uri is required for a sql catalog when lake.warehouse is not a "
            f"local folder (got warehouse {warehouse!r})"
        )
    return f"sqlite:///{Path(warehouse).resolve() / 'catalog.db'}"


def _add_secrets(props: dict[str, Any], catalog: CatalogConfig) -> None:
    if catalog.credential is not None:
        props["credential"] = catalog.credential.get_secret_value()
    if catalog.token is not None:
        props["token"] = catalog.token.get_secret_value()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
