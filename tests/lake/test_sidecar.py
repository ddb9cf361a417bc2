"""Large snapshot properties (the offsets of thousands of streams) live in a file beside the
table metadata; the summary holds a reference, committed atomically with the rows."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from schemahub.benchmark.replay import fresh_daemon
from schemahub.daemon.committer import PendingFlush
from schemahub.decode.base import DecodedFrame, FrameKind
from schemahub.errors import LakeError
from schemahub.lake import UNIFIED_TABLE
from schemahub.lake.maintenance import expire_snapshots
from schemahub.lake.offsets import load_offsets
from schemahub.lake.sidecar import INLINE_MAX, REFERENCE, load_value, store_value
from schemahub.lake.writer import latest_property
from schemahub.sequencing import OFFSETS_PROPERTY, StreamKey, StreamState
from tests.batching.records import binance_record


def local(path: str) -> Path:
    return Path(urlparse(path).path)


def test_a_short_value_stays_inline_and_a_long_one_goes_to_a_file(lake):
    table = lake.table(UNIFIED_TABLE)
    assert store_value(table, "z:abc") == "z:abc"
    long = "x" * (INLINE_MAX + 1)
    stored = store_value(table, long)
    assert stored.startswith(REFERENCE)
    path = stored[len(REFERENCE) :]
    assert path.startswith(table.metadata.location) and local(path).read_text() == long
    assert load_value(table, stored) == long
    assert load_value(table, "z:abc") == "z:abc"


def test_a_missing_property_file_is_an_error_naming_it(lake):
    table = lake.table(UNIFIED_TABLE)
    stored = store_value(table, "y" * (INLINE_MAX + 1))
    local(stored[len(REFERENCE) :]).unlink()
    with pytest.raises(LakeError, match="cannot be read") as info:
        load_value(table, stored)
    assert stored[len(REFERENCE) :] in str(info.value)


def many_streams(n: int, step: int) -> dict[StreamKey, StreamState]:
    """Offsets of ``n`` streams, with a gap and lost ids here and there."""
    states = {}
    for i in range(n):
        hw = 5_000_000_000 + i * 7919 + step * 1000
        gaps = ((hw - 50, hw - 40),) if i % 5 == 0 else ()
        lost = ((hw - 500, hw - 499),) if i % 11 == 0 else ()
        states[StreamKey("binance", f"S{i:05d}USDT")] = StreamState(hw, gaps, lost)
    return states


def flush_with(daemon, step: int, offsets: dict[StreamKey, StreamState]) -> None:
    """One daemon flush of a few trades carrying ``offsets`` (the committer's own path)."""
    records = [binance_record(step * 10 + i) for i in range(3)]
    daemon.ingest.accept("binance", DecodedFrame(FrameKind.TRADES, records), "ws:t/0", 1.7e9)
    daemon.committer.commit(PendingFlush(daemon.buffers.drain(), offsets, []))


def test_offsets_of_thousands_of_streams_are_referenced_loaded_and_expired(tmp_path):
    with fresh_daemon("binance", 1_000, tmp_path / "warehouse") as bench:
        daemon, lake = bench.daemon, bench.daemon.lake
        first, second = many_streams(3_000, 1), many_streams(3_000, 2)
        flush_with(daemon, 1, first)
        table = lake.table(UNIFIED_TABLE)
        stored_first = latest_property(table, OFFSETS_PROPERTY)
        assert stored_first.startswith(REFERENCE)  # the summary holds a path, not 3,000 streams
        assert load_offsets(lake)[0] == first

        flush_with(daemon, 2, second)
        table = lake.table(UNIFIED_TABLE)
        stored_second = latest_property(table, OFFSETS_PROPERTY)
        assert stored_second != stored_first
        assert load_offsets(lake)[0] == second

        # Every snapshot but the current one expires: the first file goes, the second stays.
        result = expire_snapshots(table, 1.0, keep_property=OFFSETS_PROPERTY, now=time.time() + 5)
        assert result.expired >= 1
        assert not local(stored_first[len(REFERENCE) :]).exists()
        assert local(stored_second[len(REFERENCE) :]).exists()
        assert load_offsets(lake)[0] == second
