"""Every real recording in tests/data/recorded through the decoders.

Expected values are derived from the recordings with the plain ``json`` module, independently
of the decoders, plus a few facts read off the files by hand (noted where used).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from schemahub.capture import CaptureLine, read_capture
from schemahub.decode import FrameKind, decoder_for

FILES = {
    "binance_ws.jsonl": "binance",
    "coinbase_advanced_ws.jsonl": "coinbase",
    "coinbase_exchange_ws.jsonl": "coinbase",
    "kraken_v1_ws.jsonl": "kraken",
}


def received(path: Path) -> list[str]:
    """The text of every received frame of a capture file."""
    frames = []
    for line in read_capture(path):
        assert isinstance(line, CaptureLine), f"bad capture line in {path.name}: {line}"
        if line.dir == "recv":
            assert line.data is not None
            frames.append(line.data)
    return frames


def test_every_recording_is_covered(recorded):
    assert {p.name for p in recorded.glob("*.jsonl")} == set(FILES)


@pytest.mark.parametrize(("name", "venue"), sorted(FILES.items()))
def test_no_recorded_frame_is_malformed_and_records_fit_the_schema(recorded, name, venue):
    decoder = decoder_for(venue)
    records = []
    for frame in received(recorded / name):
        out = decoder.decode_frame(frame)
        assert out.kind is not FrameKind.MALFORMED, (out.rejects, frame)
        assert out.rejects == [], frame
        records.extend(out.trades)
    for record in records:
        assert set(record) == {*decoder.NATIVE_SCHEMA.names, "_raw_payload"}
        for column in decoder.NATIVE_SCHEMA:
            assert column.nullable or record[column.name] is not None, column.name
    table = pa.Table.from_pylist(records, schema=decoder.NATIVE_SCHEMA)
    assert table.num_rows == len(records)


def test_binance_recording_is_all_control_with_its_stream_labels(recorded):
    frames = received(recorded / "binance_ws.jsonl")
    expected = Counter()
    for frame in frames:
        value = json.loads(frame)
        expected[value["data"].get("e") or value["stream"].split("@", 1)[1]] += 1
    assert set(expected) == {"aggTrade", "kline", "bookTicker"}
    got = Counter()
    for frame in frames:
        out = decoder_for("binance").decode_frame(frame)
        assert (out.kind, out.trades) == (FrameKind.CONTROL, [])
        got[out.label] += 1
    assert got == expected


def test_coinbase_advanced_recording_decodes_every_trade(recorded):
    frames = received(recorded / "coinbase_advanced_ws.jsonl")
    expected_ids: list[tuple[str, str]] = []
    expected_sequence = []
    snapshots = 0
    for frame in frames:
        value = json.loads(frame)
        expected_sequence.append(value["sequence_num"])
        if value["channel"] == "market_trades":
            for event in value["events"]:
                snapshots += event["type"] == "snapshot"
                expected_ids += [(t["product_id"], t["trade_id"]) for t in event["trades"]]
    decoder = decoder_for("coinbase")
    outs = [decoder.decode_frame(frame) for frame in frames]
    got_ids = [(t["product_id"], t["trade_id"]) for out in outs for t in out.trades]
    assert got_ids == expected_ids
    assert len(set(got_ids)) > 100  # the file holds a few hundred distinct trades
    assert [out.sequence_num for out in outs] == expected_sequence
    assert sum(out.is_snapshot for out in outs) == snapshots == 2
    assert {t["feed"] for out in outs for t in out.trades} == {"advanced"}
    assert {t["side"] for out in outs for t in out.trades} == {"BUY", "SELL"}
    assert all(t["sequence_num"] == out.sequence_num for out in outs for t in out.trades)
    assert Counter(out.label for out in outs if out.kind is FrameKind.CONTROL) == Counter(
        json.loads(f)["channel"] for f in frames if json.loads(f)["channel"] != "market_trades"
    )
    # Read off the file: the first snapshot starts with BTC-USD trade 1068572090 at 65083.67.
    first = outs[0].trades[0]
    assert (first["trade_id"], first["price"], first["side"]) == ("1068572090", "65083.67", "SELL")
    assert json.loads(first["_raw_payload"])["size"] == "0.002186"


def test_coinbase_advanced_sequence_numbers_increase(recorded):
    outs = [decoder_for("coinbase").decode_frame(f)
            for f in received(recorded / "coinbase_advanced_ws.jsonl")]  # fmt: skip
    sequence = [out.sequence_num for out in outs]
    assert None not in sequence and sequence == sorted(set(sequence))


def test_coinbase_exchange_recording_decodes_every_match(recorded):
    frames = received(recorded / "coinbase_exchange_ws.jsonl")
    matches = [json.loads(f) for f in frames]
    matches = [m for m in matches if m["type"] in ("match", "last_match")]
    records = [t for f in frames for t in decoder_for("coinbase").decode_frame(f).trades]
    assert [(r["product_id"], r["trade_id"], r["sequence_num"], r["side"]) for r in records] == [
        (m["product_id"], str(m["trade_id"]), m["sequence"], m["side"]) for m in matches
    ]
    assert {r["feed"] for r in records} == {"exchange"}
    assert {r["side"] for r in records} <= {"buy", "sell"}
    assert all(isinstance(r["trade_id"], str) for r in records)


def test_kraken_v1_recording_is_all_control(recorded):
    frames = received(recorded / "kraken_v1_ws.jsonl")
    outs = [decoder_for("kraken").decode_frame(f) for f in frames]
    assert {(out.kind, out.label) for out in outs} == {(FrameKind.CONTROL, "kraken_v1")}
    # Read off the file: systemStatus, subscriptionStatus, heartbeat events and trade arrays.
    assert {out.detail for out in outs} == {"systemStatus", "subscriptionStatus", "heartbeat",
                                           "trade"}  # fmt: skip
