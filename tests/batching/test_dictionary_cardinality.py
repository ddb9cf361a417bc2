"""Dictionary-encoded columns take any number of distinct values (issue 14).

300 symbols a venue crashed the daemon: the native decoder writes int8 dictionary indices per
burst, and the raw buffer concatenated bursts whose dictionaries together outgrew int8. Here
the distinct values sit at the index types' edges (127/128, 255/256, 32,767/32,768), in
bursts with different dictionaries, through both decoders, the ingest, the raw buffer, the
mapping into trades_unified and an append to a real (embedded) lake.
"""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from schemahub.batching import BufferSet, RawBuffer, columns
from schemahub.config import LakeConfig
from schemahub.daemon.ingest import Ingest
from schemahub.daemon.metrics import DaemonMetrics
from schemahub.decode import coinbase, kraken
from schemahub.decode.batch import NATIVE_AVAILABLE, decode_batch
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.lake.append import append_table
from schemahub.mapping import CompiledMapping, load_mappings
from schemahub.schemas import UNIFIED_SCHEMA, concat_alike
from schemahub.sequencing import Sequencer
from schemahub.venues.events import ReceivedBatch
from tests.decode.frames import coinbase_advanced, coinbase_trade, kraken_trade, kraken_v2
from tests.mapping.conftest import MAPPINGS_DIR, SOURCE_SCHEMAS

BOUNDARIES = [127, 128, 255, 256, 32_767, 32_768]
# The int16 edge takes 65,536 frames through the whole path: a few seconds each.
EDGES = [
    pytest.param(n, marks=pytest.mark.slow) if n > 30_000 else pytest.param(n) for n in BOUNDARIES
]
# Burst sizes in frames, taken in turn. "small" bursts hold at most 64 symbols, the native
# decoder's per-call table, so every burst comes with an int8 dictionary of other values (the
# crash of issue 14); "mixed" adds bursts past the table, whose column comes plain and is
# encoded by the ingest with int32 indices.
BURSTS = {
    "kraken": {"small": [50, 3, 64, 17, 1], "mixed": [50, 100, 3, 64, 65, 200, 1]},
    "coinbase": {"small": [20, 1, 21, 7], "mixed": [20, 40, 1, 21, 22, 7]},  # 3 trades a frame
}
_NATIVE = pytest.mark.skipif(not NATIVE_AVAILABLE, reason="native decoder not built")
DECODERS = [
    pytest.param(True, "small", id="native-small", marks=_NATIVE),
    pytest.param(True, "mixed", id="native-mixed", marks=_NATIVE),
    pytest.param(False, "mixed", id="msgspec"),
]
DAY = "2026-08-09T21:05:42"  # one day: the lake takes its single-partition writer


def int8_parts(distinct: int, per_part: int = 64) -> list[pa.DictionaryArray]:
    """``distinct`` values in int8 dictionaries of up to ``per_part`` values each; every part
    also repeats the first value, so the dictionaries overlap as real bursts' do."""
    parts = []
    for start in range(0, distinct, per_part):
        values = ["v0", *(f"v{i}" for i in range(start, min(start + per_part, distinct)))]
        encoded = pa.array(values).dictionary_encode()
        parts.append(
            pa.DictionaryArray.from_arrays(encoded.indices.cast(pa.int8()), encoded.dictionary)
        )
    return parts


@pytest.mark.parametrize("distinct", BOUNDARIES)
def test_concatenated_int8_dictionaries_widen_to_hold_their_union(distinct):
    parts = int8_parts(distinct)
    joined = columns.concat(parts)
    assert len(joined.dictionary) == distinct
    assert joined.to_pylist() == list(itertools.chain.from_iterable(p.to_pylist() for p in parts))
    narrowed = columns.compact(joined)
    want = pa.int8() if distinct <= 127 else pa.int16() if distinct <= 32_767 else pa.int32()
    assert narrowed.indices.type == want
    assert narrowed.to_pylist() == joined.to_pylist()


def test_parts_already_wide_enough_are_not_recounted():
    parts = [p.cast(pa.dictionary(pa.int16(), pa.string())) for p in int8_parts(300)]
    assert columns.common_index_type(parts) == pa.int16()
    assert columns.concat(parts).indices.type == pa.int16()


