"""One update of the live feed: a pair group's state at one moment, as a JSON-ready dict.

The schema is documented in the README ("Live discrepancy feed"). Prices are compared in the
group's quote currency (each venue's price times its configured rate). A venue counts when it
is not stale (it sent a trade or quote within ``stale_after_ms``); the group is measured on
mid-prices when every counted venue has a fresh quote, else on last trades (``basis``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemahub.discrepancy.tracker import GroupState, VenueState


def iso_utc(epoch_us: int) -> str:
    """Epoch microseconds as ISO 8601 UTC with microseconds and ``Z``."""
    moment = datetime.fromtimestamp(epoch_us // 1_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{epoch_us % 1_000_000:06d}Z"


def build_update(group: GroupState, now: float, stale_after_ms: int) -> dict[str, Any]:
    """The update of ``group`` at ``now`` (epoch seconds); moves its threshold watch."""
    fresh_s = stale_after_ms / 1000.0
    live = [s for s in group.venues.values() if _fresh(s, now, fresh_s)]
    quoted = bool(live) and all(now - s.quote_received <= fresh_s for s in live)
    basis = "mid" if quoted else "trade"
    compared = {s.venue: _compared_price(s, basis) for s in live}
    compared = {venue: price for venue, price in compared.items() if price is not None}
    spread, highest, lowest = _spread(compared)
    event = group.watch.update(spread)
    now_us = int(now * 1_000_000)
    update: dict[str, Any] = {
        "pair": group.name,
        "ts": iso_utc(now_us),
        "quote": group.config.quote,
        "basis": basis,
        "spread_bps": spread,
        "highest": highest.upper() if highest else None,
        "lowest": lowest.upper() if lowest else None,
        "compared": len(compared),
        "alert": group.watch.above,
        "threshold_bps": group.watch.threshold,
        "event": None,
        "received_ts": _newest_receipt(group, now_us),
        "venues": {
            s.venue.upper(): _venue_entry(s, now, fresh_s, compared.get(s.venue), basis)
            for s in group.venues.values()
        },
    }
    if event is not None:
        update["event"] = {
            "kind": event,
            "spread_bps": spread,
            "threshold_bps": group.watch.threshold,
            "hysteresis_bps": group.watch.hysteresis,
            "ts": update["ts"],
        }
    return update


def _fresh(state: VenueState, now: float, fresh_s: float) -> bool:
    newest = max(state.trade_received, state.quote_received)
    return newest > 0 and now - newest <= fresh_s


def _compared_price(state: VenueState, basis: str) -> float | None:
    if basis == "mid" and state.bid is not None and state.ask is not None:
        return (state.bid + state.ask) / 2 * state.rate
    if state.trade is not None:
        return state.trade.price * state.rate
    return None


def _spread(prices: dict[str, float]) -> tuple[float | None, str | None, str | None]:
    """max - min over the middle of the range, in basis points; with the venues at both ends.
    Needs two venues."""
    if len(prices) < 2:
        return None, None, None
    highest = max(prices, key=prices.__getitem__)
    lowest = min(prices, key=prices.__getitem__)
    top, bottom = prices[highest], prices[lowest]
    return round((top - bottom) / ((top + bottom) / 2) * 10_000, 4), highest, lowest


def _newest_receipt(group: GroupState, now_us: int) -> str | None:
    """When the daemon received the newest trade or quote shown (for tick-to-client lag)."""
    newest = max(max(s.trade_received, s.quote_received) for s in group.venues.values())
    return iso_utc(int(newest * 1_000_000)) if newest > 0 else None


def _venue_entry(
    state: VenueState, now: float, fresh_s: float, compared: float | None, basis: str
) -> dict[str, Any]:
    trade = state.trade
    has_quote = state.bid is not None and state.ask is not None
    quote_age = round((now - state.quote_received) * 1000) if has_quote else None
    entry: dict[str, Any] = {
        "symbol": state.symbol,
        "quote": state.quote_currency,
        "rate": state.rate,
        "price": trade.price if trade else None,
        "size": trade.size if trade else None,
        "side": trade.side if trade else None,
        "trade_id": trade.trade_id if trade else None,
        "trade_ts": iso_utc(trade.trade_ts_us) if trade else None,
        "bid": state.bid,
        "ask": state.ask,
        "mid": (state.bid + state.ask) / 2 if has_quote else None,  # type: ignore[operator]
        "age_ms": round(now * 1000 - trade.trade_ts_us / 1000) if trade else None,
        "quote_age_ms": quote_age,
        "stale": not _fresh(state, now, fresh_s),
        "compared_price": compared,
        "used": basis if compared is not None else None,
    }
    return entry
