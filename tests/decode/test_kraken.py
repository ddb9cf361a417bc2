"""Kraken decoder: v2 trade frames, control and v1 traffic, bad trades, REST pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemahub.decode import FrameKind, kraken
from tests.decode.frames import (
    MISSING,
    kraken_rest_page,
    kraken_rest_trade,
    kraken_trade,
    kraken_v2,
    text,
)


def test_v2_update_gives_float_records():
    trades = [kraken_trade(), kraken_trade(trade_id=4665847, side="sell", ord_type="market")]
    out = kraken.decode_frame(kraken_v2(trades))
    assert out.kind is FrameKind.TRADES and out.rejects == [] and out.is_snapshot is False
    first, second = out.trades
    assert {k: v for k, v in first.items() if k != "_raw_payload"} == {
        "symbol": "MATIC/USD",
        "trade_id": 4665846,
        "price": 0.5147,
        "qty": 6423.46326,
        "side": "buy",
        "ord_type": "limit",
        "timestamp": "2023-09-25T07:48:36.925533Z",
    }
    assert json.loads(first["_raw_payload"]) == trades[0]
    assert (second["side"], second["ord_type"]) == ("sell", "market")


def test_v2_snapshot_is_flagged():
    out = kraken.decode_frame(kraken_v2([kraken_trade()], kind="snapshot").encode())
    assert out.is_snapshot is True and len(out.trades) == 1


def test_price_as_text_is_accepted_and_stored_as_float():
    out = kraken.decode_frame(kraken_v2([kraken_trade(price="0.5147", qty=3)]))
    assert (out.trades[0]["price"], out.trades[0]["qty"]) == (0.5147, 3.0)
    assert isinstance(out.trades[0]["qty"], float)


def test_missing_order_type_is_null():
    out = kraken.decode_frame(kraken_v2([kraken_trade(ord_type=MISSING)]), keep_payload=False)
    (record,) = out.trades
    assert record["ord_type"] is None and record["trade_id"] == 4665846
    assert "_raw_payload" not in record


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"trade_id": MISSING}, "trade_id"),
        ({"trade_id": None}, "trade_id"),
        ({"trade_id": "abc"}, "trade_id"),
        ({"trade_id": 46.5}, "trade_id"),
        ({"trade_id": -1}, "trade_id"),
        ({"trade_id": 2**63}, "trade_id"),
        ({"price": "NaN"}, "price"),
        ({"price": -1}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": ""}, "price"),
        ({"price": "inf"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": 0}, "price"),
        ({"price": MISSING}, "price"),
        ({"qty": 0.0}, "qty"),
        ({"qty": True}, "qty"),
        ({"qty": None}, "qty"),
        ({"symbol": MISSING}, "symbol"),
        ({"symbol": ""}, "symbol"),
        ({"side": "BUY"}, "side"),
        ({"side": "b"}, "side"),
        ({"side": None}, "side"),
        ({"timestamp": MISSING}, "timestamp"),
        ({"timestamp": 1695628116.925533}, "timestamp"),
        ({"timestamp": "2023-09-25 07:48"}, "timestamp"),
        ({"ord_type": 5}, "ord_type"),
    ],
)
def test_bad_v2_trade_is_rejected_and_siblings_land(overrides, field):
    bad = kraken_trade(**{"trade_id": 5, **overrides})
    good = [kraken_trade(trade_id=1), kraken_trade(trade_id=2)]
    out = kraken.decode_frame(kraken_v2([good[0], bad, good[1]]))
    assert out.kind is FrameKind.TRADES
    assert [t["trade_id"] for t in out.trades] == [1, 2]
    (reject,) = out.rejects
    assert reject.reason.startswith(f"{field}: ")
    assert json.loads(reject.payload) == bad


@pytest.mark.parametrize(
    ("frame", "label"),
    [
        ({"channel": "status", "type": "update", "data": [{"api_version": "v2",
          "connection_id": 12393906104898154338, "system": "online", "version": "2.0.4"}]},
         "status"),
        ({"channel": "heartbeat"}, "heartbeat"),
        ({"channel": "book", "type": "update", "data": []}, "book"),
        ({"channel": "brand_new", "type": "update", "data": []}, "unknown:brand_new"),
        ({"channel": "trade", "type": "summary", "data": []}, "unknown:summary"),
        ({"method": "subscribe", "result": {"channel": "trade", "snapshot": True,
          "symbol": "BTC/USD"}, "success": True, "time_in": "2023-09-25T09:04:31.742599Z",
          "time_out": "2023-09-25T09:04:31.742648Z"}, "subscribe"),
        ({"method": "pong", "req_id": 101, "time_in": "2023-09-24T14:10:23.799685Z",
          "time_out": "2023-09-24T14:10:23.799703Z"}, "pong"),
        ({"event": "heartbeat"}, "kraken_v1"),
        ({"connectionID": 1, "event": "systemStatus", "status": "online"}, "kraken_v1"),
        ([1665, [["354.11", "0.89", "1618678142.557535", "s", "l", ""]], "trade", "XMR/USD"],
         "kraken_v1"),
    ],
)  # fmt: skip
def test_other_kraken_traffic_is_control(frame, label):
    out = kraken.decode_frame(text(frame))
    assert (out.kind, out.label, out.trades, out.rejects) == (FrameKind.CONTROL, label, [], [])


def test_failed_subscription_is_control_error_naming_the_symbol():
    frame = {"error": "Currency pair not supported", "method": "subscribe", "success": False,
             "symbol": "BTC/XYZ", "time_in": "2023-09-25T09:04:31Z"}  # fmt: skip
    out = kraken.decode_frame(text(frame))
    assert (out.kind, out.label) == (FrameKind.CONTROL, "error")
    assert "Currency pair not supported" in out.detail and "BTC/XYZ" in out.detail


@pytest.mark.parametrize(
    "frame",
    [
        "",
        b"\x89PNG\r\n",
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD"',
        "1",
        '{"what": "ever"}',
        '{"channel": 3}',
        '{"channel":"trade","type":5,"data":[]}',
        '{"channel":"trade","type":"update","data":{}}',
        '{"channel":"trade","type":"update"}',
        '{"method": null}',
        "[1, 2, 3]",
        '["a", [], "trade", "XBT/USD"]',
    ],
)
def test_unknown_shapes_and_garbage_are_malformed(frame):
    out = kraken.decode_frame(frame)
    assert out.kind is FrameKind.MALFORMED and out.trades == [] and len(out.rejects) == 1


# --- REST ---------------------------------------------------------------------------------


def test_rest_page_becomes_records_with_the_ws_symbol_and_cursor():
    entries = [kraken_rest_trade(), kraken_rest_trade(side="s", ord_type="l", trade_id=59999884)]
    out = kraken.decode_rest_trades(kraken_rest_page(entries), "BTC/USD")
    assert out.kind is FrameKind.TRADES and out.rejects == []
    assert out.cursor == "1688671969993150842"
    first, second = out.trades
    # 1688669597.8277369 s: the seventh fraction digit rounds the microseconds up to ...737.
    whole = datetime.fromtimestamp(1688669597, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert {k: v for k, v in first.items() if k != "_raw_payload"} == {
        "symbol": "BTC/USD",
        "trade_id": 59999883,
        "price": 30243.4,
        "qty": 0.34507674,
        "side": "buy",
        "ord_type": "market",
        "timestamp": f"{whole}.827737Z",
    }
    assert json.loads(first["_raw_payload"]) == entries[0]
    assert (second["side"], second["ord_type"], second["trade_id"]) == ("sell", "limit", 59999884)


def test_rest_whole_second_time_keeps_six_fraction_digits():
    out = kraken.decode_rest_trades(kraken_rest_page([kraken_rest_trade(time=1688669597)]), "X/Y")
    assert out.trades[0]["timestamp"].endswith(":17.000000Z")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price": "NaN"}, "price"),
        ({"volume": "-0.3"}, "qty (volume)"),
        ({"time": "later"}, "timestamp (time)"),
        ({"time": True}, "timestamp (time)"),
        ({"side": "x"}, "side"),
        ({"trade_id": MISSING}, "trade_id"),
        ({"trade_id": "59999883x"}, "trade_id"),
    ],
)
def test_rest_bad_row_is_rejected_with_its_array_as_payload(overrides, field):
    bad = kraken_rest_trade(**overrides)
    page = kraken_rest_page([kraken_rest_trade(trade_id=1), bad])
    out = kraken.decode_rest_trades(page, "BTC/USD")
    assert [t["trade_id"] for t in out.trades] == [1]
    (reject,) = out.rejects
    assert reject.reason.startswith(f"{field}: ")
    assert json.loads(reject.payload) == bad


def test_rest_error_list_is_malformed_with_the_venue_words():
    body = '{"error":["EGeneral:Too many requests"]}'
    out = kraken.decode_rest_trades(body, "BTC/USD")
    assert (out.kind, out.label) == (FrameKind.MALFORMED, "error")
    assert out.detail == "EGeneral:Too many requests"


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '{"error":[]}',
        '{"error":[],"result":{"last":"1"}}',
        '{"error":[],"result":{"A":[],"B":[],"last":"1"}}',
        '{"error":[],"result":{"XXBTZUSD":{},"last":"1"}}',
        "{",
    ],
)
def test_rest_body_of_unknown_shape_is_malformed(body):
    assert kraken.decode_rest_trades(body, "BTC/USD").kind is FrameKind.MALFORMED
