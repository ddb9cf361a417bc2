"""Adding a venue is one folder plus one registry line: tinyex (tests/tinyex) is registered
here and its frames go through the daemon's decode -> sequence -> buffer path and through
``capture load`` and ``run unify`` into trades_unified, with no product module touched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemahub import registry
from schemahub.cli import main
from schemahub.config import load_config
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import decoder_for
from schemahub.decode.base import FrameKind
from schemahub.decode.batch import decode_batch
from schemahub.errors import UsageError
from schemahub.lake import QUARANTINE_TABLE, UNIFIED_TABLE, Lake
from schemahub.sequencing import Sequencer
from schemahub.venues.events import ReceivedBatch
from tests import tinyex

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny():
    """Tinyex registered for one test (its one registry line), removed afterwards."""
    registry.register(tinyex.SPEC)
    yield tinyex.SPEC
    registry.unregister(tinyex.VENUE)


def trade(trade_id: int, pair: str = "BTC-USD", side: str = "buy", px: str = "100.5") -> dict:
    return {"pair": pair, "id": trade_id, "px": px, "sz": "0.25", "side": side,
            "ts": f"2026-12-07T06:00:{trade_id:02d}.000001Z"}  # fmt: skip


def frame(*trades: dict) -> str:
    return json.dumps({"ch": "trades", "data": list(trades)})


def test_the_registry_finds_tinyex_only_once_registered(tiny):
    assert registry.names() == (*registry.BUILTIN_NAMES, "tinyex")
    assert decoder_for("tinyex") is tinyex
    assert registry.RAW_TABLES["tinyex"] == "raw_tinyex_trades"
    assert registry.STREAM_FIELDS["tinyex"] == "pair"
    with pytest.raises(UsageError, match="no websocket client"):
        tiny.ws_class()
    registry.unregister("tinyex")
    with pytest.raises(UsageError, match="unknown venue 'tinyex'; expected one of binance"):
        decoder_for("tinyex")
    registry.register(tinyex.SPEC)  # the fixture unregisters it again


def test_a_product_venue_cannot_be_replaced_or_removed():
    with pytest.raises(UsageError, match="already registered"):
        registry.register(registry.VenueSpec("kraken", "tests.tinyex", "pair", "ts"))
    with pytest.raises(UsageError, match="product venue"):
        registry.unregister("kraken")


async def test_tinyex_bursts_decode_sequence_and_buffer(tiny):
    from schemahub.batching import BufferSet, RawBuffer

    texts = [
        frame(trade(1), trade(2)),
        '{"ch":"heartbeat"}',
        frame(trade(2), trade(3, side="sell")),  # trade 2 again: a duplicate
        frame(trade(4, px="-1"), trade(1, pair="ETH-USD")),  # a bad price: rejected
        "not json",
    ]
    decoded = decode_batch("tinyex", texts)  # no columnar grammar: every frame per frame
    assert decoded.trades.num_rows == 0 and sorted(decoded.slow) == [0, 1, 2, 3, 4]
    assert decoded.slow[1].kind is FrameKind.CONTROL
    assert decoded.slow[4].kind is FrameKind.MALFORMED
    assert "price" in decoded.slow[3].rejects[0].reason

    buffers = BufferSet({tinyex.RAW_TABLE: RawBuffer(tinyex.NATIVE_SCHEMA)}, 10**6)
    ingest = Ingest(Sequencer(), buffers, DaemonMetrics.create(), flush_rows=10**6)
    times = [1_800_000_000.0 + i for i in range(len(texts))]
    await ingest.on_batch(ReceivedBatch("tinyex", "c0", times, [len(t) for t in texts], decoded))
    rows = ingest.buffers.drain().tables[tinyex.RAW_TABLE]
    landed = [(r["pair"], r["trade_id"], r["side"]) for r in rows.to_pylist()]
    assert landed == [
        ("BTC-USD", 1, "buy"), ("BTC-USD", 2, "buy"), ("BTC-USD", 3, "sell"), ("ETH-USD", 1, "buy")
    ]  # fmt: skip
    assert ingest.sequencer.stats.duplicates == 1


def test_tinyex_capture_loads_and_unifies(tiny, tmp_path, monkeypatch):
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO / "config" / "mappings", mappings)
    shutil.copy(Path(tinyex.__file__).parent / "tinyex_trades.yaml", mappings)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("SCHEMAHUB_MAPPINGS_DIR", str(mappings))
    capture = work / "tinyex.jsonl"
    lines = [
        {"dir": "connect", "ts": 1.0, "url": "wss://ws.tinyex.test/", "data": None},
        {"dir": "recv", "ts": 2.0, "data": frame(trade(1), trade(2, side="sell"))},
        {"dir": "recv", "ts": 3.0, "data": '{"ch":"heartbeat"}'},
        {"dir": "recv", "ts": 4.0, "data": frame(trade(2, side="sell"), trade(3, px="-1"))},
    ]
    capture.write_text("".join(json.dumps(line) + "\n" for line in lines))

    assert main(["tables", "init"]) == 0
    assert main(["capture", "load", "tinyex", str(capture)]) == 0
    assert main(["run", "unify", "trades_unified"]) == 0

    lake = Lake(load_config().lake)
    unified = lake.table(UNIFIED_TABLE).scan().to_arrow().to_pylist()
    got = sorted((r["exchange"], r["symbol"], r["trade_id"], r["side"]) for r in unified)
    assert got == [("tinyex", "BTC-USD", 1, "BUY"), ("tinyex", "BTC-USD", 2, "SELL")]
    quarantined = lake.table(QUARANTINE_TABLE).scan().to_arrow().to_pylist()
    assert [(q["exchange"], q["reason"]) for q in quarantined] == [
        ("tinyex", "price (px): '-1' is not a positive finite number")
    ]


def test_a_venue_without_a_native_spec_takes_the_msgspec_path():
    # Kraken's grammar under another name: the C parser has no spec of that name, so the
    # registry's native=False must route its bursts to the msgspec structs.
    from schemahub.benchmark.capture_gen import venue_frames

    spec = registry.VenueSpec(
        "krakenlike",
        decoder_path="schemahub.decode.kraken",
        stream_field="symbol",
        time_field="timestamp",
        columnar_path="schemahub.decode.batch_venues:KRAKEN",
    )
    texts = [text for _, text in venue_frames("kraken", 200, seed=3)]
    registry.register(spec)
    try:
        got = decode_batch("krakenlike", texts)
    finally:
        registry.unregister("krakenlike")
    want = decode_batch("kraken", texts, native=False)
    assert got.trades.num_rows > 0 and got.trades.equals(want.trades)
    assert sorted(got.slow) == sorted(want.slow)
