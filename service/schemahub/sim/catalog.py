"""What the simulated venues list in their catalogues, in each venue's response shape.

Shapes and values follow the recorded responses in ``shared/data/recorded`` (Binance
``exchangeInfo``, Coinbase Advanced ``market/products``, Kraken ``AssetPairs``).
"""

from __future__ import annotations

from typing import Any

from schemahub.sim.fmt import fixed, trimmed
from schemahub.sim.markets import Market


def binance_symbol(m: Market) -> dict[str, Any]:
    tick = fixed(m.tick_units, 8)
    step = fixed(m.lot_units, 8)
    return {
        "symbol": m.symbol,
        "status": "TRADING",
        "baseAsset": m.base,
        "baseAssetPrecision": 8,
        "quoteAsset": m.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": "1000000.00000000",
                "tickSize": tick,
            },
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000.00000000", "stepSize": step},
        ],
        "permissions": ["SPOT"],
    }


def coinbase_product(m: Market) -> dict[str, Any]:
    return {
        "id": m.symbol,
        "base_currency": m.base,
        "quote_currency": m.quote,
        "quote_increment": trimmed(m.tick_units) if m.tick_units < 10**8 else "1",
        "base_increment": fixed(m.lot_units, m.qty_decimals),
        "display_name": m.symbol.replace("-", "/"),
        "min_market_funds": "1",
        "margin_enabled": False,
        "post_only": False,
        "limit_only": False,
        "cancel_only": False,
        "status": "online",
        "status_message": "",
        "trading_disabled": False,
        "fx_stablecoin": False,
        "max_slippage_percentage": "0.02000000",
        "auction_mode": False,
        "high_bid_limit_percentage": "",
    }


def coinbase_advanced_product(m: Market) -> dict[str, Any]:
    return {
        "product_id": m.symbol,
        "base_increment": fixed(m.lot_units, m.qty_decimals),
        "quote_increment": trimmed(m.tick_units),
        "price_increment": trimmed(m.tick_units),
        "base_name": m.base,
        "quote_name": m.quote,
        "status": "online",
        "trading_disabled": False,
        "is_disabled": False,
        "product_type": "SPOT",
        "quote_currency_id": m.quote,
        "base_currency_id": m.base,
        "display_name": m.symbol,
        "product_venue": "CBE",
    }


def kraken_pair(m: Market) -> dict[str, Any]:
    return {
        "altname": m.altname,
        "wsname": m.wsname,
        "aclass_base": "currency",
        "base": m.kraken_base,
        "aclass_quote": "currency",
        "quote": "ZUSD",
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": m.price_decimals,
        "lot_decimals": m.qty_decimals,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, 0.26], [50000, 0.24], [100000, 0.22]],
        "fees_maker": [[0, 0.16], [50000, 0.14], [100000, 0.12]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": trimmed(m.lot_units * 10_000),
        "costmin": "0.5",
        "tick_size": trimmed(m.tick_units),
        "status": "online",
    }
