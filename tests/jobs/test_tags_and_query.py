"""Tags survive expiry, compaction and orphan deletion; `schemahub query` reads the tables by
name (now, or as of a tag), in every output format, through the real command line."""

from __future__ import annotations

import csv
import io
import json
import time

import pyarrow.parquet as pq

from schemahub.cli import main
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.compaction import compact_table
from schemahub.lake.maintenance import expire_snapshots
from schemahub.lake.orphans import delete_orphans
from schemahub.lake.tags import create_tag, list_tags
from tests.lake.lakerows import append_commits, day_start, row_fingerprint


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_tagged_snapshot_outlives_expiry_compaction_and_orphan_deletion(lake: Lake):
    append_commits(lake, 5, 10, day_start(2))
    table = lake.table(UNIFIED_TABLE)
    tagged_rows = row_fingerprint(table.scan().to_arrow())
    tag = create_tag(table, "incident")
    append_commits(lake, 5, 10, day_start(2), first_id=1_000)
    table.refresh()
    compact_table(table, 0)

    result = expire_snapshots(table, 1.0, now=time.time() + 3600)
    table.refresh()
    delete_orphans(table, 0.0)

    assert result.expired > 0
    table.refresh()
    assert table.snapshot_by_id(tag.snapshot_id) is not None
    assert [t.name for t in list_tags(table)] == ["incident"]
    as_of_tag = table.scan(snapshot_id=tag.snapshot_id).to_arrow()
    assert row_fingerprint(as_of_tag) == tagged_rows
    assert table.scan().to_arrow().num_rows == 100


def test_tag_commands_create_list_and_delete(cli_lake: Lake, capsys):
    append_commits(cli_lake, 2, 5, day_start(1))
    code, out, _ = run(capsys, "tag", "before-upgrade")
    assert code == 0 and "as before-upgrade" in out
    code, out, _ = run(capsys, "tag", "--list")
    assert code == 0 and out.startswith("before-upgrade\t")
    code, _, err = run(capsys, "tag", "before-upgrade")
    assert code == 2 and "already has a reference named 'before-upgrade'" in err
    code, _, err = run(capsys, "tag", "old", "--snapshot", "12345")
    assert code == 2 and "no snapshot 12345" in err
    code, _, err = run(capsys, "tag", "old", "--at", "yesterday")
    assert code == 2 and "--at 'yesterday' is not a time" in err
    code, out, _ = run(capsys, "tag", "--delete", "before-upgrade")
    assert code == 0
    code, out, _ = run(capsys, "tag", "--list")
    assert code == 0 and out == ""


def test_query_reads_tables_by_name_in_every_format(cli_lake: Lake, capsys, tmp_path):
    append_commits(cli_lake, 3, 10, day_start(1))
    expected = cli_lake.table(UNIFIED_TABLE).scan().to_arrow()
    per_exchange = {}
    for exchange in expected.column("exchange").to_pylist():
        per_exchange[exchange] = per_exchange.get(exchange, 0) + 1
    sql = "SELECT exchange, count(*) AS trades FROM trades_unified GROUP BY ALL ORDER BY ALL"

    code, out, _ = run(capsys, "query", sql)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["exchange", "trades"]
    assert {line.split()[0]: int(line.split()[1]) for line in lines[2:-1]} == per_exchange
    assert lines[-1] == f"({len(per_exchange)} rows)"

    code, out, _ = run(capsys, "query", "--format", "csv", sql)
    assert {r["exchange"]: int(r["trades"]) for r in csv.DictReader(io.StringIO(out))} == (
        per_exchange
    )
    code, out, _ = run(capsys, "query", "--format", "json", sql)
    assert {r["exchange"]: r["trades"] for r in json.loads(out)} == per_exchange
    target = tmp_path / "all.parquet"
    code, _, _ = run(
        capsys, "query", "--format", "parquet", "--out", str(target), "SELECT * FROM trades_unified"
    )
    assert code == 0
    assert row_fingerprint(pq.read_table(target)) == row_fingerprint(expected)


def test_query_as_of_a_tag_sees_the_table_then(cli_lake: Lake, capsys):
    append_commits(cli_lake, 2, 10, day_start(1))
    assert run(capsys, "tag", "first-twenty")[0] == 0
    append_commits(cli_lake, 2, 10, day_start(1), first_id=500)
    count = "SELECT count(*) AS n FROM trades_unified"
    assert run(capsys, "query", "--format", "json", count)[1].strip() == '[{"n":40}]'
    code, out, _ = run(capsys, "query", "--format", "json", "--as-of", "first-twenty", count)
    assert (code, out.strip()) == (0, '[{"n":20}]')


def test_bad_queries_are_one_line_errors(cli_lake: Lake, capsys):
    code, _, err = run(capsys, "query", "SELECT * FROM no_such_table")
    assert code == 2 and err.startswith("schemahub: error: query failed:")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "query", "--format", "parquet", "SELECT 1")
    assert code == 2 and "--out FILE" in err
    code, _, err = run(capsys, "query", "--as-of", "no-such-tag", "SELECT 1")
    assert code == 2 and "names no snapshot" in err


def test_an_empty_table_queries_as_no_rows(cli_lake: Lake, capsys):
    code, out, _ = run(capsys, "query", "SELECT count(*) AS n FROM trades_unified")
    assert code == 0 and out.splitlines()[2].strip() == "0"
