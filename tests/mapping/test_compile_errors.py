"""Every load-time mistake in a mapping file is a MappingError naming the file and the key."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from schemahub.errors import MappingError
from schemahub.mapping import load_mapping, load_mappings
from schemahub.schemas import UNIFIED_SCHEMA

from .conftest import SOURCE_SCHEMAS

BINANCE = SOURCE_SCHEMAS["raw_binance_trades"]
GOOD: dict[str, Any] = {
    "source": "raw_binance_trades",
    "target_table": "trades_unified",
    "mappings": {
        "symbol": "symbol",
        "trade_id": "trade_id",
        "side": "is_buyer_maker",
        "price": "price",
        "quantity": "qty",
        "trade_ts": "trade_time",
        "ingest_ts": "_source_ingest_ts",
    },
    "constants": {"exchange": "binance"},
    "transforms": {
        "side": "taker_side_from_buyer_maker",
        "price": ["to_double", "positive"],
        "quantity": "to_double",
        "trade_ts": "from_ms",
    },
}


def write(tmp_path: Path, document: object, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def edited(**changes: Any) -> dict[str, Any]:
    """GOOD with sections updated: a value of None removes the key."""
    document = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        section = document
        for parent in parents:
            section = section[parent]
        if value is None:
            section.pop(last, None)
        else:
            section[last] = value
    return document


def compile_error(path: Path, source_schema: pa.Schema = BINANCE) -> str:
    with pytest.raises(MappingError) as caught:
        load_mapping(path, source_schema, UNIFIED_SCHEMA)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_the_baseline_compiles(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, GOOD), BINANCE, UNIFIED_SCHEMA)
    assert [plan.field.name for plan in mapping.columns] == UNIFIED_SCHEMA.names


@pytest.mark.parametrize(
    ("changes", "key", "detail"),
    [
        ({"transforms__price": "to_dbl"}, "transforms.price", "unknown transform 'to_dbl'"),
        ({"transforms__price": ["to_double", "nope"]}, "transforms.price", "'nope'"),
        ({"mappings__price": "prix"}, "mappings.price", "source column 'prix'"),
        ({"mappings__colour": "symbol"}, "mappings.colour", "not a column of trades_unified"),
        ({"constants__venue": "x"}, "constants.venue", "not a column of trades_unified"),
        ({"mappings__trade_id": None}, "mappings.trade_id", "required column 'trade_id'"),
        ({"constants__exchange": None}, "mappings.exchange", "required column 'exchange'"),
        # from_ms given a string column
        ({"mappings__trade_ts": "price"}, "transforms.trade_ts", "from_ms accepts integer"),
        ({"transforms__trade_ts": "iso8601"}, "transforms.trade_ts", "iso8601 accepts string"),
        ({"transforms__price": ["to_double", "upper"]}, "transforms.price", "after to_double"),
        # the chain works but ends in the wrong type; the message suggests what fits
        ({"transforms__price": None}, "mappings.price", "a transform that fits: to_double"),
        ({"transforms__trade_ts": "to_string"}, "transforms.trade_ts", "is timestamp[us, tz=UTC]"),
        ({"mappings__symbol": 5}, "mappings.symbol", "expected a non-empty name"),
        ({"transforms__price": []}, "transforms.price", "expected a transform name or a list"),
        ({"transforms__price": {"a": 1}}, "transforms.price", "expected a transform name"),
        ({"transforms__symbol": "upper", "mappings__symbol": None}, "transforms.symbol",
         "mapped columns only"),
        ({"constants__symbol": "BTCUSDT"}, "constants.symbol", "also mapped"),
        ({"mappings": {}}, "mappings", "maps no column"),
        ({"mappings": ["symbol"]}, "mappings", "expected a mapping of columns"),
        ({"source": ""}, "source", "non-empty name"),
        ({"target_table": 3}, "target_table", "non-empty name"),
        ({"filters": {"a": 1}}, "filters", "unknown key"),
        ({"source": None}, "source", "required key is missing"),
        ({"target_table": None}, "target_table", "required key is missing"),
        ({"mappings": None}, "mappings", "required key is missing"),
    ],
)  # fmt: skip
def test_load_time_errors(tmp_path: Path, changes: dict[str, Any], key: str, detail: str) -> None:
    message = compile_error(write(tmp_path, edited(**changes)))
    assert f": {key}: " in message
    assert detail in message


@pytest.mark.parametrize(
    ("value", "column"),
    [
        (5, "exchange"),  # a number for a string column
        (True, "exchange"),
        ("x", "trade_id"),  # text for an int64 column
        (True, "trade_id"),  # YAML `true` is not 1
        (2**70, "trade_id"),  # does not fit int64
        ("1.5", "price"),
        ("2026-08-09", "trade_ts"),  # text, not a timestamp
        ([1], "price"),
    ],
)
def test_constant_of_the_wrong_type(tmp_path: Path, value: object, column: str) -> None:
    document = edited(**{f"mappings__{column}": None, f"transforms__{column}": None})
    document["constants"][column] = value
    message = compile_error(write(tmp_path, document))
    assert f": constants.{column}: " in message
    assert "does not fit" in message


def test_naive_timestamp_constant_needs_a_zone(tmp_path: Path) -> None:
    document = edited(mappings__trade_ts=None, transforms__trade_ts=None)
    document["constants"]["trade_ts"] = datetime(2026, 8, 9, 21, 5, 42)  # dumped without a zone
    message = compile_error(write(tmp_path, document))
    assert ": constants.trade_ts: " in message
    assert "needs a zone" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("- a\n- b\n", "<top level>"),
        ("", "<top level>"),
        ("just text", "<top level>"),
    ],
)
def test_yaml_that_is_not_a_mapping(tmp_path: Path, text: str, key: str) -> None:
    message = compile_error(write(tmp_path, text))
    assert f": {key}: expected a mapping of keys" in message


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid YAML" in compile_error(write(tmp_path, "source: [unclosed\n"))
    assert "cannot read mapping file" in compile_error(tmp_path / "absent.yaml")


def test_yaml_keys_that_are_not_strings(tmp_path: Path) -> None:
    # YAML 1.1 reads a bare `on` as the boolean true.
    text = yaml.safe_dump(GOOD).replace("  symbol: symbol", "  on: symbol\n  symbol: symbol")
    message = compile_error(write(tmp_path, text))
    assert ": mappings.True: column names must be strings" in message


def test_null_constant_for_a_required_column(tmp_path: Path) -> None:
    text = yaml.safe_dump(GOOD).replace("exchange: binance", "exchange: null")
    message = compile_error(write(tmp_path, text))
    assert ": constants.exchange: required column 'exchange' cannot be null" in message


def test_load_mappings_directory_errors(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="does not exist"):
        load_mappings(tmp_path / "absent", SOURCE_SCHEMAS, UNIFIED_SCHEMA)
    with pytest.raises(MappingError, match=r"no mapping files"):
        load_mappings(tmp_path, SOURCE_SCHEMAS, UNIFIED_SCHEMA)

    unknown = write(tmp_path, edited(source="raw_bitstamp_trades"), "a.yaml")
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path, SOURCE_SCHEMAS, UNIFIED_SCHEMA)
    assert f"{unknown}: source: unknown source 'raw_bitstamp_trades'" in str(caught.value)
    unknown.unlink()

    first = write(tmp_path, GOOD, "a.yaml")
    second = write(tmp_path, GOOD, "b.yml")
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path, SOURCE_SCHEMAS, UNIFIED_SCHEMA)
    assert f"{second}: source: 'raw_binance_trades' is already mapped by {first}" in str(
        caught.value
    )


def test_errors_inside_a_directory_name_the_file(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    broken = write(tmp_path, edited(source="raw_kraken_trades"), "b.yaml")
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path, SOURCE_SCHEMAS, UNIFIED_SCHEMA)
    # Kraken's raw table has no is_buyer_maker column.
    assert f"{broken}: mappings.side: source column 'is_buyer_maker'" in str(caught.value)


def test_input_that_does_not_match_the_compiled_schema(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, GOOD), BINANCE, UNIFIED_SCHEMA)
    lacking = pa.table({"symbol": ["BTCUSDT"]})
    with pytest.raises(MappingError, match="input lacks column 'trade_id'"):
        mapping.apply(lacking)
    retyped = pa.table({"symbol": pa.array([1])})
    with pytest.raises(MappingError, match="input column 'symbol' is int64"):
        mapping.apply(retyped)
