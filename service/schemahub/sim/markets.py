"""What the simulator lists on each venue: native symbol names, ticks, lot sizes.

A market is one base asset (BTC, ETH, ...) against the venue's usual quote: USDT on Binance,
USD on Coinbase and Kraken. Kraken's REST names follow the real catalogue (see the recorded
``kraken_assetpairs.json``): legacy assets carry X/Z prefixes (BTC/USD is key ``XXBTZUSD``,
altname ``XBTUSD``, wsname ``XBT/USD``) while websocket v2 says ``BTC/USD``.
"""

from __future__ import annotations

from dataclasses import dataclass

VENUES = ("binance", "coinbase", "kraken")

# Starting prices of the shared path; any other base starts at DEFAULT_START_PRICE.
START_PRICES = {"BTC": 65_000.0, "ETH": 1_900.0, "SOL": 150.0, "XRP": 0.6, "DOGE": 0.15}
DEFAULT_START_PRICE = 25.0

# Kraken's legacy asset codes (base, REST key prefix) for the assets that have them.
_KRAKEN_LEGACY = {
    "BTC": ("XXBT", "XBT"),
    "ETH": ("XETH", "ETH"),
    "LTC": ("XLTC", "LTC"),
    "XRP": ("XXRP", "XRP"),
    "XLM": ("XXLM", "XLM"),
    "ETC": ("XETC", "ETC"),
    "XMR": ("XXMR", "XMR"),
    "ZEC": ("XZEC", "ZEC"),
}
# Assets whose Kraken name differs but whose pair key has no X/Z prefixes (XDGUSD).
_KRAKEN_RENAMED = {"DOGE": ("XXDG", "XDG")}


@dataclass(frozen=True, slots=True)
class Market:
    """One listed symbol on one venue."""

    venue: str
    base: str
    quote: str
    symbol: str  # venue-native: BTCUSDT, BTC-USD, BTC/USD (Kraken websocket v2)
    price_decimals: int  # tick = 10 ** -price_decimals
    qty_decimals: int  # lot step
    rest_key: str = ""  # Kraken REST result key (XXBTZUSD)
    altname: str = ""  # Kraken altname (XBTUSD)
    wsname: str = ""  # Kraken AssetPairs wsname (XBT/USD)
    kraken_base: str = ""  # Kraken asset code (XXBT)

    @property
    def tick_units(self) -> int:
        """The price tick in 1e-8 units."""
        return 10 ** (8 - self.price_decimals)

    @property
    def lot_units(self) -> int:
        """The quantity step in 1e-8 units."""
        return 10 ** (8 - self.qty_decimals)


def _price_decimals(base: str, venue: str) -> int:
    start = START_PRICES.get(base, DEFAULT_START_PRICE)
    if venue == "kraken" and base == "BTC":
        return 1  # pair_decimals of XXBTZUSD in the real catalogue
    if start >= 1:
        return 2
    return 5


def _kraken_names(base: str) -> tuple[str, str, str, str]:
    """(rest key, altname, wsname, asset code) for BASE/USD."""
    if base in _KRAKEN_LEGACY:
        asset, short = _KRAKEN_LEGACY[base]
        return f"{asset}ZUSD", f"{short}USD", f"{short}/USD", asset
    if base in _KRAKEN_RENAMED:
        asset, short = _KRAKEN_RENAMED[base]
        return f"{short}USD", f"{short}USD", f"{short}/USD", asset
    return f"{base}USD", f"{base}USD", f"{base}/USD", base


def market(venue: str, base: str) -> Market:
    """The market for ``base`` on ``venue``."""
    base = base.upper()
    decimals = _price_decimals(base, venue)
    if venue == "binance":
        qty = 5 if base == "BTC" else 4
        return Market(venue, base, "USDT", f"{base}USDT", decimals, qty)
    if venue == "coinbase":
        return Market(venue, base, "USD", f"{base}-USD", decimals, 8)
    if venue == "kraken":
        key, alt, ws, asset = _kraken_names(base)
        return Market(
            venue, base, "USD", f"{base}/USD", decimals, 8, key, alt, ws, kraken_base=asset
        )
    raise ValueError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")


def start_price(base: str) -> float:
    """Where the shared price path of ``base`` starts."""
    return START_PRICES.get(base.upper(), DEFAULT_START_PRICE)


def skewed_rates(
    bases: list[str] | tuple[str, ...], trades_per_second: float, exponent: float = 1.2
) -> dict[str, float]:
    """Per venue-native symbol, a trade rate for every venue listing ``bases``, skewed as on
    real venues: the k-th base (in the given order) trades in proportion to 1 / k**exponent,
    so a few symbols carry most trades and the long tail trades now and then. Each venue's
    rates add up to ``trades_per_second`` (feed it to ``SimConfig.rates``)."""
    if trades_per_second < 0 or exponent < 0:
        raise ValueError(
            f"trades_per_second {trades_per_second} and exponent {exponent} must be >= 0"
        )
    weights = [1.0 / (rank + 1) ** exponent for rank in range(len(bases))]
    total = sum(weights) or 1.0
    return {
        market(venue, base).symbol: trades_per_second * weight / total
        for venue in VENUES
        for base, weight in zip(bases, weights, strict=True)
    }
