"""The decoder registry and the per-venue contract (constants, schema columns)."""

from __future__ import annotations

import pytest

from schemahub.decode import VENUES, decoder_for
from schemahub.errors import UsageError
from schemahub.schemas import raw_table_schema


@pytest.mark.parametrize("venue", VENUES)
def test_decoder_for_gives_the_venue_module(venue):
    decoder = decoder_for(venue)
    name, table = decoder.VENUE, decoder.RAW_TABLE
    assert (name, table) == (venue, f"raw_{venue}_trades")
    assert callable(decoder.decode_frame) and callable(decoder.decode_rest_trades)
    # The raw table is the native columns plus the metadata columns, _raw_payload among them.
    assert "_raw_payload" in raw_table_schema(decoder.NATIVE_SCHEMA).names


def test_venues_are_the_three():
    assert VENUES == ("binance", "coinbase", "kraken")


def test_unknown_venue_names_the_valid_ones():
    with pytest.raises(UsageError) as caught:
        decoder_for("bitstamp")
    message = str(caught.value)
    assert "bitstamp" in message and all(v in message for v in VENUES)


def test_native_schema_columns_are_the_contract():
    assert decoder_for("binance").NATIVE_SCHEMA.names == [
        "symbol", "trade_id", "price", "qty", "trade_time", "is_buyer_maker", "event_time"
    ]  # fmt: skip
    assert decoder_for("coinbase").NATIVE_SCHEMA.names == [
        "product_id", "trade_id", "price", "size", "side", "time", "sequence_num", "feed"
    ]  # fmt: skip
    assert decoder_for("kraken").NATIVE_SCHEMA.names == [
        "symbol", "trade_id", "price", "qty", "side", "ord_type", "timestamp"
    ]  # fmt: skip
