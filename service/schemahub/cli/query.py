"""``schemahub query "SQL"``: query the lake's tables by name with DuckDB."""

from __future__ import annotations

import argparse
import io
import sys

from schemahub.cli._common import lake_from
from schemahub.errors import UsageError

FORMATS = ("table", "csv", "json", "parquet")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``query`` command."""
    parser = subparsers.add_parser(
        "query",
        help="run SQL over the tables (DuckDB; each table by its name)",
        description="Run SQL with DuckDB over the lake's Iceberg tables, each available by its "
        "name, e.g. SELECT exchange, count(*) FROM trades_unified GROUP BY ALL.",
    )
    parser.add_argument("sql", metavar="SQL")
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument("--out", metavar="FILE", help="write the result here (parquet needs it)")
    parser.add_argument(
        "--as-of",
        metavar="SNAPSHOT|TAG|TIMESTAMP",
        help="read the tables as of a snapshot id, a tag, or an ISO time",
    )
    parser.set_defaults(handler=_query)


def _query(args: argparse.Namespace) -> int:
    from schemahub.jobs.query import run_query

    if args.format == "parquet" and not args.out:
        raise UsageError("--format parquet writes a file: give --out FILE")
    _, lake = lake_from(args)
    rows = run_query(lake, args.sql, args.as_of)
    if args.format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(rows, args.out)
        return 0
    text = _render(rows, args.format)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _render(rows, fmt: str) -> str:
    if fmt == "table":
        from schemahub.jobs.query import aligned

        return aligned(rows) + "\n"
    if fmt == "csv":
        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        pacsv.write_csv(rows, buffer)
        return buffer.getvalue().decode()
    import orjson

    return orjson.dumps(rows.to_pylist(), default=str).decode() + "\n"
