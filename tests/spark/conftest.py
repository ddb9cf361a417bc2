"""One local Spark 3.5 session for the Spark tests, with jars from local files only.

The Iceberg runtime comes from the PyPI package ``snowpark-connect-deps-iceberg`` (1.0.2 ships
the complete ``iceberg-spark-runtime-3.5_2.12-1.10.2.jar``), the SQLite and PostgreSQL JDBC
drivers from Debian (``libxerial-sqlite-jdbc-java``, ``libpostgresql-jdbc-java``). Nothing is
resolved through Ivy or Maven: no ``spark.jars.packages``, and Ivy's folder is a fresh temp one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

SQLITE_JDBC = Path("/usr/share/java/sqlite-jdbc.jar")
POSTGRES_JDBC = Path("/usr/share/java/postgresql.jar")


def iceberg_runtime_jar() -> Path:
    """The Iceberg runtime for Spark 3.5 / Scala 2.12 inside the installed wheel."""
    import snowpark_connect_deps_iceberg as deps

    jars = sorted(deps.get_jars_dir().glob("iceberg-spark-runtime-3.5_2.12-*.jar"))
    if len(jars) != 1:
        pytest.fail(f"expected one iceberg-spark-runtime-3.5_2.12 jar, found {jars}")
    return jars[0]


def local_jars() -> list[Path]:
    """Every jar the session loads; each must exist on this machine."""
    jars = [iceberg_runtime_jar(), SQLITE_JDBC, POSTGRES_JDBC]
    missing = [str(j) for j in jars if not j.is_file()]
    if missing:
        pytest.fail(f"missing jars (see .ci/run's apt list): {', '.join(missing)}")
    return jars


@pytest.fixture(scope="session")
def spark(tmp_path_factory) -> Iterator:
    """A local[2] Spark session with the Iceberg SQL extensions, bound to 127.0.0.1."""
    from pyspark.sql import SparkSession

    scratch = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("schemahub-tests")
        .config("spark.jars", ",".join(str(j) for j in local_jars()))
        .config("spark.jars.ivy", str(scratch / "ivy"))
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.warehouse.dir", str(scratch / "spark-warehouse"))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config(
            "spark.sql.extensions",
            "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        )
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # py4j logs its connection closing from __del__, after pytest closed the captured streams
    logging.getLogger("py4j").setLevel(logging.WARNING)
    yield session
    session.stop()


def attach_sql_catalog(spark, name: str, jdbc_uri: str, warehouse: str, **extra: str) -> None:
    """Make the pyiceberg SQL catalog ``name`` (its rows in ``iceberg_tables`` carry that
    name) visible to Spark as catalog ``name``, through Iceberg's JdbcCatalog."""
    prefix = f"spark.sql.catalog.{name}"
    settings = {
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        f"{prefix}.uri": jdbc_uri,
        f"{prefix}.warehouse": warehouse,
        # pyiceberg creates the V1 layout (iceberg_tables has the iceberg_type column)
        f"{prefix}.jdbc.schema-version": "V1",
        # pyiceberg created the tables; Iceberg 1.10.2's check for them leaves a result set
        # open, and on SQLite that holds a shared lock: no other process could commit
        f"{prefix}.jdbc.init-catalog-tables": "false",
        # pyiceberg commits between Spark queries: always read the current metadata
        f"{prefix}.cache-enabled": "false",
        **{f"{prefix}.{k}": v for k, v in extra.items()},
    }
    for key, value in settings.items():
        spark.conf.set(key, value)
