"""The comparison: cryptofeed 2.4.1's per-frame handler on the same trades, no network.

For each venue, a cryptofeed feed object is built offline (its symbol table is filled by its
own ``_parse_symbol_data`` from the simulator's catalogue entries, which have the venues' real
response shapes), with one no-op async ``TRADES`` callback that only counts. Then its
``message_handler(text, conn, receipt_ts)`` is awaited once per frame: cryptofeed's own
``json.loads(..., parse_float=Decimal)`` (yapic), dispatch, symbol normalization, ``Decimal``
price and size, the :class:`cryptofeed.types.Trade` object and the callback.

cryptofeed 2.4.1 does not read every one of our frames as they are, so some are rewritten,
before the timed loop, into the equivalent frame it does read (same trades, same values):

- Binance: it subscribes to ``aggTrade`` only and ignores ``trade`` events. Each ``trade``
  frame becomes the ``aggTrade`` frame of a one-trade aggregate: stream ``<sym>@aggTrade``,
  ``"e":"aggTrade"``, ``a``/``f``/``l`` = the trade id in place of ``t``; all else unchanged.
- Coinbase: it reads Advanced Trade ``market_trades`` ``update`` frames: used unchanged.
- Kraken: it speaks websocket v1 only. Each v2 ``trade`` frame becomes the v1 frame carrying
  the same trades: ``[channelID, [[price, volume, time, side, ordtype, misc], ...], "trade",
  "XBT/USD"]`` with v1's strings (price and volume as decimal text, time as epoch seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from schemahub.benchmark.frames import frame_blocks
from schemahub.sim.catalog import binance_symbol, coinbase_advanced_product, kraken_pair
from schemahub.sim.markets import Market, market

CRYPTOFEED_VERSION = "2.4.1"
KRAKEN_V1_CHANNEL_ID = 337  # any id: cryptofeed reads the pair from the frame's end


@dataclass
class CryptofeedRun:
    """What the cryptofeed loop measured (or why it was skipped)."""

    venue: str
    version: str | None = None
    frames: int = 0
    trades: int = 0  # Trade objects its callback received
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    skipped: str | None = None  # the reason, when cryptofeed could not be used
    measured: str = ""  # one line saying what was timed


def cryptofeed_available() -> str | None:
    """None when cryptofeed can be imported, else why the comparison is skipped."""
    try:
        import cryptofeed  # noqa: F401
    except ImportError as exc:
        return (
            f"cryptofeed cannot be imported ({exc}); pip install 'schemahub[bench]' for "
            f"cryptofeed=={CRYPTOFEED_VERSION}"
        )
    return None


def run_cryptofeed(venue: str, capture: str | Path) -> CryptofeedRun:
    """Time cryptofeed's message handler over the capture's frames (converted as above)."""
    reason = cryptofeed_available()
    if reason is not None:
        return CryptofeedRun(venue, skipped=reason)
    from importlib.metadata import version

    run = CryptofeedRun(venue, version=version("cryptofeed"), measured=_MEASURED[venue])
    asyncio.run(_loop(venue, Path(capture), run))
    return run


async def _loop(venue: str, capture: Path, run: CryptofeedRun) -> None:
    feed, counter = _feed(venue, capture)
    convert = _CONVERT[venue]
    handler = feed.message_handler
    for block in frame_blocks(capture):
        texts = [(convert(f.text), f.received_at) for f in block]
        wall, cpu = time.perf_counter(), time.process_time()
        for text, received_at in texts:
            await handler(text, None, received_at)
        run.seconds += time.perf_counter() - wall
        run.cpu_seconds += time.process_time() - cpu
        run.frames += len(texts)
    run.trades = counter.trades


@dataclass
class _Counter:
    trades: int = 0

    async def __call__(self, trade: Any, receipt_timestamp: float) -> None:
        self.trades += 1


def _feed(venue: str, capture: Path) -> tuple[Any, _Counter]:
    """A cryptofeed feed for ``venue`` over the capture's symbols, built without the network."""
    from cryptofeed.defines import TRADES
    from cryptofeed.exchanges import Binance, Coinbase, Kraken
    from cryptofeed.symbols import Symbols

    cls, catalogue = {
        "binance": (Binance, lambda ms: {"symbols": [binance_symbol(m) for m in ms]}),
        "coinbase": (Coinbase, lambda ms: {"products": [coinbase_advanced_product(m) for m in ms]}),
        "kraken": (Kraken, lambda ms: {"result": {m.rest_key: kraken_pair(m) for m in ms}}),
    }[venue]
    markets = _markets(venue, capture)
    Symbols.set(cls.id, *cls._parse_symbol_data(catalogue(markets)))
    counter = _Counter()
    std = [f"{m.base}-{m.quote}" for m in markets]
    return cls(symbols=std, channels=[TRADES], callbacks={TRADES: counter}), counter


