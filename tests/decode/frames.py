"""Hand-made venue frames and REST pages, built from the documented formats (venues.md and the
venues' own docs). Each builder takes overrides; ``MISSING`` deletes a field."""

from __future__ import annotations

import json
from typing import Any

MISSING = object()


def with_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``overrides``; a ``MISSING`` value removes the key."""
    out = dict(base)
    for key, value in overrides.items():
        if value is MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# --- Binance ------------------------------------------------------------------------------


def binance_trade(**overrides: Any) -> dict[str, Any]:
    base = {
        "e": "trade",
        "E": 1672515782136,
        "s": "BTCUSDT",
        "t": 12345,
        "p": "16500.12000000",
        "q": "0.00150000",
        "T": 1672515782134,
        "m": True,
        "M": True,
    }
    return with_overrides(base, overrides)


def binance_wrapped(trade: dict[str, Any], stream: str = "btcusdt@trade") -> str:
    return text({"stream": stream, "data": trade})


def binance_rest_trade(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": 28457,
        "price": "4.00000100",
        "qty": "12.00000000",
        "quoteQty": "48.000012",
        "time": 1499865549590,
        "isBuyerMaker": True,
        "isBestMatch": True,
    }
    return with_overrides(base, overrides)


# --- Coinbase -----------------------------------------------------------------------------


def coinbase_trade(**overrides: Any) -> dict[str, Any]:
    base = {
        "trade_id": "1068572090",
        "product_id": "BTC-USD",
        "price": "65083.67",
        "size": "0.002186",
        "side": "SELL",
        "time": "2026-08-09T21:05:42.514318Z",
    }
    return with_overrides(base, overrides)


def coinbase_advanced(trades: list[Any], kind: str = "update", sequence_num: int = 7) -> str:
    return text(
        {
            "channel": "market_trades",
            "client_id": "",
            "timestamp": "2026-08-09T21:05:48.228568804Z",
            "sequence_num": sequence_num,
            "events": [{"type": kind, "trades": trades}],
        }
    )


def coinbase_match(**overrides: Any) -> dict[str, Any]:
    base = {
        "type": "match",
        "trade_id": 10,
        "sequence": 50,
        "maker_order_id": "ac928c66-ca53-498f-9c13-a110027a60e8",
        "taker_order_id": "132fb6ae-456b-4654-b4e0-d681ac05cea1",
        "time": "2014-11-07T08:19:27.028459Z",
        "product_id": "BTC-USD",
        "size": "5.23512",
        "price": "400.23",
        "side": "sell",
    }
    return with_overrides(base, overrides)


def coinbase_rest_trade(**overrides: Any) -> dict[str, Any]:
    base = {
        "time": "2026-08-09T21:05:42.514318Z",
        "trade_id": 74,
        "price": "10.00000000",
        "size": "0.01000000",
        "side": "buy",
    }
    return with_overrides(base, overrides)


# --- Kraken -------------------------------------------------------------------------------


def kraken_trade(**overrides: Any) -> dict[str, Any]:
    base = {
        "symbol": "MATIC/USD",
        "side": "buy",
        "price": 0.5147,
        "qty": 6423.46326,
        "ord_type": "limit",
        "trade_id": 4665846,
        "timestamp": "2023-09-25T07:48:36.925533Z",
    }
    return with_overrides(base, overrides)


def kraken_v2(trades: list[Any], kind: str = "update") -> str:
    return text({"channel": "trade", "type": kind, "data": trades})


def kraken_rest_trade(**overrides: Any) -> list[Any]:
    """A REST trade array; overrides by position name (price, volume, time, side, ...)."""
    names = ("price", "volume", "time", "side", "ord_type", "misc", "trade_id")
    values = ["30243.40000", "0.34507674", 1688669597.8277369, "b", "m", "", 59999883]
    base = dict(zip(names, values, strict=True))
    return list(with_overrides(base, overrides).values())


def kraken_rest_page(
    trades: list[Any], pair: str = "XXBTZUSD", last: str = "1688671969993150842"
) -> str:
    return text({"error": [], "result": {pair: trades, "last": last}})
