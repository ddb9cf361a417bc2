"""Opening the Iceberg catalog named by the config.

The embedded default is a SQLite SQL catalog at ``<warehouse>/catalog.db`` beside a local
warehouse folder, so a first run needs no setup. PostgreSQL (``sql`` with a ``postgresql+...``
uri), AWS Glue and REST catalogs use the same code; only the config changes.

An ``s3://`` warehouse and the Glue catalog find their endpoints and region as the AWS SDKs and
the batch commands (``schemahub.s3``) do: the config (``s3.endpoint_url``, ``s3.region``,
``lake.catalog.region``), else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_GLUE`` /
``AWS_ENDPOINT_URL`` and ``AWS_REGION`` / ``AWS_DEFAULT_REGION``. ``lake.catalog.properties``
still win over all of it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog, load_catalog

from schemahub.config import CatalogConfig, LakeConfig, S3Config
from schemahub.errors import LakeError
from schemahub.lake.lean_catalog import LeanGlueCatalog, LeanSqlCatalog
from schemahub.s3 import endpoint_url, region_name, service_endpoint_url


def open_catalog(lake: LakeConfig, s3: S3Config | None = None) -> Catalog:
    """Load the configured catalog; raises :class:`LakeError` with the reason when it cannot.
    ``s3``: the config's object storage section (endpoint and region of an S3 warehouse)."""
    props = catalog_properties(lake, s3)
    lean = _LEAN_CATALOGS.get(lake.catalog.type)
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            if lean is not None:
                return lean(lake.catalog.name, **props)
            return load_catalog(lake.catalog.name, **props)
        except Exception as exc:  # pyiceberg and its drivers raise many unrelated types here
            if attempt + 1 < _OPEN_ATTEMPTS and _lost_creation_race(exc):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise LakeError(
                f"cannot open the {lake.catalog.type} catalog '{lake.catalog.name}': {_reason(exc)}"
            ) from exc
    raise AssertionError("unreachable: the last attempt returns or raises")


# Replicas starting together on a fresh SQL catalog all create pyiceberg's catalog tables. A
# loser's CREATE either waited on a winner's and fails on its commit (unique violation, pg_type),
# or came after the winner committed a table the loser had checked absent (duplicate table).
# Opening again finds the tables.
_OPEN_ATTEMPTS = 3
_CREATION_RACE_CODES = frozenset({"23505", "42P07"})  # unique_violation, duplicate_table


def _lost_creation_race(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, IntegrityError

    if isinstance(exc, IntegrityError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "pgcode", None)
    return code in _CREATION_RACE_CODES or "already exists" in str(exc.orig)


# The catalog types whose commits skip a deep copy and a metadata re-read (lake.lean_catalog);
# others (REST) are pyiceberg's own.
_LEAN_CATALOGS: dict[str, type[Catalog]] = {"sql": LeanSqlCatalog, "glue": LeanGlueCatalog}


def catalog_properties(lake: LakeConfig, s3: S3Config | None = None) -> dict[str, str]:
    """The pyiceberg properties for the configured catalog (secrets included: never log them)."""
    catalog = lake.catalog
    warehouse = _warehouse_location(lake.warehouse)
    props: dict[str, Any] = {"type": catalog.type, "warehouse": warehouse}
    if catalog.type == "sql":
        props["uri"] = catalog.uri or _default_sqlite_uri(lake.warehouse)
        props.setdefault("init_catalog_tables", "true")
    elif catalog.type == "rest":
        props["uri"] = catalog.uri
    if catalog.type == "glue" or warehouse.startswith("s3://"):
        _add_aws(props, catalog, s3 or S3Config())
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


def _add_aws(props: dict[str, Any], catalog: CatalogConfig, s3: S3Config) -> None:
    """Region and endpoints resolved like the AWS SDKs do (module docstring). A region is
    always passed when one is known: without it pyiceberg asks AWS itself where the bucket is,
    which no moto or MinIO endpoint (nor a network without AWS) answers."""
    region = region_name(catalog.region or s3.region)
    if region:
        props["client.region"] = region
    s3_endpoint = endpoint_url(s3.endpoint_url)
    if s3_endpoint:
        props["s3.endpoint"] = s3_endpoint
    glue_endpoint = service_endpoint_url("GLUE", None)
    if catalog.type == "glue" and glue_endpoint:
        props["glue.endpoint"] = glue_endpoint


def _add_secrets(props: dict[str, Any], catalog: CatalogConfig) -> None:
    if catalog.credential is not None:
        props["credential"] = catalog.credential.get_secret_value()
    if catalog.token is not None:
        props["token"] = catalog.token.get_secret_value()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
