"""Websocket sessions against tiny local servers: bad frames, silence, error closes,
refused subscriptions, sequence jumps, app pings, refused handshakes, capture recording."""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection

from schemahub.capture import CaptureLine, read_capture
from schemahub.decode.base import FrameKind
from schemahub.errors import VenueError
from schemahub.venues.events import Connected, Disconnected, SequenceGap, SubscriptionRejected
from schemahub.venues.recording import CaptureRecorder
from tests.venues.fakews import (
    FakeVenue,
    ack_binance,
    binance_trade,
    fake_venue,
    recv_json,
    session,
)
from tests.venues.helpers import KeepingSink, running, wait_until


async def test_bad_frames_are_counted_quarantined_and_the_feed_goes_on() -> None:
    oversize = binance_trade(90, p="1" * 5000)

    async def handler(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        for frame in [
            binance_trade(1),
            '{"stream":"btcusdt@trade","data":{"e":"trade",',  # truncated JSON
            b"\x00\x01binary\xff",  # a binary frame
            oversize,
            "[]",  # a JSON value of no known shape
            binance_trade(2, X="an unknown field", extra={"nested": [1, 2]}),
            binance_trade(3, p=42000.1, t="3"),  # number where a string is expected and back
            json.dumps({"e": "marketNotice", "E": 1, "msg": "unknown event type"}),
            binance_trade(4),
        ]:
            await ws.send(frame)
        await ws.wait_closed()

    sink = KeepingSink()
    async with fake_venue(handler) as venue:
        live = session("binance", venue.url, ["BTCUSDT"], sink, max_frame_bytes=2000)
        async with running(live):
            await wait_until(lambda: 4 in sink.ids["BTCUSDT"], "the trade after the bad frames")
    stats = live.stats
    assert {1, 2, 4} <= set(sink.ids["BTCUSDT"])
    assert 90 not in sink.ids["BTCUSDT"]
    assert (stats.binary, stats.oversize, stats.connects, stats.reconnects) == (1, 1, 1, 0)
    assert stats.malformed >= 4  # truncated, binary, oversize, [] (and trade 3 if refused)
    quarantined = [r.reason for f in sink.malformed() for r in f.decoded.rejects]
    assert any("binary" in r for r in quarantined)
    assert any("over cap 2000" in r for r in quarantined)
    assert all(len(r.payload) <= 5000 for f in sink.malformed() for r in f.decoded.rejects)


async def test_a_server_that_accepts_and_never_speaks_is_replaced() -> None:
    async def mute(ws: ServerConnection, venue: FakeVenue) -> None:
        await ws.wait_closed()

    sink = KeepingSink()
    async with fake_venue(mute) as venue:
        live = session(
            "binance", venue.url, ["BTCUSDT"], sink, ack_timeout=0.2, silence_timeout=0.2
        )
        async with running(live):
            await wait_until(lambda: len(sink.of(Disconnected)) >= 3, "three replaced connections")
    assert live.stats.reconnects >= 3
    gone = sink.of(Disconnected)[0]
    connected = sink.of(Connected)[0]
    # No frame ever came: the possibly-missed window starts at the connect time.
    assert gone.last_frame_at == connected.at and gone.at > gone.last_frame_at
    assert gone.streams == ("BTCUSDT",) and not gone.planned


async def test_silence_after_the_acks_is_noticed_and_the_window_reported() -> None:
    async def goes_quiet(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        await ws.send(binance_trade(len(venue.received)))
        await ws.wait_closed()

    sink = KeepingSink()
    async with fake_venue(goes_quiet) as venue:
        live = session("binance", venue.url, ["BTCUSDT"], sink, silence_timeout=0.3)
        async with running(live):
            await wait_until(lambda: live.stats.silences >= 2, "two silences noticed")
    first_trade_at = next(f.received_at for f in sink.frames if f.decoded.trades)
    assert sink.of(Disconnected)[0].last_frame_at == first_trade_at
    assert sink.ids["BTCUSDT"][:2] == [1, 2]


async def test_a_close_with_an_error_code_is_counted_and_reconnected() -> None:
    async def closes(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        await ws.send(binance_trade(len(venue.received)))
        await ws.close(1011, "internal error")

    sink = KeepingSink()
    async with fake_venue(closes) as venue:
        live = session("binance", venue.url, ["BTCUSDT"], sink)
        async with running(live):
            await wait_until(lambda: len(sink.ids["BTCUSDT"]) >= 3, "trades over three connections")
    assert live.stats.error_closes >= 2
    assert len(sink.of(Connected)) >= 3
    assert all("1011" in d.reason for d in sink.of(Disconnected)[:2])


async def test_a_refused_subscription_names_the_symbol_and_is_not_asked_again() -> None:
    async def kraken(ws: ServerConnection, venue: FakeVenue) -> None:
        request = await recv_json(ws, venue)
        for symbol in request["params"]["symbol"]:
            ok = symbol != "NOPE/USD"
            reply = {"method": "subscribe", "success": ok, "req_id": request["req_id"]}
            reply.update(
                {"result": {"channel": "trade", "symbol": symbol}}
                if ok
                else {"error": f"Currency pair not supported {symbol}", "symbol": symbol}
            )
            await ws.send(json.dumps(reply))
        trade = {
            "symbol": "BTC/USD",
            "side": "buy",
            "price": 42000.5,
            "qty": 0.5,
            "ord_type": "market",
            "trade_id": len(venue.received),
            "timestamp": "2024-01-01T00:00:00.000000Z",
        }
        await ws.send(json.dumps({"channel": "trade", "type": "update", "data": [trade]}))
        await ws.close(1001, "going away")

    sink = KeepingSink()
    async with fake_venue(kraken) as venue:
        live = session("kraken", venue.url, ["BTC/USD", "NOPE/USD"], sink)
        async with running(live):
            await wait_until(lambda: len(sink.ids["BTC/USD"]) >= 2, "trades on a second connection")
    (refused,) = sink.of(SubscriptionRejected)
    assert refused.symbol == "NOPE/USD" and "NOPE/USD" in str(refused.error)
    assert live.rejected == {"NOPE/USD": "Currency pair not supported NOPE/USD"}
    asked = [m["params"]["symbol"] for conn in venue.received for m in conn]
    assert asked[0] == ["BTC/USD", "NOPE/USD"] and asked[1] == ["BTC/USD"]


async def test_a_coinbase_sequence_jump_is_reported() -> None:
    async def coinbase(ws: ServerConnection, venue: FakeVenue) -> None:
        await recv_json(ws, venue)
        await recv_json(ws, venue)
        frames = [
            {
                "channel": "subscriptions",
                "sequence_num": 0,
                "events": [{"subscriptions": {"market_trades": ["BTC-USD"]}}],
            },
            {
                "channel": "heartbeats",
                "sequence_num": 1,
                "events": [{"current_time": "now", "heartbeat_counter": 1}],
            },
            {
                "channel": "heartbeats",
                "sequence_num": 5,
                "events": [{"current_time": "now", "heartbeat_counter": 2}],
            },
        ]
        for frame in frames:
            await ws.send(json.dumps({"timestamp": "2024-01-01T00:00:00Z", **frame}))
        await ws.wait_closed()

    sink = KeepingSink()
    async with fake_venue(coinbase) as venue:
        live = session("coinbase", venue.url, ["BTC-USD"], sink)
        async with running(live):
            await wait_until(lambda: bool(sink.of(SequenceGap)), "a sequence gap")
    (gap,) = sink.of(SequenceGap)
    assert (gap.expected, gap.got) == (2, 5)
    channels = [m["channel"] for m in venue.received[0]]
    assert channels == ["market_trades", "heartbeats"]


async def test_kraken_sends_an_app_ping_when_idle_and_a_pong_keeps_it_alive() -> None:
    async def kraken(ws: ServerConnection, venue: FakeVenue) -> None:
        request = await recv_json(ws, venue)
        ack = {
            "method": "subscribe",
            "success": True,
            "req_id": request["req_id"],
            "result": {"channel": "trade", "symbol": "BTC/USD"},
        }
        await ws.send(json.dumps(ack))
        while True:
            ping = await recv_json(ws, venue)
            await ws.send(json.dumps({"method": "pong", "req_id": ping["req_id"]}))

    sink = KeepingSink()
    async with fake_venue(kraken) as venue:
        live = session("kraken", venue.url, ["BTC/USD"], sink, silence_timeout=0.4)
        async with running(live):
            await wait_until(
                lambda: bool(venue.received) and len(venue.received[0]) >= 4, "three pings"
            )
    assert [m["method"] for m in venue.received[0]] == ["subscribe", "ping", "ping", "ping"]
    assert live.stats.silences == 0 and live.stats.connects == 1


async def test_a_refused_handshake_is_fatal_with_a_clear_error() -> None:
    def refuse(connection, request):  # type: ignore[no-untyped-def]
        return connection.respond(HTTPStatus.NOT_FOUND, "no such stream\n")

    async def never(ws: ServerConnection, venue: FakeVenue) -> None:  # pragma: no cover
        raise AssertionError("handshake should have been refused")

    async with fake_venue(never, process_request=refuse) as venue:
        live = session("binance", venue.url, ["BTCUSDT"], KeepingSink())
        with pytest.raises(VenueError, match=r"binance websocket .*/stream.*HTTP 404"):
            await asyncio.wait_for(live.run(), 10)


async def test_capture_records_connects_sends_and_every_frame_rotated_by_size(
    tmp_path: Path,
) -> None:
    async def handler(ws: ServerConnection, venue: FakeVenue) -> None:
        await ack_binance(ws, venue)
        for i in range(1, 41):
            await ws.send(binance_trade(i))
        await ws.send(b"\x00binary")
        await ws.wait_closed()

    sink = KeepingSink()
    recorder = CaptureRecorder(tmp_path, "binance", max_file_bytes=4096)
    async with fake_venue(handler) as venue:
        live = session("binance", venue.url, ["BTCUSDT"], sink, recorder=recorder)
        async with running(live):
            await wait_until(lambda: live.stats.binary == 1, "the last frame")
    recorder.close()
    files = sorted(tmp_path.glob("binance-*.jsonl"))
    assert len(files) > 1
    lines = [line for f in files for line in read_capture(f)]
    assert all(isinstance(line, CaptureLine) for line in lines)
    assert [line.dir for line in lines[:2]] == ["connect", "send"]
    assert "SUBSCRIBE" in (lines[1].data or "")
    received = [line.data for line in lines if line.dir == "recv"]
    assert received[1:41] == [binance_trade(i) for i in range(1, 41)]
    assert received[-1] is not None and "binary" in received[-1]
    assert recorder.dropped == 0
    assert len(sink.frames) == len(received)
    assert sink.frames[0].decoded.kind is FrameKind.CONTROL
