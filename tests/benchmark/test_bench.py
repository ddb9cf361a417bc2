"""``schemahub bench`` on tiny captures: the command runs the daemon's path and reports sane
figures as its last line. No timed assertions: only that the numbers exist and add up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from schemahub.benchmark.capture_gen import write_capture
from schemahub.benchmark.cryptofeed_cmp import cryptofeed_available, run_cryptofeed
from schemahub.benchmark.frames import frame_blocks
from schemahub.cli import main
from schemahub.decode import decoder_for
from schemahub.decode.base import FrameKind
from schemahub.venues.connection import BURST_BYTES, BURST_FRAMES

VENUES = ["binance", "coinbase", "kraken"]
STREAM_FIELD = {"binance": "symbol", "coinbase": "product_id", "kraken": "symbol"}
REQUIRED_KEYS = {
    "trades_per_s",
    "peak_rss_bytes",
    "bytes_per_buffered_trade",
    "commit_p50_ms",
    "commit_p99_ms",
}


@pytest.mark.parametrize("venue", VENUES)
def test_generated_capture_holds_exactly_the_trades_asked_for(tmp_path: Path, venue: str) -> None:
    path = tmp_path / f"{venue}.jsonl"
    summary = write_capture(path, venue, 257, symbols=("BTC", "ETH"), rate=2_000)
    ids: dict[str, list[int]] = defaultdict(list)
    decoder = decoder_for(venue)
    frames = 0
    for block in frame_blocks(path):
        for frame in block:
            decoded = decoder.decode_frame(frame.text, keep_payload=False)
            assert decoded.kind is FrameKind.TRADES and not decoded.rejects, frame.text[:200]
            frames += 1
            for trade in decoded.trades:
                ids[trade[STREAM_FIELD[venue]]].append(int(trade["trade_id"]))
    assert summary.frames == frames
    assert sum(len(v) for v in ids.values()) == summary.trades == 257
    assert len(ids) == 2
    for stream_ids in ids.values():  # every stream without holes or repeats
        assert sorted(stream_ids) == list(range(min(stream_ids), max(stream_ids) + 1))


def test_same_arguments_give_the_same_capture(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_capture(a, "coinbase", 120, seed=7)
    write_capture(b, "coinbase", 120, seed=7)
    assert a.read_bytes() == b.read_bytes()


def _run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[list[str], dict]:
    code = main(["bench", *args])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    return out[:-1], json.loads(out[-1])


@pytest.mark.parametrize("venue", VENUES)
def test_bench_commits_every_trade_and_prints_the_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], venue: str
) -> None:
    capture = tmp_path / "cap.jsonl"
    # more than one burst, by frames (Binance: a trade a frame) or by bytes (the others: well
    # over 100 bytes a trade)
    trades = max(5 * BURST_FRAMES // 2, 3 * BURST_BYTES // 250)
    write_capture(capture, venue, trades, rate=5_000)
    cpus_before = os.sched_getaffinity(0)
    human, figures = _run_cli(
        capsys, "--venue", venue, str(capture), "--flush-rows", "5000", "--no-cryptofeed"
    )
    assert figures.keys() >= REQUIRED_KEYS
    assert figures["trades"] == figures["rows_in_unified"] == trades
    assert figures["cpus"] == 1 and os.sched_getaffinity(0) == cpus_before  # pinned, restored
    # max_rows is checked after each burst of frames: every flush but the last holds at least
    # 5,000 rows, and there is more than one burst
    assert 2 <= figures["flushes"] <= trades // 5_000 + 1
    assert figures["trades_per_s"] > 0
    assert 0 < figures["commit_p50_ms"] <= figures["commit_p99_ms"]
    assert 0 < figures["bytes_per_buffered_trade"] < 10_000
    assert figures["peak_rss_bytes"] > 10 * 2**20  # an interpreter with pyarrow loaded
    assert figures["cryptofeed_skipped"] == "not requested"
    assert any(f"trades_unified holds {trades:,} rows" in line for line in human)


def test_no_commit_maps_but_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "cap.jsonl"
    write_capture(capture, "binance", 2 * BURST_FRAMES + 300)  # one trade a frame
    _, figures = _run_cli(
        capsys, "--venue", "binance", str(capture), "--flush-rows", "100", "--no-commit",
        "--no-cryptofeed",
    )  # fmt: skip
    # a flush after each burst (at least two full ones), and the final one for the rest
    assert figures["trades"] == 2 * BURST_FRAMES + 300 and figures["flushes"] >= 3
    assert figures["commit"] is False
    assert figures["commit_p50_ms"] is None and figures["rows_in_unified"] is None


def test_make_capture_option_writes_then_benches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "made.jsonl"
    human, figures = _run_cli(
        capsys, "--venue", "kraken", str(capture), "--make-capture", "200", "--no-cryptofeed"
    )
    assert capture.exists() and human[0].startswith(f"wrote {capture}")
    assert figures["trades"] == 200


def test_cryptofeed_missing_is_reported_as_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cryptofeed", None)  # makes `import cryptofeed` fail
    capture = tmp_path / "cap.jsonl"
    write_capture(capture, "binance", 50)
    human, figures = _run_cli(capsys, "--venue", "binance", str(capture))
    assert "cryptofeed" in figures["cryptofeed_skipped"]
    assert "cryptofeed_trades_per_s" not in figures
    assert any(line.startswith("cryptofeed comparison skipped") for line in human)


@pytest.mark.parametrize("venue", VENUES)
def test_cryptofeed_sees_every_trade_of_the_capture(tmp_path: Path, venue: str) -> None:
    assert cryptofeed_available() is None  # a test dependency: the comparison must really run
    capture = tmp_path / "cap.jsonl"
    summary = write_capture(capture, venue, 333, rate=1_000)
    run = run_cryptofeed(venue, capture)
    assert run.skipped is None
    assert run.frames == summary.frames
    assert run.trades == 333  # the rewritten frames carry the same trades, none lost


_NOTHING_IMPORTED_LATE = """
import asyncio, json, sys
from pathlib import Path
from schemahub.benchmark.replay import PipelineRun, _replay, fresh_daemon

with fresh_daemon(sys.argv[1], 200) as bench:
    run = PipelineRun(sys.argv[1], True, bench.daemon.KEEP_PAYLOAD, 200)
    before = set(sys.modules)
    asyncio.run(_replay(bench, run, Path(sys.argv[2])))
    assert run.trades_admitted == 600, run.trades_admitted
    print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("venue", VENUES)
def test_a_built_daemon_imports_nothing_while_it_ingests_and_commits(
    tmp_path: Path, venue: str
) -> None:
    # A module imported on first use stalls the first burst or commit (tens of ms holding the
    # GIL) and would count in the benchmark: everything is imported while the daemon starts.
    capture = tmp_path / f"{venue}.jsonl"
    write_capture(capture, venue, 600, symbols=("BTC", "ETH"), rate=2_000)
    done = subprocess.run(
        [sys.executable, "-c", _NOTHING_IMPORTED_LATE, venue, str(capture)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    late = json.loads(done.stdout.strip().splitlines()[-1])
    # the replay builds its own connection (the daemon imports venue modules as it opens them)
    assert [name for name in late if not name.startswith("schemahub.venues.")] == []
