"""The tracker and the updates built from it: spread, basis, staleness, threshold events."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from schemahub.config import DiscrepancyConfig, load_config
from schemahub.decode.base import Quote
from schemahub.decode.batch import decode_batch
from schemahub.discrepancy import Feed, Tracker, build_update
from schemahub.discrepancy.tracker import ThresholdWatch
from schemahub.errors import ConfigError
from schemahub.sim.binance import trade_event
from schemahub.sim.coinbase import advanced_trade
from schemahub.sim.markets import market
from schemahub.sim.tape import Trade

NOW = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _tracker(**settings) -> tuple[Tracker, Clock]:
    clock = Clock()
    config = DiscrepancyConfig(**settings)
    return Tracker(config, clock=clock), clock


def _binance(trade_id: int, price: str, ts_ms: int = 1_700_000_000_000, symbol="BTCUSDT"):
    return {"symbol": symbol, "trade_id": trade_id, "price": price, "qty": "0.5",
            "trade_time": ts_ms, "is_buyer_maker": False}  # fmt: skip


def _coinbase(trade_id: int, price: str, symbol="BTC-USD"):
    return {"product_id": symbol, "trade_id": str(trade_id), "price": price, "size": "1",
            "side": "SELL", "time": "2023-11-14T22:13:20.000001Z"}  # fmt: skip


def _kraken(trade_id: int, price: float, symbol="BTC/USD"):
    return {"symbol": symbol, "trade_id": trade_id, "price": price, "qty": 1.0, "side": "sell",
            "timestamp": "2023-11-14T22:13:20Z"}  # fmt: skip


def _update(tracker: Tracker, clock: Clock, pair: str = "BTC") -> dict:
    return build_update(tracker.groups[pair], clock.now, tracker.config.stale_after_ms)


def test_spread_on_last_trades_names_the_venues_at_both_ends():
    tracker, clock = _tracker()
    tracker.on_records("binance", "symbol", [_binance(1, "100.00")], NOW)
    tracker.on_records("coinbase", "product_id", [_coinbase(1, "100.10")], NOW)
    tracker.on_records("kraken", "symbol", [_kraken(1, 99.95)], NOW)
    update = _update(tracker, clock)
    assert update["basis"] == "trade"  # no quotes yet
    assert update["spread_bps"] == pytest.approx((100.10 - 99.95) / 100.025 * 1e4, abs=1e-3)
    assert (update["highest"], update["lowest"]) == ("COINBASE", "KRAKEN")
    entry = update["venues"]["BINANCE"]
    assert (entry["price"], entry["trade_id"], entry["side"]) == (100.0, "1", "BUY")
    assert entry["trade_ts"] == "2023-11-14T22:13:20.000000Z"
    assert update["venues"]["COINBASE"]["side"] == "BUY"  # maker SELL -> taker BUY
    assert update["venues"]["COINBASE"]["trade_ts"] == "2023-11-14T22:13:20.000001Z"


def test_mid_prices_are_used_only_when_every_live_venue_has_a_fresh_quote():
    tracker, clock = _tracker(stale_after_ms=1000)
    for venue, field, record in [
        ("binance", "symbol", _binance(1, "100.00")),
        ("coinbase", "product_id", _coinbase(1, "100.00")),
    ]:
        tracker.on_records(venue, field, [record], NOW)
    tracker.on_quotes("binance", [Quote("BTCUSDT", 99.0, 101.0)], NOW)
    assert _update(tracker, clock)["basis"] == "trade"  # coinbase has no quote
    tracker.on_quotes("coinbase", [Quote("BTC-USD", 100.0, 102.0)], NOW)
    update = _update(tracker, clock)
    assert update["basis"] == "mid"
    assert update["venues"]["COINBASE"]["compared_price"] == 101.0
    assert update["spread_bps"] == pytest.approx(1 / 100.5 * 1e4, abs=1e-3)
    clock.now = NOW + 0.9
    tracker.on_records("binance", "symbol", [_binance(2, "100.00")], clock.now)
    tracker.on_records("coinbase", "product_id", [_coinbase(2, "100.00")], clock.now)
    clock.now = NOW + 1.5  # the quotes are now older than stale_after_ms, the trades not
    update = _update(tracker, clock)
    assert update["basis"] == "trade" and update["spread_bps"] == 0.0


def test_a_silent_venue_turns_stale_and_leaves_the_spread():
    tracker, clock = _tracker(stale_after_ms=2000)
    tracker.on_records("binance", "symbol", [_binance(1, "100")], NOW)
    tracker.on_records("coinbase", "product_id", [_coinbase(1, "101")], NOW)
    tracker.on_records("kraken", "symbol", [_kraken(1, 100.5)], NOW)
    clock.now = NOW + 3
    tracker.on_records("binance", "symbol", [_binance(2, "100")], clock.now)
    tracker.on_records("coinbase", "product_id", [_coinbase(2, "100.2")], clock.now)
    update = _update(tracker, clock)
    assert update["venues"]["KRAKEN"]["stale"] is True
    assert update["venues"]["KRAKEN"]["used"] is None
    assert update["compared"] == 2
    assert update["spread_bps"] == pytest.approx(0.2 / 100.1 * 1e4, abs=1e-3)


def test_conversion_rates_from_the_config_are_applied_and_shown():
    groups = {
        "BTC": {
            "quote": "USD",
            "members": {
                "binance": {"symbol": "BTCUSDT", "quote": "USDT"},
                "kraken": {"symbol": "BTC/USD", "quote": "USD"},
            },
            "conversions": {"USDT": 0.999},
        }
    }
    tracker, clock = _tracker(groups=groups)
    tracker.on_records("binance", "symbol", [_binance(1, "100")], NOW)
    tracker.on_records("kraken", "symbol", [_kraken(1, 99.9)], NOW)
    update = _update(tracker, clock)
    assert update["venues"]["BINANCE"]["rate"] == 0.999
    assert update["venues"]["BINANCE"]["quote"] == "USDT"
    assert update["venues"]["BINANCE"]["compared_price"] == pytest.approx(99.9)
    assert update["spread_bps"] == pytest.approx(0.0, abs=1e-6)


def test_a_member_in_another_currency_without_a_rate_is_refused():
    env = {
        "SCHEMAHUB_DISCREPANCY__GROUPS": (
            "{SOL: {quote: USD, members: {binance: {symbol: SOLUSDC, quote: USDC}}}}"
        )
    }
    with pytest.raises(ConfigError, match=r"quoted in USDC, not USD.*conversions\.USDC"):
        load_config(environ=env)
    with pytest.raises(ConfigError, match="hysteresis_bps must be smaller"):
        load_config(environ={"SCHEMAHUB_DISCREPANCY__HYSTERESIS_BPS": "10"})


def test_threshold_events_have_hysteresis():
    watch = ThresholdWatch(threshold=10.0, hysteresis=2.0)
    seen = [watch.update(v) for v in [5, 10, 9, 11, 8.5, 8.1, 7.9, 9, 10.5, None, 12]]
    assert seen == [None, "above", None, None, None, None, "below", None, "above", None, None]


def test_events_reach_the_update_and_the_feed_keeps_them():
    tracker, _clock = _tracker(threshold_bps=5, hysteresis_bps=1)
    feed = Feed(tracker)
    tracker.on_records("binance", "symbol", [_binance(1, "100")], NOW)
    tracker.on_records("kraken", "symbol", [_kraken(1, 100.1)], NOW)
    feed.publish_due()
    [event] = feed.snapshot(["BTC"])["events"]
    assert event["kind"] == "above" and event["pair"] == "BTC"
    assert feed.snapshot(["BTC"])["groups"]["BTC"]["alert"] is True


def test_an_older_trade_never_replaces_a_newer_one():
    tracker, clock = _tracker()
    tracker.on_records("binance", "symbol", [_binance(5, "100")], NOW)
    tracker.on_records("binance", "symbol", [_binance(4, "90")], NOW)
    assert _update(tracker, clock)["venues"]["BINANCE"]["trade_id"] == "5"


def test_a_burst_gives_the_newest_trade_of_each_grouped_symbol():
    frames = []
    for i in range(30):
        mk = market("binance", "BTC" if i % 3 else "ETH")
        trade = Trade(mk, 1000 + i, (100 + i) * 10**8, 10**6, 1_700_000_000_000 + i, "BUY", "x")
        data = orjson.dumps(trade_event(trade, 0)).decode()
        frames.append(f'{{"stream":"{mk.symbol.lower()}@trade","data":{data}}}')
    batch = decode_batch("binance", frames)
    tracker, clock = _tracker()
    received = np.arange(30, dtype=np.int64) * 1000 + int(NOW * 1e6)
    tracker.on_columns("binance", "symbol", batch.trades, received)
    btc, eth = (_update(tracker, clock, p)["venues"]["BINANCE"] for p in ("BTC", "ETH"))
    assert (btc["trade_id"], btc["price"]) == ("1029", 129.0)
    assert (eth["trade_id"], eth["price"]) == ("1027", 127.0)


def test_the_newest_trade_wins_when_a_frame_lists_trades_newest_first():
    trades = [
        Trade(market("coinbase", "BTC"), 500 + i, (100 + i) * 10**8, 10**6, 1_700_000_000_000 + i,
              "BUY", "x")
        for i in range(6)
    ]  # fmt: skip
    frames = [
        # as Coinbase sends them: each update frame's trades newest first
        orjson.dumps({"channel": "market_trades", "sequence_num": n, "events": [
            {"type": "update", "trades": [advanced_trade(t) for t in reversed(chunk)]}
        ]}).decode()
        for n, chunk in enumerate([trades[:3], trades[3:]])
    ]  # fmt: skip
    tracker, clock = _tracker()
    received = np.full(6, int(NOW * 1e6), dtype=np.int64)
    tracker.on_columns("coinbase", "product_id", decode_batch("coinbase", frames).trades, received)
    assert _update(tracker, clock)["venues"]["COINBASE"]["trade_id"] == "505"
    fresh, _ = _tracker()
    records = decode_batch("coinbase", frames[1:]).trades.drop_columns(["_frame"]).to_pylist()
    fresh.on_records("coinbase", "product_id", records, NOW)
    assert _update(fresh, clock)["venues"]["COINBASE"]["trade_id"] == "505"
