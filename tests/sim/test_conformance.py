"""The simulator's frames next to the venues' real ones: same decoders, same field checks.

Real references are the recordings in ``tests/data/recorded`` wherever they hold the frame
kind: Coinbase Advanced ``market_trades``/``heartbeats``/``subscriptions``, Coinbase Exchange
``match``/``last_match``, Binance frames (``aggTrade`` shares every field of ``trade`` but its
ids), Binance ``exchangeInfo``, Kraken ``AssetPairs``. No Kraken websocket v2 frame was
recorded, so Kraken's reference is the example of its v2 documentation (docs.kraken.com,
"Trades" channel), copied below as published.

A field profile says, per key, which JSON types occur and, for strings, which format: ISO 8601
UTC (how many fractional digits, trailing zeros or not), decimal text (how many places,
trailing zeros or not), uuid, or the shape of a word (BTC-USD -> ``A-A``). The simulator's
profile must fit the real one: the same keys, types and formats, and a fixed width wherever
the real data has one.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow as pa
import pytest
from websockets.asyncio.client import connect

from schemahub.decode import FrameKind, decoder_for
from schemahub.sim import SimConfig, Simulator
from tests.sim.conftest import send_json

KRAKEN_DOC_SNAPSHOT = {
    "channel": "trade",
    "type": "snapshot",
    "data": [
        {"symbol": "MATIC/USD", "side": "buy", "price": 0.5147, "qty": 6423.46326,
         "ord_type": "limit", "trade_id": 4665846, "timestamp": "2023-09-25T07:48:36.925533Z"},
        {"symbol": "MATIC/USD", "side": "buy", "price": 0.5147, "qty": 1136.19677815,
         "ord_type": "limit", "trade_id": 4665847, "timestamp": "2023-09-25T07:49:36.925603Z"},
    ],
}  # fmt: skip

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,9}))?Z$")
_DECIMAL = re.compile(r"^\d+(?:\.(\d+))?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class FieldProfile:
    """What one key's values look like across many frames."""

    count: int = 0
    kinds: set[str] = field(default_factory=set)
    widths: set[int] = field(default_factory=set)  # fractional digits of ISO / decimal text
    trailing_zero: bool = False

    def add(self, value: Any) -> None:
        self.count += 1
        if not isinstance(value, str):  # null, bool, int, float, dict, list
            self.kinds.add(type(value).__name__)
        elif m := _ISO.match(value):
            self._fraction("iso", m.group(1) or "")
        elif m := _DECIMAL.match(value):
            self._fraction("decimal", m.group(1) or "")
        elif _UUID.match(value):
            self.kinds.add("uuid")
        else:
            self.kinds.add("word:" + word_shape(value))

    def _fraction(self, kind: str, digits: str) -> None:
        self.kinds.add(kind)
        self.widths.add(len(digits))
        self.trailing_zero |= digits.endswith("0")


def word_shape(text: str) -> str:
    """Letters and digits by class, runs collapsed: BTC-USD -> A-A, last_match -> a_a."""
    classes = re.sub(r"\d", "9", text)
    classes = re.sub(r"[a-z]", "a", classes)
    classes = re.sub(r"[A-Z]", "A", classes)
    return re.sub(r"(\w)\1+", r"\1", classes)


def profile(
    items: list[dict[str, Any]], rename: dict[str, str] | None = None
) -> dict[str, FieldProfile]:
    out: dict[str, FieldProfile] = {}
    for item in items:
        for key, value in item.items():
            out.setdefault((rename or {}).get(key, key), FieldProfile()).add(value)
    return out


# A width or trailing-zero habit counts as the venue's convention only when seen this often.
MIN_SAMPLES = 20


def assert_fits(sim: dict[str, FieldProfile], real: dict[str, FieldProfile], what: str) -> None:
    assert set(sim) == set(real), f"{what}: keys differ"
    for key, s in sim.items():
        r = real[key]
        assert s.kinds <= r.kinds, f"{what}.{key}: {s.kinds} not among the real {r.kinds}"
        if r.count < MIN_SAMPLES:
            continue
        if len(r.widths) == 1:
            assert s.widths == r.widths, f"{what}.{key}: width {s.widths}, real always {r.widths}"
        if not r.trailing_zero:
            assert not s.trailing_zero, f"{what}.{key}: trailing zeros the real feed never sends"


