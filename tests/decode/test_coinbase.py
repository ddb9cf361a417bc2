"""Coinbase decoder: Advanced Trade and Exchange frames, bad trades, REST pages."""

from __future__ import annotations

import json

import pytest

from schemahub.decode import FrameKind, coinbase
from tests.decode.frames import (
    MISSING,
    coinbase_advanced,
    coinbase_match,
    coinbase_rest_trade,
    coinbase_trade,
    text,
)


def test_advanced_update_gives_records_with_the_frame_sequence():
    trades = [coinbase_trade(), coinbase_trade(trade_id="1068572091", side="BUY")]
    out = coinbase.decode_frame(coinbase_advanced(trades, sequence_num=41))
    assert out.kind is FrameKind.TRADES and out.rejects == [] and out.sequence_num == 41
    assert out.is_snapshot is False
    first, second = out.trades
    assert {k: v for k, v in first.items() if k != "_raw_payload"} == {
        "product_id": "BTC-USD",
        "trade_id": "1068572090",
        "price": "65083.67",
        "size": "0.002186",
        "side": "SELL",
        "time": "2026-08-09T21:05:42.514318Z",
        "sequence_num": 41,
        "feed": "advanced",
    }
    assert json.loads(first["_raw_payload"]) == trades[0]
    assert (second["trade_id"], second["side"]) == ("1068572091", "BUY")


def test_advanced_snapshot_is_flagged():
    out = coinbase.decode_frame(coinbase_advanced([coinbase_trade()], kind="snapshot"))
    assert out.is_snapshot is True and len(out.trades) == 1


def test_keep_payload_false_leaves_the_payload_out():
    out = coinbase.decode_frame(coinbase_advanced([coinbase_trade()]), keep_payload=False)
    assert "_raw_payload" not in out.trades[0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"trade_id": MISSING}, "trade_id"),
        ({"trade_id": None}, "trade_id"),
        ({"trade_id": "12a"}, "trade_id"),
        ({"trade_id": "-12"}, "trade_id"),
        ({"trade_id": 1.5}, "trade_id"),
        ({"trade_id": "99999999999999999999"}, "trade_id"),
        ({"price": "NaN"}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": ""}, "price"),
        ({"price": "inf"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "0"}, "price"),
        ({"price": MISSING}, "price"),
        ({"size": "0.00000000"}, "size"),
        ({"size": None}, "size"),
        ({"size": False}, "size"),
        ({"product_id": MISSING}, "product_id"),
        ({"product_id": 3}, "product_id"),
        ({"side": "HOLD"}, "side"),
        ({"side": MISSING}, "side"),
        ({"side": ["BUY"]}, "side"),
        ({"time": MISSING}, "time"),
        ({"time": "yesterday"}, "time"),
        ({"time": "2026-02-30T21:05:42.514318Z"}, "time"),
        ({"time": "2026-08-09T21:05:42.514318"}, "time"),
        ({"time": 1786309542}, "time"),
    ],
)
def test_bad_advanced_trade_is_rejected_and_siblings_land(overrides, field):
    bad = coinbase_trade(**{"trade_id": "5", **overrides})
    good = [coinbase_trade(trade_id="1"), coinbase_trade(trade_id="2")]
    out = coinbase.decode_frame(coinbase_advanced([good[0], bad, good[1]]))
    assert out.kind is FrameKind.TRADES
    assert [t["trade_id"] for t in out.trades] == ["1", "2"]
    (reject,) = out.rejects
    assert reject.reason.startswith(f"{field}: ")
    assert json.loads(reject.payload) == bad


def test_trade_that_is_not_an_object_is_rejected():
    out = coinbase.decode_frame(coinbase_advanced([coinbase_trade(), "oops"]))
    assert len(out.trades) == 1 and out.rejects[0].payload == '"oops"'


def test_numbers_for_price_and_size_are_kept_as_text():
    out = coinbase.decode_frame(coinbase_advanced([coinbase_trade(price=65000.5, size=1)]))
    assert (out.trades[0]["price"], out.trades[0]["size"]) == ("65000.5", "1")


@pytest.mark.parametrize(
    ("channel", "label"),
    [
        ("heartbeats", "heartbeats"),
        ("subscriptions", "subscriptions"),
        ("candles", "candles"),
        ("ticker", "ticker"),
        ("l2_data", "l2_data"),
        ("brand_new_channel", "unknown:brand_new_channel"),
    ],
)
def test_other_advanced_channels_are_control_and_keep_their_sequence(channel, label):
    frame = {"channel": channel, "timestamp": "2026-08-09T21:05:48Z", "sequence_num": 35,
             "events": [{"type": "update"}]}  # fmt: skip
    out = coinbase.decode_frame(text(frame))
    assert (out.kind, out.label, out.sequence_num) == (FrameKind.CONTROL, label, 35)


def test_market_trades_event_of_unknown_type_is_control():
    frame = {"channel": "market_trades", "sequence_num": 3, "events": [{"type": "replay"}]}
    out = coinbase.decode_frame(text(frame))
    assert (out.kind, out.label, out.sequence_num) == (FrameKind.CONTROL, "unknown:replay", 3)


