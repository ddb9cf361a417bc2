"""``schemahub run unify trades_unified --emit-sql spark`` without Spark: what it prints, and
what it refuses (the SQL itself is run against the in-process unify in tests/spark)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

from schemahub.cli import main
from schemahub.mapping.kernels import Kind
from schemahub.mapping.transforms import TRANSFORMS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory with a copy of the shipped mappings (no lake is needed)."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(REPO / "config" / "mappings", tmp_path / "mappings")
    monkeypatch.setenv("SCHEMAHUB_MAPPINGS_DIR", str(tmp_path / "mappings"))
    return tmp_path


def test_readme_command_prints_one_merge_from_every_raw_table(workdir, capsys):
    assert main(["run", "unify", "trades_unified", "--emit-sql", "spark"]) == 0
    sql = capsys.readouterr().out
    assert sql.count("MERGE INTO `schemahub`.`schemahub`.`trades_unified` AS t") == 1
    for raw in ("raw_binance_trades", "raw_coinbase_trades", "raw_kraken_trades"):
        assert f"FROM `schemahub`.`schemahub`.`{raw}`" in sql
    assert "WHEN NOT MATCHED THEN INSERT" in sql and "WHEN MATCHED" not in sql
    assert not (workdir / "warehouse").exists()  # printing the SQL touches no lake


def test_spark_catalog_names_the_tables(workdir, capsys):
    args = ["run", "unify", "trades_unified", "--emit-sql", "spark", "--spark-catalog", "glue"]
    assert main(args) == 0
    assert "MERGE INTO `glue`.`schemahub`.`trades_unified`" in capsys.readouterr().out


def test_a_transform_without_exact_spark_sql_is_refused(workdir, capsys):
    path = workdir / "mappings" / "kraken_trades.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["transforms"]["symbol"] = "strip"
    path.write_text(yaml.safe_dump(spec))
    assert main(["run", "unify", "trades_unified", "--emit-sql", "spark"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    error = captured.err.strip()
    assert error.count("\n") == 0
    assert "kraken_trades.yaml: transforms.symbol: strip on string has no exact Spark SQL" in error


def test_emit_sql_with_full_is_refused(workdir, capsys):
    assert main(["run", "unify", "trades_unified", "--full", "--emit-sql", "spark"]) == 2
    assert "cannot be combined with --full" in capsys.readouterr().err


def test_every_transform_decides_for_each_input_it_accepts():
    """A translation is an expression over the input, or an explicit None (refused)."""
    decided = {}
    for name, transform in TRANSFORMS.items():
        for kind in transform.accepts:
            sql = transform.spark("x", kind) if transform.spark else None
            assert sql is None or "x" in sql, (name, kind)
            decided[(name, kind)] = sql is not None
    assert decided[("iso8601", Kind.STRING)] and decided[("to_double", Kind.STRING)]
    assert not decided[("to_double", Kind.DECIMAL)] and not decided[("strip", Kind.STRING)]


def test_long_s_is_the_only_non_ascii_letter_arrow_upper_cases_into_a_side():
    """The side translations spell out the texts Arrow's upper case turns into BUY / SELL."""
    code_points = [c for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    upper = pc.utf8_upper(pa.array([chr(c) for c in code_points]))
    letters = pc.is_in(upper, value_set=pa.array(list("BUYSEL")))
    hits = [code_points[i] for i in pc.indices_nonzero(letters).to_pylist()]
    assert hits == [0x17F]
