"""Binance decoder: hand-made trade frames (plain and combined), control traffic, bad trades,
and REST pages, built from the documented formats."""

from __future__ import annotations

import json

import pytest

from schemahub.decode import FrameKind, binance
from schemahub.errors import UsageError
from tests.decode.frames import MISSING, binance_rest_trade, binance_trade, binance_wrapped, text


def test_plain_trade_frame_becomes_one_record_with_the_frame_as_payload():
    frame = text(binance_trade())
    out = binance.decode_frame(frame)
    assert out.kind is FrameKind.TRADES and out.rejects == []
    assert out.trades == [
        {
            "symbol": "BTCUSDT",
            "trade_id": 12345,
            "price": "16500.12000000",
            "qty": "0.00150000",
            "trade_time": 1672515782134,
            "is_buyer_maker": True,
            "event_time": 1672515782136,
            "_raw_payload": frame,
        }
    ]


def test_wrapped_trade_frame_payload_is_the_inner_data_object():
    trade = binance_trade(t=777, m=False)
    out = binance.decode_frame(binance_wrapped(trade).encode())
    (record,) = out.trades
    assert record["trade_id"] == 777 and record["is_buyer_maker"] is False
    assert json.loads(record["_raw_payload"]) == trade
    assert "stream" not in record["_raw_payload"]


def test_keep_payload_false_leaves_the_payload_out():
    out = binance.decode_frame(text(binance_trade()), keep_payload=False)
    assert "_raw_payload" not in out.trades[0]


def test_trade_stream_data_without_event_type_is_still_checked_as_a_trade():
    out = binance.decode_frame(binance_wrapped(binance_trade(e=MISSING)))
    assert out.kind is FrameKind.TRADES and out.trades[0]["trade_id"] == 12345


def test_missing_event_time_is_null_not_an_error():
    out = binance.decode_frame(text(binance_trade(E=MISSING)))
    assert out.trades[0]["event_time"] is None


def test_numbers_where_text_is_expected_are_kept_as_text():
    out = binance.decode_frame(text(binance_trade(p=16500.5, q=2)))
    assert (out.trades[0]["price"], out.trades[0]["qty"]) == ("16500.5", "2")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"t": MISSING}, "trade_id (t)"),
        ({"t": None}, "trade_id (t)"),
        ({"t": "abc"}, "trade_id (t)"),
        ({"t": 1.5}, "trade_id (t)"),
        ({"t": -4}, "trade_id (t)"),
        ({"t": True}, "trade_id (t)"),
        ({"p": "NaN"}, "price (p)"),
        ({"p": "-1"}, "price (p)"),
        ({"p": ""}, "price (p)"),
        ({"p": "inf"}, "price (p)"),
        ({"p": "abc"}, "price (p)"),
        ({"p": "0"}, "price (p)"),
        ({"p": 0}, "price (p)"),
        ({"p": "1e999"}, "price (p)"),
        ({"p": MISSING}, "price (p)"),
        ({"q": "0.0"}, "qty (q)"),
        ({"q": None}, "qty (q)"),
        ({"q": [1]}, "qty (q)"),
        ({"s": MISSING}, "symbol (s)"),
        ({"s": ""}, "symbol (s)"),
        ({"s": 5}, "symbol (s)"),
        ({"T": MISSING}, "trade_time (T)"),
        ({"T": "1672515782134"}, "trade_time (T)"),
        ({"m": MISSING}, "is_buyer_maker (m)"),
        ({"m": "true"}, "is_buyer_maker (m)"),
        ({"m": 1}, "is_buyer_maker (m)"),
        ({"E": "yesterday"}, "event_time (E)"),
    ],
)
def test_bad_trade_is_rejected_with_its_field_named(overrides, field):
    frame = text(binance_trade(**overrides))
    out = binance.decode_frame(frame)
    assert out.kind is FrameKind.TRADES and out.trades == []
    (reject,) = out.rejects
    assert reject.reason.startswith(f"{field}: ")
    assert reject.payload == frame


def test_price_reason_quotes_the_bad_value():
    out = binance.decode_frame(text(binance_trade(p="NaN")))
    assert out.rejects[0].reason == "price (p): 'NaN' is not a positive finite number"


def test_wrapped_bad_trade_keeps_the_inner_object_as_payload():
    trade = binance_trade(p="-1")
    out = binance.decode_frame(binance_wrapped(trade))
    assert json.loads(out.rejects[0].payload) == trade