@pytest.mark.parametrize("frame", [{"type": "error", "message": "failure to subscribe"},
                                   {"type": "error", "message": "Failed to subscribe",
                                    "reason": "BTC-XYZ is not a valid product"}])  # fmt: skip
def test_error_frames_are_control_with_the_venue_words(frame):
    out = coinbase.decode_frame(text(frame))
    assert (out.kind, out.label) == (FrameKind.CONTROL, "error")
    assert frame["message"] in out.detail and frame.get("reason", "") in out.detail


# --- Exchange feed ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["match", "last_match"])
def test_exchange_match_becomes_a_record_with_text_id_and_sequence(kind):
    match = coinbase_match(type=kind)
    out = coinbase.decode_frame(text(match))
    assert out.kind is FrameKind.TRADES and out.sequence_num is None
    (record,) = out.trades
    assert {k: v for k, v in record.items() if k != "_raw_payload"} == {
        "product_id": "BTC-USD",
        "trade_id": "10",
        "price": "400.23",
        "size": "5.23512",
        "side": "sell",
        "time": "2014-11-07T08:19:27.028459Z",
        "sequence_num": 50,
        "feed": "exchange",
    }
    assert json.loads(record["_raw_payload"]) == match


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"trade_id": -1}, "trade_id"),
        ({"trade_id": "x"}, "trade_id"),
        ({"price": "-400.23"}, "price"),
        ({"size": "NaN"}, "size"),
        ({"side": "short"}, "side"),
        ({"sequence": "50"}, "sequence_num (sequence)"),
        ({"product_id": None}, "product_id"),
    ],
)
def test_bad_exchange_match_is_rejected(overrides, field):
    out = coinbase.decode_frame(text(coinbase_match(**overrides)))
    assert out.kind is FrameKind.TRADES and out.trades == []
    assert out.rejects[0].reason.startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("frame", "label"),
    [
        ({"type": "subscriptions", "channels": [{"name": "matches", "product_ids": []}]},
         "subscriptions"),
        ({"type": "heartbeat", "sequence": 90, "last_trade_id": 20}, "heartbeat"),
        ({"type": "ticker", "product_id": "BTC-USD", "price": "1"}, "ticker"),
        ({"type": "l2update", "product_id": "BTC-USD", "changes": []}, "l2update"),
        ({"type": "newfangled"}, "unknown:newfangled"),
    ],
)  # fmt: skip
def test_other_exchange_types_are_control(frame, label):
    out = coinbase.decode_frame(text(frame))
    assert (out.kind, out.label, out.sequence_num) == (FrameKind.CONTROL, label, None)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        b"\x00\x01\x02",
        '{"channel":"market_trades","sequence_num":1,"events":[{"type":"update","trades":[',
        "3.14",
        '{"foo": 1}',
        '{"type": 5}',
        '{"channel": null}',
        '{"channel":"market_trades","sequence_num":"seven","events":[]}',
        '{"channel":"market_trades","sequence_num":1,"events":{}}',
        '{"channel":"market_trades","sequence_num":1,"events":[{"type":"update"}]}',
        '{"channel":"market_trades","sequence_num":1,"events":[{"type":"update","trades":{}}]}',
        '{"channel":"market_trades","sequence_num":1,"events":[7]}',
    ],
)
def test_unknown_shapes_and_garbage_are_malformed(frame):
    out = coinbase.decode_frame(frame)
    assert out.kind is FrameKind.MALFORMED and out.trades == [] and len(out.rejects) == 1


# --- REST ---------------------------------------------------------------------------------


def test_rest_page_keeps_order_and_marks_the_feed():
    page = [coinbase_rest_trade(trade_id=76), coinbase_rest_trade(trade_id=75, side="sell"),
            coinbase_rest_trade(trade_id=74)]  # fmt: skip
    out = coinbase.decode_rest_trades(text(page), "BTC-USD")
    assert out.kind is FrameKind.TRADES and out.rejects == [] and out.cursor is None
    assert [t["trade_id"] for t in out.trades] == ["76", "75", "74"]
    first = out.trades[0]
    assert {k: v for k, v in first.items() if k != "_raw_payload"} == {
        "product_id": "BTC-USD",
        "trade_id": "76",
        "price": "10.00000000",
        "size": "0.01000000",
        "side": "buy",
        "time": "2026-08-09T21:05:42.514318Z",
        "sequence_num": None,
        "feed": "rest",
    }
    assert json.loads(first["_raw_payload"]) == page[0]


def test_rest_bad_row_is_rejected():
    page = [coinbase_rest_trade(trade_id=2), coinbase_rest_trade(trade_id=1, size="-3")]
    out = coinbase.decode_rest_trades(text(page), "BTC-USD")
    assert [t["trade_id"] for t in out.trades] == ["2"]
    assert out.rejects[0].reason.startswith("size: ")


def test_rest_error_body_is_malformed_with_the_venue_words():
    out = coinbase.decode_rest_trades(b'{"message":"NotFound"}', "BTC-XYZ")
    assert (out.kind, out.label, out.detail) == (FrameKind.MALFORMED, "error", "NotFound")


@pytest.mark.parametrize("body", ['{"a": 1}', "<html>", "[{}", "true"])
def test_rest_body_of_unknown_shape_is_malformed(body):
    assert coinbase.decode_rest_trades(body, "BTC-USD").kind is FrameKind.MALFORMED
