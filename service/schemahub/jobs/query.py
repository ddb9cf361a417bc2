"""``schemahub query``: SQL over the lake's tables with DuckDB, each table by its bare name.

DuckDB's iceberg extension (and the avro one it needs) come from their PyPI wheels (the
``query`` extra) and are loaded from the package folders: nothing is downloaded at run time.
Each table becomes a view over ``iceberg_scan`` of its current metadata file, or of the
snapshot ``--as-of`` names (a snapshot id, a tag, or a time); a table with no snapshot then is
left out.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pyiceberg.table import Table

from schemahub.errors import UsageError
from schemahub.jobs.timeref import parse_moment
from schemahub.lake import Lake
from schemahub.lake.tags import tagged_snapshot

_EXTENSIONS = ("duckdb_extension_avro", "duckdb_extension_iceberg")
_MISSING = (
    "schemahub query needs DuckDB and its extension wheels: pip install 'schemahub[query]' "
    "(make installs them)"
)


@dataclass(frozen=True)
class TableView:
    """What one table name stands for in a query."""

    name: str
    metadata_location: str
    snapshot_id: int | None  # None: the table has no snapshot at the chosen moment


def connect() -> Any:
    """A DuckDB connection with the iceberg extension loaded from its wheel."""
    try:
        import importlib

        import duckdb

        modules = [importlib.import_module(name) for name in _EXTENSIONS]
    except ImportError:
        raise UsageError(_MISSING) from None
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_unsigned_extensions": True,
        }
    )
    for module in modules:
        folder = os.path.dirname(module.__file__ or "")
        found = glob.glob(os.path.join(folder, "extensions", "*", "*.duckdb_extension"))
        if len(found) != 1:
            raise UsageError(f"{_MISSING}; no extension file found in {folder}")
        con.execute(f"LOAD '{found[0]}'")
    return con


def table_views(lake: Lake, as_of: str | None = None) -> list[TableView]:
    """Every table of the namespace, at its current snapshot or the one ``as_of`` names."""
    views = []
    for identifier in sorted(lake.catalog.list_tables(lake.namespace)):
        table = lake.catalog.load_table(identifier)
        snapshot = _snapshot_of(table, as_of)
        views.append(TableView(identifier[-1], table.metadata_location, snapshot))
    if as_of is not None and all(v.snapshot_id is None for v in views):
        raise UsageError(
            f"--as-of {as_of!r} names no snapshot of any table (expected a snapshot id, a tag "
            "from `schemahub tag --list`, or an ISO time when a table had a snapshot)"
        )
    return views


def _snapshot_of(table: Table, as_of: str | None) -> int | None:
    if as_of is None:
        current = table.current_snapshot()
        return current.snapshot_id if current else None
    if as_of.isdigit() and table.snapshot_by_id(int(as_of)) is not None:
        return int(as_of)
    tagged = tagged_snapshot(table, as_of)
    if tagged is not None or as_of.isdigit() or not as_of[:1].isdigit():
        return tagged
    moment = parse_moment(as_of, "--as-of")
    snapshot = table.snapshot_as_of_timestamp(int(moment.timestamp() * 1000))
    return snapshot.snapshot_id if snapshot else None


def run_query(lake: Lake, sql: str, as_of: str | None = None) -> pa.Table:
    """The result of ``sql`` over the lake's tables, as an Arrow table."""
    import duckdb

    con = connect()
    try:
        for view in table_views(lake, as_of):
            _create_view(con, lake, view, current=as_of is None)
        try:
            return con.execute(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise UsageError(f"query failed: {_first_line(exc)}") from None
    finally:
        con.close()


def _create_view(con: Any, lake: Lake, view: TableView, *, current: bool) -> None:
    name = _quoted(view.name)
    if view.snapshot_id is None:
        if not current:
            return  # no snapshot at that moment: the table did not exist yet for this query
        empty = lake.table(view.name).schema().as_arrow().empty_table()
        con.register(f"_empty_{view.name}", empty)
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {_quoted('_empty_' + view.name)}")
        return
    location = view.metadata_location.replace("'", "''")
    con.execute(
        f"CREATE VIEW {name} AS SELECT * FROM iceberg_scan('{location}', "
        f"snapshot_from_id={view.snapshot_id})"
    )


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def aligned(rows: pa.Table) -> str:
    """``rows`` as an aligned text table: a header, a rule, numbers right-aligned."""
    names = rows.column_names
    cells = [[_cell(v) for v in rows.column(n).to_pylist()] for n in names]
    widths = [max([len(n), *(len(c) for c in col)]) for n, col in zip(names, cells, strict=True)]
    numeric = [
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        for t in rows.schema.types
    ]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in range(rows.num_rows):
        parts = [
            cells[c][r].rjust(widths[c]) if numeric[c] else cells[c][r].ljust(widths[c])
            for c in range(len(names))
        ]
        lines.append("  ".join(parts).rstrip())
    lines.append(f"({rows.num_rows} row{'s' if rows.num_rows != 1 else ''})")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
