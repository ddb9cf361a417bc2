"""Symbol catalogues on the venues' real answers (shared/data/recorded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemahub.errors import UnknownSymbolError
from schemahub.venues import binance, coinbase, kraken


def _load(recorded: Path, name: str) -> object:
    return json.loads((recorded / name).read_text())


def test_binance_exchange_info_lists_its_symbols(recorded: Path) -> None:
    catalogue = binance.parse_catalogue(_load(recorded, "binance_exchangeinfo.json"))
    assert len(catalogue) == 15
    listing = catalogue.get("BTCUSDT")
    assert (listing.rest_name, listing.base, listing.quote, listing.trading) == (
        "BTCUSDT",
        "BTC",
        "USDT",
        True,
    )


def test_an_unlisted_symbol_is_named_with_the_closest_listed_ones(recorded: Path) -> None:
    catalogue = binance.parse_catalogue(_load(recorded, "binance_exchangeinfo.json"))
    with pytest.raises(UnknownSymbolError) as caught:
        catalogue.resolve(["BTCUSDT", "BTCUSTD", "ETHUSDT"])
    message = str(caught.value)
    assert "'BTCUSTD'" in message and "BTCUSDT" in message.split("BTCUSTD", 1)[1]
    assert "'ETHUSDT'" not in message


def test_every_unknown_symbol_is_reported_at_once(recorded: Path) -> None:
    catalogue = binance.parse_catalogue(_load(recorded, "binance_exchangeinfo.json"))
    with pytest.raises(UnknownSymbolError, match=r"symbols 'BTCUSTD'.*'NOPE'"):
        catalogue.resolve(["BTCUSTD", "NOPE"])


def test_coinbase_advanced_products_shape(recorded: Path) -> None:
    catalogue = coinbase.parse_catalogue(_load(recorded, "coinbase_advanced_products.json"))
    assert len(catalogue) == 920
    assert catalogue.resolve(["BTC-USD", "ETH-USD"])[0].base == "BTC"
    assert "BTC-USDC" in catalogue.suggestions("BTC_USDC")


def test_coinbase_exchange_products_shape() -> None:
    body = [
        {"id": "BTC-USD", "base_currency": "BTC", "quote_currency": "USD", "status": "online"},
        {"id": "OLD-USD", "base_currency": "OLD", "quote_currency": "USD", "status": "delisted"},
    ]
    catalogue = coinbase.parse_catalogue(body)
    assert catalogue.get("BTC-USD").trading
    assert not catalogue.get("OLD-USD").trading
    with pytest.raises(UnknownSymbolError, match=r"'BTC-USDX'.*BTC-USD"):
        catalogue.get("BTC-USDX")


def test_kraken_maps_websocket_v2_names_to_rest_names(recorded: Path) -> None:
    catalogue = kraken.parse_catalogue(_load(recorded, "kraken_assetpairs.json"))
    btc = catalogue.get("BTC/USD")
    assert (btc.symbol, btc.rest_name) == ("BTC/USD", "XBTUSD")
    assert catalogue.get("ETH/USD").rest_name == "ETHUSD"
    # The catalogue's own spellings resolve to the v2 name the websocket and our tables use.
    for alias in ("XBT/USD", "XBTUSD", "XXBTZUSD"):
        assert catalogue.get(alias).symbol == "BTC/USD"


def test_kraken_dark_pool_pairs_are_not_streamable(recorded: Path) -> None:
    body = _load(recorded, "kraken_assetpairs.json")
    catalogue = kraken.parse_catalogue(body)
    assert len(catalogue) == sum(1 for v in body["result"].values() if "wsname" in v)
    assert "XBTUSD.d" not in catalogue


def test_kraken_suggests_close_pairs(recorded: Path) -> None:
    catalogue = kraken.parse_catalogue(_load(recorded, "kraken_assetpairs.json"))
    with pytest.raises(UnknownSymbolError, match=r"'BTC/USDD'.*BTC/USD"):
        catalogue.resolve(["BTC/USDD"])