def kraken_frames(symbols: int, rounds: int = 2) -> tuple[list[str], list[tuple]]:
    """One trade a frame, every symbol ``rounds`` times; and the (symbol, id) of each row."""
    frames, rows = [], []
    for r, i in itertools.product(range(rounds), range(symbols)):
        symbol, trade_id = f"A{i}/USD", 1_000 + r
        side = ("buy", "sell")[(i + r) % 2]
        trade = kraken_trade(
            symbol=symbol, trade_id=trade_id, side=side, timestamp=f"{DAY}.{i % 999_999:06d}Z"
        )
        frames.append(kraken_v2([trade]))
        rows.append((symbol, trade_id))
    return frames, rows


def coinbase_frames(symbols: int) -> tuple[list[str], list[tuple]]:
    """Three trades a frame (newest first, as the venue sends them), products in turn."""
    frames, rows = [], []
    for start in range(0, symbols, 3):
        products = [f"B{i}-USD" for i in range(start, min(start + 3, symbols))]
        trades = [coinbase_trade(product_id=p, trade_id="77") for p in products]
        frames.append(coinbase_advanced(trades[::-1], sequence_num=len(frames)))
        rows.extend((p, "77") for p in products[::-1])
    return frames, rows


MODULES = {"kraken": kraken, "coinbase": coinbase}
FRAMES = {"kraken": kraken_frames, "coinbase": coinbase_frames}
STREAM = {"kraken": "symbol", "coinbase": "product_id"}


async def ingest_bursts(venue: str, frames: list[str], native: bool, pattern: str) -> pa.Table:
    """``frames`` decoded in bursts and admitted by the daemon's ingest; the drained buffer."""
    module = MODULES[venue]
    buffers = BufferSet({module.RAW_TABLE: RawBuffer(module.NATIVE_SCHEMA)}, 10**7)
    ingest = Ingest(Sequencer(), buffers, DaemonMetrics.create(), flush_rows=10**7)
    start = 0
    for size in itertools.cycle(BURSTS[venue][pattern]):
        burst = frames[start : start + size]
        if not burst:
            break
        decoded = decode_batch(venue, burst, native=native)
        assert not decoded.slow, "every frame is a usual trade frame"
        times = [1_786_000_000.0 + start + i for i in range(len(burst))]
        await ingest.on_batch(ReceivedBatch(venue, "c0", times, list(map(len, burst)), decoded))
        start += size
    assert not ingest.take_quarantine()
    return buffers.drain().tables[module.RAW_TABLE]


@pytest.fixture(scope="module")
def mappings() -> dict[str, CompiledMapping]:
    return load_mappings(MAPPINGS_DIR, SOURCE_SCHEMAS, UNIFIED_SCHEMA)


@pytest.mark.parametrize(("native", "pattern"), DECODERS)
@pytest.mark.parametrize("distinct", EDGES)
@pytest.mark.parametrize("venue", ["kraken", "coinbase"])
async def test_any_number_of_symbols_lands_in_trades_unified(
    venue, distinct, native, pattern, mappings, tmp_path
):
    frames, rows = FRAMES[venue](distinct)
    raw = await ingest_bursts(venue, frames, native, pattern)
    stream = STREAM[venue]
    assert list(zip(raw[stream].to_pylist(), raw["trade_id"].to_pylist(), strict=True)) == rows
    assert pa.types.is_dictionary(raw.schema.field(stream).type)
    assert len(raw[stream].chunk(0).dictionary) == distinct

    mapped = mappings[MODULES[venue].RAW_TABLE].apply(raw, keep_encoded=True)
    assert mapped.rejected.num_rows == 0
    # a second venue's flush, its few symbols in an int8 dictionary, joins the same commit
    second = "coinbase" if venue == "kraken" else "kraken"
    others, other_rows = FRAMES[second](5)
    other_raw = await ingest_bursts(second, others, native, pattern)
    other = mappings[MODULES[second].RAW_TABLE].apply(other_raw, keep_encoded=True)
    flush = concat_alike([mapped.table, other.table])
    assert flush.num_rows == len(rows) + len(other_rows)

    lake = Lake(LakeConfig(warehouse=str(tmp_path / "warehouse")))
    lake.init()
    append_table(lake.table(UNIFIED_TABLE), flush, {})
    landed = lake.table(UNIFIED_TABLE).scan(selected_fields=("exchange", "symbol")).to_arrow()
    symbols = landed.filter(pa.compute.equal(landed["exchange"], venue))["symbol"].to_pylist()
    assert sorted(symbols) == sorted(symbol for symbol, _ in rows)
