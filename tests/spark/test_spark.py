"""Spark 3.5 reads and writes SchemaHub's tables through Iceberg's JdbcCatalog on the same SQLite
catalog database, with the same values as pyiceberg and pyarrow; and the SQL that
``schemahub run unify --emit-sql spark`` prints merges exactly the rows the in-process unify
writes.

Spark runs locally (local[2]) with jars from local files only (see conftest.py).
"""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from schemahub.jobs.unify_sql import quote
from schemahub.lake import QUARANTINE_TABLE, RAW_TABLES, UNIFIED_TABLE, WATERMARKS_TABLE
from schemahub.mapping.kernels import MAX_EPOCH_US, MIN_EPOCH_US, Kind
from schemahub.mapping.transforms import TRANSFORMS
from tests.spark.conftest import attach_sql_catalog
from tests.spark.lakes import RECORDED, BuiltLake, cli_lake, daemon_lake, raw_only_lake

pytestmark = pytest.mark.slow

ALL_TABLES = [*RAW_TABLES.values(), UNIFIED_TABLE, WATERMARKS_TABLE, QUARANTINE_TABLE]
README_QUERY = (
    "SELECT exchange, symbol, price, quantity, trade_ts FROM {table} "
    "WHERE symbol = 'BTCUSDT' ORDER BY trade_ts DESC LIMIT 100"
)


@pytest.fixture(scope="module")
def read_lake(spark, tmp_path_factory) -> BuiltLake:
    built = daemon_lake(tmp_path_factory.mktemp("daemon_lake"), "spark_read")
    attach(spark, built)
    return built


@pytest.fixture(scope="module")
def raw_lake(spark, tmp_path_factory) -> BuiltLake:
    built = raw_only_lake(tmp_path_factory.mktemp("raw_lake"), "spark_unify")
    attach(spark, built)
    return built


def attach(spark, built: BuiltLake) -> None:
    attach_sql_catalog(
        spark, built.catalog_name, f"jdbc:sqlite:{built.catalog_db}", built.warehouse_uri
    )


def qualified(built: BuiltLake, table: str) -> str:
    return f"{built.catalog_name}.{built.config.lake.namespace}.{table}"


# --- comparing values exactly ----------------------------------------------------------------


def normal(value):
    """NaN compares unequal to itself; everything else compares as it is."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def arrow_rows(table: pa.Table) -> list[tuple]:
    """Rows with timestamps as integer microseconds since the epoch (UTC), sorted."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            assert column.type == pa.timestamp("us", tz="UTC"), column.type
            column = column.cast(pa.int64())
        columns.append(column.to_pylist())
    return sorted((tuple(map(normal, row)) for row in zip(*columns, strict=True)), key=repr)


def spark_rows(spark, sql_from: str, names: list[str]) -> list[tuple]:
    """Spark's rows of ``names`` from ``sql_from`` (a table or subquery), timestamps as
    microseconds read in Spark itself (no conversion through the Python driver's zone)."""
    frame = spark.sql(f"SELECT * FROM {sql_from}")
    types = {f.name: f.dataType.typeName() for f in frame.schema.fields}
    select = [f"unix_micros({quote(n)})" if types[n] == "timestamp" else quote(n) for n in names]
    for name in names:
        assert types[name] != "timestamp_ntz", f"{name} is read as a zone-less timestamp"
    rows = spark.sql(f"SELECT {', '.join(select)} FROM {sql_from}").collect()
    return sorted((tuple(map(normal, row)) for row in rows), key=repr)


# --- reading ---------------------------------------------------------------------------------


def test_spark_reads_every_table_as_pyiceberg_does(spark, read_lake):
    lake = read_lake.lake()
    counts = {}
    for name in ALL_TABLES:
        expected = lake.table(name).scan().to_arrow()
        counts[name] = expected.num_rows
        got = spark_rows(spark, qualified(read_lake, name), expected.schema.names)
        assert got == arrow_rows(expected), name
    # the daemon filled every venue's raw table and the unified table
    assert all(counts[name] > 0 for name in [*RAW_TABLES.values(), UNIFIED_TABLE]), counts