@pytest.mark.parametrize(
    ("frame", "label"),
    [
        ({"result": None, "id": 1}, "result"),
        ({"result": ["btcusdt@trade"], "id": 3}, "result"),
        ({"e": "aggTrade", "E": 1, "s": "BTCUSDT", "a": 5, "p": "1", "q": "1"}, "aggTrade"),
        ({"e": "24hrTicker", "E": 1, "s": "BTCUSDT"}, "24hrTicker"),
        ({"e": "depthUpdate", "E": 1, "s": "BNBBTC", "U": 157, "u": 160}, "depthUpdate"),
        ({"u": 400900217, "s": "BNBUSDT", "b": "25.3", "B": "31.2", "a": "25.4", "A": "40"},
         "bookTicker"),
        ({"lastUpdateId": 160, "bids": [], "asks": []}, "depth"),
        ({"stream": "bnbbtc@depth20@100ms", "data": {"lastUpdateId": 1, "bids": [], "asks": []}},
         "depth20@100ms"),
        ({"stream": "!ticker@arr", "data": [{"e": "24hrTicker", "s": "BTCUSDT"}]}, "arr"),
        ([{"e": "24hrMiniTicker", "s": "BTCUSDT"}], "24hrMiniTicker"),
    ],
)  # fmt: skip
def test_other_binance_traffic_is_control(frame, label):
    out = binance.decode_frame(text(frame))
    assert (out.kind, out.label, out.trades, out.rejects) == (FrameKind.CONTROL, label, [], [])


def test_error_reply_is_control_with_the_venue_words():
    frame = {"error": {"code": 2, "msg": "Invalid request: unknown variable"}, "id": 7}
    out = binance.decode_frame(text(frame))
    assert (out.kind, out.label) == (FrameKind.CONTROL, "error")
    assert "Invalid request: unknown variable" in out.detail and "2" in out.detail


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xff\xfe\x00garbage",
        '{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1"',
        "42",
        "null",
        '"trade"',
        '{"hello": "world"}',
        "[]",
        "[1, 2]",
        '{"stream": 5, "data": {}}',
        '{"stream": "btcusdt@trade", "data": 5}',
        '{"e": 17}',
    ],
)
def test_unknown_shapes_and_garbage_are_malformed_with_the_frame_kept(frame):
    out = binance.decode_frame(frame)
    assert out.kind is FrameKind.MALFORMED and out.trades == []
    (reject,) = out.rejects
    assert reject.reason
    expected = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
    assert reject.payload == expected


# --- REST ---------------------------------------------------------------------------------


def test_rest_page_maps_to_the_same_columns_with_symbol_from_the_argument():
    page = [binance_rest_trade(), binance_rest_trade(id=28458, isBuyerMaker=False)]
    out = binance.decode_rest_trades(text(page), "BNBBTC")
    assert out.kind is FrameKind.TRADES and out.rejects == []
    first, second = out.trades
    assert {k: v for k, v in first.items() if k != "_raw_payload"} == {
        "symbol": "BNBBTC",
        "trade_id": 28457,
        "price": "4.00000100",
        "qty": "12.00000000",
        "trade_time": 1499865549590,
        "is_buyer_maker": True,
        "event_time": None,
    }
    assert json.loads(first["_raw_payload"]) == page[0]
    assert (second["trade_id"], second["is_buyer_maker"]) == (28458, False)


def test_rest_page_bad_row_is_rejected_and_siblings_land():
    page = [binance_rest_trade(id=1), binance_rest_trade(id=2, price="0"), binance_rest_trade(id=3)]
    out = binance.decode_rest_trades(text(page), "BNBBTC")
    assert [t["trade_id"] for t in out.trades] == [1, 3]
    (reject,) = out.rejects
    assert reject.reason.startswith("price: ") and json.loads(reject.payload)["id"] == 2


def test_rest_empty_page_is_trades_with_none():
    out = binance.decode_rest_trades(b"[]", "BNBBTC")
    assert (out.kind, out.trades, out.rejects) == (FrameKind.TRADES, [], [])


def test_rest_error_body_is_malformed_with_the_venue_words():
    out = binance.decode_rest_trades('{"code":-1121,"msg":"Invalid symbol."}', "NOPE")
    assert (out.kind, out.label) == (FrameKind.MALFORMED, "error")
    assert "Invalid symbol." in out.detail and "-1121" in out.detail
    assert len(out.rejects) == 1


@pytest.mark.parametrize("body", ['{"a": 1}', "nope", "[1, 2", "5"])
def test_rest_body_of_unknown_shape_is_malformed(body):
    assert binance.decode_rest_trades(body, "BNBBTC").kind is FrameKind.MALFORMED


def test_rest_symbol_argument_must_be_text():
    with pytest.raises(UsageError, match="symbol"):
        binance.decode_rest_trades("[]", "")
