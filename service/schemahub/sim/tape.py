"""The trade tape: every trade the simulator generates, deterministic from a seed.

Pure: no clock and no I/O. The caller moves it forward with :meth:`Tape.advance_to` (epoch
ms); what comes out depends only on the seed, the markets, the start time and the sequence of
``advance_to`` / ``pause`` / ``resume`` calls.

- One shared price path per base asset (a seeded random walk in log price, one step per
  ``PATH_STEP_MS``); each venue sees it ``lag_ms`` late, so Binance leads by default.
- Per stream (venue, symbol): sequential integer trade ids from a seeded large start, Poisson
  arrivals at ``rate`` trades/s, random sizes and taker sides. Times are whole milliseconds,
  so every venue's representation (ms, seconds with 4 decimals, RFC 3339) is exact.
- Everything generated is kept (columnar, ~30 bytes a trade) for REST history and ground truth.
"""

from __future__ import annotations

import heapq
import math
import random
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from schemahub.schemas import UNIFIED_SCHEMA
from schemahub.sim.fmt import UNITS
from schemahub.sim.markets import Market, start_price

PATH_STEP_MS = 10
PATH_SIGMA = 2e-5  # log-price standard deviation per step: about 0.02 % a second
NOTIONAL_USD = 400.0  # typical trade size in quote currency
BUY, SELL = "BUY", "SELL"
# Where each venue's ids start (plus a seeded offset): large, like the real ones.
ID_BASE = {"binance": 3_000_000_000, "coinbase": 600_000_000, "kraken": 80_000_000}
GROUND_TRUTH_SCHEMA = pa.schema(list(UNIFIED_SCHEMA)[:7])


@dataclass(frozen=True, slots=True)
class Trade:
    """One generated trade; ``side`` is the TAKER side."""

    market: Market
    trade_id: int
    price_units: int  # 1e-8
    qty_units: int  # 1e-8
    ts_ms: int
    side: str  # BUY | SELL (taker)
    ord_type: str  # market | limit (the taker order, Kraken reports it)

    @property
    def venue(self) -> str:
        return self.market.venue

    @property
    def symbol(self) -> str:
        return self.market.symbol


def touch(trade: Trade) -> tuple[int, int]:
    """The best bid and ask (1e-8 units) when ``trade`` printed: takers buy at the ask, one
    tick above the bid, and sell at the bid (see :meth:`Stream.generate`)."""
    tick = trade.market.tick_units
    bid = trade.price_units - (tick if trade.side == BUY else 0)
    return bid, bid + tick