def test_every_parquet_file_reads_the_same_in_spark_and_pyarrow(spark, read_lake):
    lake = read_lake.lake()
    files_read = 0
    for name in ALL_TABLES:
        table = lake.table(name)
        if table.current_snapshot() is None:
            continue
        paths = table.inspect.files().column("file_path").to_pylist()
        for path in paths:
            local = path.removeprefix("file://")
            expected = pq.read_table(local)
            for field in expected.schema:
                if pa.types.is_timestamp(field.type):  # microseconds, adjusted to UTC
                    assert field.type == pa.timestamp("us", tz="UTC"), (path, field)
            frame = spark.read.parquet(path)
            frame.createOrReplaceTempView("one_file")
            assert spark_rows(spark, "one_file", expected.schema.names) == arrow_rows(expected)
            files_read += 1
    assert files_read >= 10


def test_readme_query_and_count_per_exchange_equal_pyiceberg(spark, read_lake):
    unified = read_lake.lake().table(UNIFIED_TABLE).scan().to_arrow()
    table = qualified(read_lake, UNIFIED_TABLE)

    counts = spark.sql(f"SELECT exchange, count(*) AS n FROM {table} GROUP BY exchange").collect()
    expected = unified.group_by("exchange").aggregate([("exchange", "count")])
    assert {r["exchange"]: r["n"] for r in counts} == dict(
        zip(expected["exchange"].to_pylist(), expected["exchange_count"].to_pylist(), strict=True)
    )
    assert len(counts) == 3

    query = README_QUERY.format(table=table)
    got = spark.sql(
        f"SELECT exchange, symbol, price, quantity, unix_micros(trade_ts) AS us FROM ({query})"
    ).collect()
    btc = unified.filter(pc.equal(unified["symbol"], "BTCUSDT"))
    btc = btc.select(["exchange", "symbol", "price", "quantity", "trade_ts"])
    btc = btc.sort_by([("trade_ts", "descending")])
    want = [tuple(r.values()) for r in btc.to_pylist()]
    assert len(got) == min(100, len(want)) == 100
    # trades of one tick share a timestamp: rows tied at the cut-off may come in either order
    want_micros = [int(r[4].timestamp() * 1_000_000) for r in want]
    assert [r["us"] for r in got] == want_micros[:100]
    cutoff = want_micros[99]
    above = sorted(w[:4] for w, us in zip(want, want_micros, strict=True) if us > cutoff)
    assert sorted(tuple(r)[:4] for r in got if r["us"] > cutoff) == above
    tied = [w[:4] for w, us in zip(want, want_micros, strict=True) if us == cutoff]
    assert all(tuple(r)[:4] in tied for r in got if r["us"] == cutoff)


# --- writing ---------------------------------------------------------------------------------


def unified_rows(built: BuiltLake) -> list[tuple]:
    return arrow_rows(built.lake().table(UNIFIED_TABLE).scan().to_arrow())


def test_emitted_merge_writes_exactly_the_rows_of_the_in_process_unify(spark, raw_lake, capsys):
    assert raw_lake.cli("run", "unify", "trades_unified") == 0
    in_process = unified_rows(raw_lake)
    keys = {row[:3] for row in in_process}
    # the careful rows: kept, refused and deduplicated as the mappings say
    assert ("binance", "BTCUSDT", 9_000_001) in keys and (
        "binance",
        "BTCUSDT",
        9_000_004,
    ) not in keys
    assert ("coinbase", "BTC-USD", 8000003) in keys and ("coinbase", "BTC-USD", 8000006) not in keys
    assert ("kraken", "BTC/USD", 7_000_006) in keys and ("kraken", "BTC/USD", 7_000_002) not in keys
    assert len(in_process) > 900

    # Spark writes, pyiceberg reads: empty the unified table from Spark
    spark.sql(f"DELETE FROM {qualified(raw_lake, UNIFIED_TABLE)}")
    assert unified_rows(raw_lake) == []

    capsys.readouterr()
    assert raw_lake.cli("run", "unify", "trades_unified", "--emit-sql", "spark") == 0
    sql = capsys.readouterr().out
    assert sql.lstrip().startswith("--") and "MERGE INTO" in sql
    spark.sql(sql)
    assert unified_rows(raw_lake) == in_process

    # merging again adds nothing; neither does the in-process unify afterwards
    spark.sql(sql)
    assert unified_count(raw_lake) == len(in_process)
    assert raw_lake.cli("run", "unify", "trades_unified") == 0
    assert unified_rows(raw_lake) == in_process


def unified_count(built: BuiltLake) -> int:
    return built.lake().table(UNIFIED_TABLE).scan().to_arrow().num_rows