def _markets(venue: str, capture: Path) -> list[Market]:
    """The markets whose trades the capture holds (read from its first block)."""
    field = {"binance": "s", "coinbase": "product_id", "kraken": "symbol"}[venue]
    symbols: set[str] = set()
    for block in frame_blocks(capture):
        for frame in block:
            symbols.update(_symbols(orjson.loads(frame.text), field))
        break
    quote = {"binance": "USDT", "coinbase": "-USD", "kraken": "/USD"}[venue]
    return [market(venue, s.removesuffix(quote)) for s in sorted(symbols)]


def _symbols(value: Any, field: str) -> list[str]:
    """Every ``field`` value found in a parsed frame, at any depth."""
    found: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get(field), str):
            found.append(value[field])
        for child in value.values():
            found.extend(_symbols(child, field))
    elif isinstance(value, list):
        for child in value:
            found.extend(_symbols(child, field))
    return found


def _binance_agg(text: str) -> str:
    wrapped = orjson.loads(text)
    data = wrapped["data"]
    if data.get("e") != "trade":
        return text
    trade_id = data.pop("t")
    agg = {"e": "aggTrade", "E": data["E"], "s": data["s"], "a": trade_id, "p": data["p"]}
    agg |= {"q": data["q"], "f": trade_id, "l": trade_id, "T": data["T"], "m": data["m"]}
    agg["M"] = data.get("M", True)
    stream = wrapped["stream"].replace("@trade", "@aggTrade")
    return orjson.dumps({"stream": stream, "data": agg}).decode()


def _kraken_v1(text: str) -> str:
    # Read numbers as text so the v1 strings carry the v2 frame's exact digits.
    frame = orjson.loads(text)
    if frame.get("channel") != "trade":
        return text
    raw = _raw_numbers(text)
    rows = []
    for trade, (price, qty) in zip(frame["data"], raw, strict=True):
        seconds = datetime.fromisoformat(trade["timestamp"]).timestamp()
        side = "b" if trade["side"] == "buy" else "s"
        kind = "l" if trade["ord_type"] == "limit" else "m"
        rows.append([price, qty, f"{seconds:.6f}", side, kind, ""])
    pair = market("kraken", frame["data"][0]["symbol"].split("/")[0]).wsname
    return orjson.dumps([KRAKEN_V1_CHANNEL_ID, rows, "trade", pair]).decode()


def _raw_numbers(text: str) -> list[tuple[str, str]]:
    """(price, qty) of each trade of a v2 frame, as written in the frame text."""
    out = []
    for piece in text.split('"price":')[1:]:
        price, _, rest = piece.partition(",")
        qty = rest.split('"qty":', 1)[1].split(",", 1)[0]
        out.append((price, qty))
    return out


_CONVERT: dict[str, Callable[[str], str]] = {
    "binance": _binance_agg,
    "coinbase": lambda text: text,
    "kraken": _kraken_v1,
}
_MEASURED = {
    "binance": (
        "Binance.message_handler on each trade frame rewritten as a one-trade aggTrade frame "
        "(t -> a/f/l): yapic json.loads(parse_float=Decimal), dispatch, _trade, callback"
    ),
    "coinbase": (
        "Coinbase.message_handler on the same market_trades frames: yapic json.loads"
        "(parse_float=Decimal), _trade_update per trade, callback"
    ),
    "kraken": (
        "Kraken.message_handler on each v2 frame rewritten as the websocket v1 trade frame of "
        "the same trades: yapic json.loads(parse_float=Decimal), _trade per trade, callback"
    ),
}