def recv_frames(path: Path) -> list[str]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line["data"] for line in lines if line["dir"] == "recv"]


async def collect(ws: Any, seconds: float) -> list[str]:
    frames: list[str] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            frames.append(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
    return frames


@pytest.fixture(scope="module")
def sim_frames() -> dict[str, Any]:
    """Frames and REST bodies from one simulator run (BTC and ETH, 120 trades/s a stream)."""
    return asyncio.run(_record_simulator())


async def _record_simulator() -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with Simulator(SimConfig(rate_per_stream=120, seed=11)) as sim:
        await asyncio.sleep(1.0)
        advanced = {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"]}
        async with connect(sim.ws_url("coinbase")) as ws:
            await send_json(ws, {**advanced, "channel": "market_trades"})
            await send_json(ws, {**advanced, "channel": "heartbeats"})
            out["advanced"] = await collect(ws, 1.6)
        async with connect(sim.ws_url("coinbase")) as ws:
            await send_json(
                ws, {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["matches"]}
            )
            out["exchange"] = await collect(ws, 0.5)
        async with connect(
            f"{sim.ws_url('binance')}/stream?streams=btcusdt@trade/ethusdt@trade"
        ) as ws:
            out["binance"] = await collect(ws, 0.5)
        async with connect(sim.ws_url("kraken")) as ws:
            await send_json(
                ws,
                {
                    "method": "subscribe",
                    "params": {"channel": "trade", "symbol": ["BTC/USD", "ETH/USD"]},
                },
            )
            out["kraken"] = await collect(ws, 1.2)
        async with aiohttp.ClientSession() as http:
            for name, url in {
                "binance_rest": f"{sim.rest_url('binance')}/api/v3/trades?symbol=BTCUSDT",
                "coinbase_rest": f"{sim.rest_url('coinbase')}/products/BTC-USD/trades?limit=1000",
                "kraken_rest": f"{sim.rest_url('kraken')}/0/public/Trades?pair=XBTUSD&count=1000",
                "exchange_info": f"{sim.rest_url('binance')}/api/v3/exchangeInfo",
                "asset_pairs": f"{sim.rest_url('kraken')}/0/public/AssetPairs",
                "cb_products": f"{sim.rest_url('coinbase')}/api/v3/brokerage/market/products",
            }.items():
                async with http.get(url) as resp:
                    out[name] = await resp.text()
    return out


def _decode_all(venue: str, frames: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Trade records and the labels of control frames; no frame may be MALFORMED."""
    decoder = decoder_for(venue)
    records, labels = [], []
    for frame in frames:
        out = decoder.decode_frame(frame)
        assert out.kind is not FrameKind.MALFORMED, (out.rejects, frame[:200])
        assert out.rejects == [], frame[:200]
        records.extend(out.trades)
        if out.kind is FrameKind.CONTROL:
            labels.append(out.label)
    pa.Table.from_pylist(records, schema=decoder.NATIVE_SCHEMA)  # fits the raw table
    return records, labels


def _column_types(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    types: dict[str, set[str]] = {}
    for record in records:
        for key, value in record.items():
            if key != "_raw_payload":
                types.setdefault(key, set()).add(type(value).__name__)
    return types


def _advanced_parts(frames: list[str]) -> dict[str, list[dict[str, Any]]]:
    parts: dict[str, list[dict[str, Any]]] = {"envelope": [], "trade": [], "heartbeat": []}
    for frame in map(json.loads, frames):
        parts["envelope"].append({k: v for k, v in frame.items() if k != "events"})
        for event in frame["events"]:
            if frame["channel"] == "market_trades":
                parts["trade"].extend(event["trades"])
            elif frame["channel"] == "heartbeats":
                parts["heartbeat"].append(event)
    return parts


def test_coinbase_advanced(recorded: Path, sim_frames: dict[str, Any]) -> None:
    real_frames, sim = recv_frames(recorded / "coinbase_advanced_ws.jsonl"), sim_frames["advanced"]
    real_market = [
        f
        for f in real_frames
        if json.loads(f)["channel"] in ("market_trades", "heartbeats", "subscriptions")
    ]
    real_parts, sim_parts = _advanced_parts(real_market), _advanced_parts(sim)
    for part in ("envelope", "trade", "heartbeat"):
        assert_fits(profile(sim_parts[part]), profile(real_parts[part]), f"advanced {part}")
    real_records, real_labels = _decode_all("coinbase", real_market)
    sim_records, sim_labels = _decode_all("coinbase", sim)
    assert _column_types(sim_records) == _column_types(real_records)
    assert set(sim_labels) == set(real_labels) == {"subscriptions", "heartbeats"}
    # As in the recording: one snapshot frame per product, the snapshots before the ack.
    channels = [json.loads(f)["channel"] for f in sim]
    assert channels[:3] == ["market_trades", "market_trades", "subscriptions"]
    snapshot = json.loads(sim[0])["events"][0]
    real_snapshot = json.loads(real_market[0])["events"][0]
    assert snapshot["type"] == real_snapshot["type"] == "snapshot"
    assert len(snapshot["trades"]) == len(real_snapshot["trades"])


def test_coinbase_exchange(recorded: Path, sim_frames: dict[str, Any]) -> None:
    real = [json.loads(f) for f in recv_frames(recorded / "coinbase_exchange_ws.jsonl")]
    sim = [json.loads(f) for f in sim_frames["exchange"]]
    assert_fits(
        profile([f for f in sim if f["type"] != "subscriptions"]),
        profile([f for f in real if f["type"] != "subscriptions"]),
        "exchange match",
    )
    assert set(sim[0]) == set(real[0]) and sim[0]["type"] == "subscriptions"
    assert [f["type"] for f in sim[1:3]] == ["last_match", "match"]
    real_records, _ = _decode_all("coinbase", [json.dumps(f) for f in real])
    sim_records, _ = _decode_all("coinbase", sim_frames["exchange"])
    assert _column_types(sim_records) == _column_types(real_records)


def test_binance(recorded: Path, sim_frames: dict[str, Any]) -> None:
    real = [json.loads(f) for f in recv_frames(recorded / "binance_ws.jsonl")]
    real_agg = [f["data"] for f in real if f["data"].get("e") == "aggTrade"]
    sim = [json.loads(f) for f in sim_frames["binance"]]
    assert all(set(f) == {"stream", "data"} == set(r) for f in sim for r in real[:1])
    assert all(f["stream"] == f"{f['data']['s'].lower()}@trade" for f in sim)
    shared = ("E", "s", "p", "q", "T", "m", "M")
    sim_trades = [f["data"] for f in sim]
    assert {t["e"] for t in sim_trades} == {"trade"}
    assert_fits(
        profile([{k: t[k] for k in shared} for t in sim_trades]),
        profile([{k: t[k] for k in shared} for t in real_agg]),
        "binance trade vs aggTrade",
    )
    assert (
        profile([{"id": t["t"]} for t in sim_trades])["id"].kinds
        == profile([{"id": t["a"]} for t in real_agg])["id"].kinds
    )
    records, _ = _decode_all("binance", sim_frames["binance"])
    assert len(records) == len(sim_trades)


def test_kraken_against_the_documented_frame(sim_frames: dict[str, Any]) -> None:
    sim = [json.loads(f) for f in sim_frames["kraken"]]
    trade_frames = [f for f in sim if f.get("channel") == "trade"]
    assert {f["type"] for f in trade_frames} == {"snapshot", "update"}
    assert all(set(f) == set(KRAKEN_DOC_SNAPSHOT) for f in trade_frames)
    items = [t for f in trade_frames for t in f["data"]]
    assert_fits(profile(items), profile(KRAKEN_DOC_SNAPSHOT["data"]), "kraken trade")
    doc_records, _ = _decode_all("kraken", [json.dumps(KRAKEN_DOC_SNAPSHOT)])
    sim_records, labels = _decode_all("kraken", sim_frames["kraken"])
    assert _column_types(sim_records) == _column_types(doc_records)
    assert {"status", "subscribe", "heartbeat"} <= set(labels)


def test_rest_pages_decode_to_the_same_trades_as_the_websockets(sim_frames: dict[str, Any]) -> None:
    for venue, body, symbol, frames in [
        ("binance", sim_frames["binance_rest"], "BTCUSDT", sim_frames["binance"]),
        ("coinbase", sim_frames["coinbase_rest"], "BTC-USD", sim_frames["advanced"]),
        ("kraken", sim_frames["kraken_rest"], "BTC/USD", sim_frames["kraken"]),
    ]:
        decoder = decoder_for(venue)
        page = decoder.decode_rest_trades(body, symbol)
        assert page.kind is FrameKind.TRADES and page.rejects == [] and page.trades
        pa.Table.from_pylist(page.trades, schema=decoder.NATIVE_SCHEMA)
        live, _ = _decode_all(venue, frames)
        by_id = {str(r["trade_id"]): r for r in live}
        common = [r for r in page.trades if str(r["trade_id"]) in by_id]
        assert common, f"{venue}: REST and websocket share no trade"
        for rest in common:
            ws = by_id[str(rest["trade_id"])]
            for column, value in rest.items():
                if column in ("_raw_payload", "event_time", "sequence_num", "feed", "ord_type"):
                    continue
                if isinstance(value, str) and _DECIMAL.match(value):
                    assert Decimal(value) == Decimal(ws[column]), (venue, column)
                elif column == "side":  # Coinbase REST says sell where Advanced says SELL
                    assert value.lower() == ws[column].lower(), (venue, column)
                elif column in ("time", "timestamp"):
                    assert _instant(value) == _instant(ws[column]), (venue, column)
                else:
                    assert value == ws[column], (venue, column)


def _instant(text: str) -> tuple[str, Decimal]:
    """An ISO time as (whole seconds, fraction), comparable whatever the fraction's width."""
    m = _ISO.match(text)
    assert m, text
    return text[:19], Decimal("0." + (m.group(1) or "0"))


def test_catalogues_match_the_recorded_ones(recorded: Path, sim_frames: dict[str, Any]) -> None:
    real_info = json.loads((recorded / "binance_exchangeinfo.json").read_text())
    sim_info = json.loads(sim_frames["exchange_info"])
    assert set(sim_info) == set(real_info)
    real_btc = next(s for s in real_info["symbols"] if s["symbol"] == "BTCUSDT")
    sim_btc = next(s for s in sim_info["symbols"] if s["symbol"] == "BTCUSDT")
    assert set(sim_btc) <= set(real_btc)
    filters = {f["filterType"]: f for f in real_btc["filters"]}
    for f in sim_btc["filters"]:
        assert f == filters[f["filterType"]]

    real_pairs = json.loads((recorded / "kraken_assetpairs.json").read_text())["result"]
    sim_pairs = json.loads(sim_frames["asset_pairs"])["result"]
    for key, pair in sim_pairs.items():
        for name in ("altname", "wsname", "base", "quote", "pair_decimals", "lot_decimals"):
            assert pair[name] == real_pairs[key][name], (key, name)
        shared = set(pair) & set(real_pairs[key])
        assert_fits(
            profile([{k: pair[k] for k in shared}]),
            profile([{k: real_pairs[key][k] for k in shared}]),
            key,
        )

    real_products = json.loads((recorded / "coinbase_advanced_products.json").read_text())[
        "products"
    ]
    real_by_id = {p["product_id"]: p for p in real_products}
    for product in json.loads(sim_frames["cb_products"])["products"]:
        real = real_by_id[product["product_id"]]
        assert set(product) <= set(real)
        for name in ("base_increment", "quote_increment", "price_increment", "product_type"):
            assert product[name] == real[name], (product["product_id"], name)