def test_a_row_spark_inserts_is_read_by_pyiceberg_and_unified_in_process(spark, raw_lake):
    raw = qualified(raw_lake, RAW_TABLES["kraken"])
    spark.sql(
        f"INSERT INTO {raw} (symbol, trade_id, price, qty, side, ord_type, timestamp, _source,"
        " _source_ingest_ts, _raw_payload) VALUES ('ETH/USD', 6000001, 1919.25, 0.125, 'sell',"
        " 'market', '2026-03-02T01:02:03.456789Z', 'spark', timestamp_micros(1772413323456790),"
        " NULL)"
    )
    rows = raw_lake.lake().table(RAW_TABLES["kraken"]).scan().to_arrow()
    mine = rows.filter(pc.equal(rows["trade_id"], 6000001)).to_pylist()
    assert len(mine) == 1
    assert mine[0]["price"] == 1919.25 and mine[0]["timestamp"] == "2026-03-02T01:02:03.456789Z"
    assert int(mine[0]["_source_ingest_ts"].timestamp() * 1e6) == 1772413323456790

    assert raw_lake.cli("run", "unify", "trades_unified") == 0
    unified = raw_lake.lake().table(UNIFIED_TABLE).scan().to_arrow()
    row = unified.filter(pc.equal(unified["trade_id"], 6000001)).to_pylist()
    assert len(row) == 1 and row[0]["side"] == "SELL" and row[0]["exchange"] == "kraken"
    assert row[0]["trade_ts"].isoformat() == "2026-03-02T01:02:03.456789+00:00"


# --- each transform's Spark SQL against the transform itself ---------------------------------