class PricePath:
    """A seeded random walk in log price, extended lazily as time moves on."""

    def __init__(self, base: str, seed: int, start_ms: int) -> None:
        self._rng = random.Random(f"{seed}:path:{base}")
        self._start_ms = start_ms
        self._log = array("d", [math.log(start_price(base))])

    def price_at(self, ts_ms: int) -> float:
        """The mid price at ``ts_ms`` (the start price before the path began)."""
        step = max(0, (ts_ms - self._start_ms) // PATH_STEP_MS)
        while len(self._log) <= step:
            self._log.append(self._log[-1] + self._rng.gauss(0.0, PATH_SIGMA))
        return math.exp(self._log[step])


class Stream:
    """One (venue, symbol) stream: its generator state and everything it generated."""

    def __init__(self, market: Market, seed: int, rate: float, lag_ms: int) -> None:
        self.market = market
        self.rate = rate
        self.factor = 1.0  # a burst multiplies every stream's rate (Tape.set_rate_factor)
        self.lag_ms = lag_ms
        self._rng = random.Random(f"{seed}:stream:{market.venue}:{market.symbol}")
        self.first_id = ID_BASE[market.venue] + self._rng.randrange(1, 100_000_000)
        self.ts = array("q")
        self.price = array("q")
        self.qty = array("q")
        self.side = bytearray()  # 1 = taker BUY
        self.limit = bytearray()  # 1 = taker order was a limit order
        self.next_ms = 0

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def last_id(self) -> int:
        """The newest trade id (first_id - 1 before the first trade)."""
        return self.first_id + len(self.ts) - 1

    def gap_ms(self) -> int:
        """Milliseconds to the next trade (Poisson arrivals; 0 is allowed: same-ms trades)."""
        return round(self._rng.expovariate(self.rate * self.factor / 1000.0))

    def generate(self, ts_ms: int, mid: float) -> Trade:
        """Append the next trade at ``ts_ms`` around ``mid``."""
        mk = self.market
        buy = self._rng.random() < 0.5
        # Takers buy at the ask (one tick above the rounded mid) and sell at the bid.
        price = round(mid * UNITS / mk.tick_units) * mk.tick_units + (mk.tick_units if buy else 0)
        size = math.exp(self._rng.gauss(math.log(NOTIONAL_USD / mid), 1.2))
        qty = max(1, round(size * UNITS / mk.lot_units)) * mk.lot_units
        self.ts.append(ts_ms)
        self.price.append(price)
        self.qty.append(qty)
        self.side.append(1 if buy else 0)
        self.limit.append(1 if self._rng.random() < 0.3 else 0)
        return self.trade(len(self.ts) - 1)

    def trade(self, index: int) -> Trade:
        """The trade at position ``index`` (0 = the first generated)."""
        return Trade(
            self.market,
            self.first_id + index,
            self.price[index],
            self.qty[index],
            self.ts[index],
            BUY if self.side[index] else SELL,
            "limit" if self.limit[index] else "market",
        )

    def trades(self, start: int, stop: int) -> list[Trade]:
        """Trades at positions ``start`` (inclusive) to ``stop`` (exclusive)."""
        return [self.trade(i) for i in range(max(0, start), min(stop, len(self.ts)))]

    def index_of(self, trade_id: int) -> int:
        """Position of ``trade_id`` (may be out of range: callers clamp)."""
        return trade_id - self.first_id

    def index_at_ms(self, ts_ms: int) -> int:
        """Position of the first trade at or after ``ts_ms``."""
        return bisect_left(self.ts, ts_ms)

    def virtual_ns(self, index: int) -> int:
        """A strictly increasing ns cursor: the trade's ms plus its rank among same-ms trades.

        Kraken pages with a nanosecond ``since``; trades share milliseconds here, so the
        rank keeps ``since=last`` paging exact (no trade skipped, none repeated)."""
        ms = self.ts[index]
        return ms * 1_000_000 + index - bisect_left(self.ts, ms)

    def index_after_ns(self, since_ns: int) -> int:
        """Position of the first trade whose :meth:`virtual_ns` is greater than ``since_ns``."""
        ms, rank = divmod(since_ns, 1_000_000)
        lo, hi = bisect_left(self.ts, ms), bisect_right(self.ts, ms)
        return min(lo + rank + 1, hi) if lo < hi else lo


class Tape:
    """All streams of the simulator, moved forward in time by the caller."""

    def __init__(
        self,
        markets: Sequence[Market],
        seed: int,
        start_ms: int,
        rate_per_stream: float,
        lags_ms: dict[str, int],
        rates: dict[str, float] | None = None,
    ) -> None:
        self.seed = seed
        self.start_ms = start_ms
        self._paths: dict[str, PricePath] = {}
        self._streams: dict[tuple[str, str], Stream] = {}
        self._heap: list[tuple[int, int, Stream]] = []
        self._paused_at: int | None = None
        for order, mk in enumerate(markets):
            if mk.base not in self._paths:
                self._paths[mk.base] = PricePath(mk.base, seed, start_ms)
            rate = (rates or {}).get(mk.symbol, rate_per_stream)
            stream = Stream(mk, seed, rate, lags_ms.get(mk.venue, 0))
            self._streams[(mk.venue, mk.symbol)] = stream
            if rate > 0:
                stream.next_ms = start_ms + stream.gap_ms()
                self._heap.append((stream.next_ms, order, stream))
        heapq.heapify(self._heap)
        self.now_ms = start_ms

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def streams(self) -> Iterable[Stream]:
        """Every stream, in market order."""
        return self._streams.values()

    def stream(self, venue: str, symbol: str) -> Stream | None:
        """The stream of ``symbol`` (venue-native name) on ``venue``, if listed."""
        return self._streams.get((venue, symbol))

    def mid_price(self, base: str, ts_ms: int) -> float:
        """The shared path of ``base`` at ``ts_ms`` (before any venue lag)."""
        return self._paths[base].price_at(ts_ms)

    def advance_to(self, now_ms: int) -> list[Trade]:
        """Generate every trade due by ``now_ms``, in time order. Nothing while paused."""
        if self._paused_at is not None or now_ms <= self.now_ms:
            return []
        self.now_ms = now_ms
        out: list[Trade] = []
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            ts, order, stream = heap[0]
            mid = self._paths[stream.market.base].price_at(ts - stream.lag_ms)
            out.append(stream.generate(ts, mid))
            stream.next_ms = ts + stream.gap_ms()
            heapq.heapreplace(heap, (stream.next_ms, order, stream))
        return out

    def set_rate_factor(self, factor: float) -> None:
        """From the tape's current time on, every stream trades ``factor`` times its rate (a
        burst when above 1; 1 ends it). Arrivals are Poisson, so drawing each stream's next
        trade afresh from the current time keeps the process exact, and no trade due later
        than the last :meth:`advance_to` has been handed out yet."""
        if factor <= 0:
            raise ValueError(f"rate factor {factor}: expected a number > 0")
        heap = []
        for _, order, stream in self._heap:
            stream.factor = factor
            stream.next_ms = self.now_ms + stream.gap_ms()
            heap.append((stream.next_ms, order, stream))
        heapq.heapify(heap)
        self._heap = heap

    def pause(self, now_ms: int) -> None:
        """Stop generating trades until :meth:`resume`."""
        if self._paused_at is None:
            self._paused_at = max(now_ms, self.now_ms)

    def resume(self, now_ms: int) -> None:
        """Go on generating; the pause is cut out of every stream's schedule (no burst)."""
        if self._paused_at is None:
            return
        shift = max(0, now_ms - self._paused_at)
        self._paused_at = None
        self._heap = [(ts + shift, order, s) for ts, order, s in self._heap]
        for _, _, stream in self._heap:
            stream.next_ms += shift
        heapq.heapify(self._heap)
        self.now_ms = max(self.now_ms, now_ms)

    def ground_truth(self) -> pa.Table:
        """Every generated trade in the unified form (first 7 columns of UNIFIED_SCHEMA)."""
        cols: dict[str, list] = {f.name: [] for f in GROUND_TRUTH_SCHEMA}
        for s in self._streams.values():
            n = len(s)
            cols["exchange"].extend([s.market.venue] * n)
            cols["symbol"].extend([s.market.symbol] * n)
            cols["trade_id"].extend(range(s.first_id, s.first_id + n))
            cols["side"].extend(BUY if b else SELL for b in s.side)
            cols["price"].extend(p / UNITS for p in s.price)
            cols["quantity"].extend(q / UNITS for q in s.qty)
            cols["trade_ts"].extend(t * 1000 for t in s.ts)
        return pa.table(cols, schema=GROUND_TRUTH_SCHEMA)
