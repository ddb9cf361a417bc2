"""Each venue's trade grammar: the native spec tables and the msgspec structs agree with the
Python description field by field, and a drift in either is caught with a clear message."""

from __future__ import annotations

import dataclasses

import pytest
from msgspec import Struct

from schemahub import registry
from schemahub.decode.batch import NATIVE_AVAILABLE
from schemahub.decode.grammar import (
    check_native,
    columnar_drift,
    expected_native_columns,
    native_drift,
)
from schemahub.errors import UsageError

PRODUCT = registry.BUILTIN_NAMES
needs_native = pytest.mark.skipif(not NATIVE_AVAILABLE, reason="native decoder not built")


def _parts(name: str):
    spec = registry.venue(name)
    return spec, spec.columnar()


@needs_native
@pytest.mark.parametrize("name", PRODUCT)
def test_native_spec_tables_match_the_description(name):
    from schemahub.decode.native import native_columns

    spec, columnar = _parts(name)
    assert list(native_columns(name)) == expected_native_columns(spec, columnar)
    assert native_drift(spec, columnar, native_columns(name)) == []


@pytest.mark.parametrize("name", PRODUCT)
def test_msgspec_structs_match_the_description(name):
    assert columnar_drift(_parts(name)[1]) == []


@pytest.mark.parametrize("name", PRODUCT)
def test_the_description_names_the_decoder_contract(name):
    spec = registry.venue(name)
    decoder = spec.decoder()
    assert (spec.name, spec.raw_table) == (decoder.VENUE, decoder.RAW_TABLE)
    names = decoder.NATIVE_SCHEMA.names
    assert {spec.stream_field, spec.time_field, *spec.dictionary_columns} <= set(names)


def test_a_native_drift_in_type_order_or_dictionary_is_named():
    spec, columnar = _parts("kraken")
    good = expected_native_columns(spec, columnar)
    retyped = [("symbol", "int64", *good[0][2:]), *good[1:]]
    swapped = [good[1], good[0], *good[2:]]
    plain = [(*c[:4], False) for c in good]
    for drifted, clue in ((retyped, "int64"), (swapped, "column 0"), (plain, "'side'")):
        with pytest.raises(UsageError, match="native kraken trade grammar differs") as caught:
            check_native(spec, columnar, drifted)
        assert clue in str(caught.value)
    assert "columns" in native_drift(spec, columnar, good[:-1])[-1]


def test_a_struct_drift_is_named():
    columnar = _parts("binance")[1]
    struct, pairs = columnar.wire

    class Retyped(Struct, kw_only=True):  # price as a number, event time required
        s: str
        t: int
        p: float
        q: str
        T: int
        m: bool
        E: int

    drift = columnar_drift(dataclasses.replace(columnar, wire=(Retyped, pairs)))
    assert any("'price'" in p and "FloatType" in p for p in drift)
    assert any("'event_time' is nullable True" in p for p in drift)
    missing = tuple(p for p in pairs if p[0] != "qty")
    assert columnar_drift(dataclasses.replace(columnar, wire=(struct, missing))) == [
        "column 'qty' has no field in BinanceTrade"
    ]