LOW_MS, HIGH_MS = -(-MIN_EPOCH_US // 1000), MAX_EPOCH_US // 1000
ISO_TEXTS = [
    "2026-01-01T00:00:00Z",
    "2026-01-01 00:00:00+01",
    "2026-01-01T00:00:00+0130",
    "2026-01-01T00:00:00+01:30",
    "2026-01-01T00:00:00+23:59",
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00+19:00",
    "2026-01-01T00:00:00-18:30",
    "2026-01-01T00:00:00+01:60",
    "2026-01-01T00:00:00-00:00",
    "2026-01-01T24:00:00Z",
    "2026-01-01T23:59:60Z",
    "2026-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:30:00-01:00",
    "9999-12-31T23:59:59.999999-01:00",
    "9999-12-31T23:59:59.999999Z",
    "2026-01-01T00:00:00.1234567Z",
    "2026-01-01T00:00:00.123456789+01:00",
    "2026-01-01T00:00:00.1234567890Z",
    "2026-01-01T00:00:00.5Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00Z",
    "2026-01-01t00:00:00z",
    "2026-01-01T00:00:00.Z",
    "0000-01-01T00:00:00Z",
    "2026-01-01T00:00:00+1",
    "2026-01-01T00:00:00+01:3",
    "2026-01-01T23:60:00Z",
    " 2026-01-01T00:00:00Z",
    "",
    None,
]
DECIMAL_TEXTS = [
    "1",
    "+1",
    "-1",
    "1.",
    ".5",
    "1e5",
    "1E+5",
    " 1",
    "1 ",
    "1_0",
    "0x10",
    "1d",
    "inf",
    "nan",
    "Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "4.9e-324",
    "-0",
    "00012",
    "1.2.3",
    "",
    ".",
    "+.5e-3",
    "\uff11",
    "0.1000000000000000055511151231257827",
    "65083.67",
    "3.7328E-4",
    None,
]
INTEGER_TEXTS = [
    "1",
    "+1",
    "-1",
    "01",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "0x1f",
    " 1",
    "1.0",
    "",
    "\uff11",
    None,
]
SIDE_TEXTS = [
    "buy",
    "BUY",
    "bUy",
    "sell",
    "SELL",
    "\u017fell",
    "\u017fELL",
    "hold",
    "",
    "buyy",
    " buy",
    "\uff22\uff35\uff39",
    "\u00df",
    None,
]
FLOATS = [
    1.5,
    0.0,
    -0.0,
    -1.0,
    math.nan,
    math.inf,
    -math.inf,
    5e-324,
    2.0**63,
    -(2.0**63),
    1e300,
    None,
]
INTEGERS = [0, 1, -1, 2**53, 2**53 + 1, -(2**53), -(2**53) - 1, 2**63 - 1, -(2**63), None]
EPOCH_INTEGERS = [0, LOW_MS - 1, LOW_MS, HIGH_MS, HIGH_MS + 1, MIN_EPOCH_US, MAX_EPOCH_US, None]

CASES = [
    ("iso8601", pa.string(), ISO_TEXTS),
    ("to_double", pa.string(), DECIMAL_TEXTS),
    ("to_double", pa.int64(), INTEGERS),
    ("to_double", pa.float64(), FLOATS),
    ("to_int64", pa.string(), INTEGER_TEXTS),
    ("to_int64", pa.int64(), INTEGERS),
    ("to_int64", pa.float64(), FLOATS),
    ("positive", pa.float64(), FLOATS),
    ("positive", pa.int64(), INTEGERS),
    ("to_string", pa.string(), SIDE_TEXTS),
    ("to_string", pa.int64(), INTEGERS),
    ("to_string", pa.bool_(), [True, False, None]),
    ("from_s", pa.int64(), [*EPOCH_INTEGERS, -62135596800, 253402300799, 253402300800]),
    ("from_ms", pa.int64(), EPOCH_INTEGERS),
    ("from_us", pa.int64(), EPOCH_INTEGERS),
    ("taker_side_from_buyer_maker", pa.bool_(), [True, False, None]),
    ("normalize_side", pa.string(), SIDE_TEXTS),
    ("invert_side", pa.string(), SIDE_TEXTS),
    ("maker_to_taker", pa.string(), SIDE_TEXTS),
]


def sql_literal(value, arrow_type: pa.DataType) -> str:
    spark_type = {"string": "STRING", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN"}[
        str(arrow_type)
    ]
    if value is None:
        return f"CAST(NULL AS {spark_type})"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return (
        f"CAST('{value!r}' AS {spark_type})"
        if isinstance(value, float)
        else f"CAST({value} AS BIGINT)"
    )


@pytest.mark.parametrize(
    ("name", "arrow_type", "values"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_each_transform_translation_equals_the_transform(spark, name, arrow_type, values):
    transform = TRANSFORMS[name]
    sql = transform.spark("x", Kind.of(arrow_type))
    assert sql is not None
    expected = transform(pa.array(values, arrow_type)).values
    if pa.types.is_timestamp(expected.type):
        expected = expected.cast(pa.int64())
        sql = f"unix_micros({sql})"
    rows = ", ".join(f"({i}, {sql_literal(v, arrow_type)})" for i, v in enumerate(values))
    got = spark.sql(f"SELECT {sql} AS y FROM VALUES {rows} AS v(i, x) ORDER BY i").collect()
    got_values = [normal(r["y"]) for r in got]
    want = [normal(v) for v in expected.to_pylist()]
    assert got_values == want, list(zip(values, got_values, want, strict=True))
    assert any(v is None for v in want) and any(v is not None for v in want)


# --- the PostgreSQL catalog ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_lake(spark, postgres_uri, tmp_path_factory) -> BuiltLake:
    """A lake on the PostgreSQL catalog: a recording loaded and unified, through the CLI."""
    folder = tmp_path_factory.mktemp("pg_lake")
    built = cli_lake(folder, {"type": "sql", "uri": postgres_uri, "name": "spark_pg"})
    assert built.cli("tables", "init") == 0
    capture = str(RECORDED / "coinbase_advanced_ws.jsonl")
    assert built.cli("capture", "load", "coinbase", capture) == 0
    assert built.cli("run", "unify", "trades_unified") == 0
    address = postgres_uri.split("@", 1)[1]  # 127.0.0.1:port/lake
    attach_sql_catalog(
        spark,
        "spark_pg",
        f"jdbc:postgresql://{address}",
        built.warehouse_uri,
        **{"jdbc.user": "postgres"},
    )
    return built


def test_spark_reads_and_writes_through_the_postgres_catalog(spark, pg_lake):
    lake = pg_lake.lake()
    for name in (UNIFIED_TABLE, RAW_TABLES["coinbase"]):
        expected = lake.table(name).scan().to_arrow()
        assert expected.num_rows > 200
        assert spark_rows(spark, qualified(pg_lake, name), expected.schema.names) == arrow_rows(
            expected
        )
    quarantine = qualified(pg_lake, QUARANTINE_TABLE)
    spark.sql(
        f"INSERT INTO {quarantine} VALUES ('kraken', 'spark', 'a reason', NULL,"
        " timestamp_micros(1772413323456789))"
    )
    rows = lake.table(QUARANTINE_TABLE).scan().to_arrow().to_pylist()
    assert [(r["source"], r["reason"]) for r in rows] == [("spark", "a reason")]
    assert int(rows[0]["quarantined_at"].timestamp() * 1e6) == 1772413323456789
