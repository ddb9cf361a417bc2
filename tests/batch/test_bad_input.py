"""Bad input and failing storage: one line naming what was wrong, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from aiohttp import web

from schemahub.cli import main
from schemahub.errors import CheckpointError, StorageError, UsageError
from schemahub.jobs.checkpoints import Checkpoint, LocalCheckpoints, atomic_write
from schemahub.jobs.rawjsonl import key_name, validate_product
from schemahub.s3 import endpoint_url
from schemahub.venues.binance import BinanceHistory
from tests.local_http import local_app
from tests.moto_server import free_port, moto_server


@pytest.mark.parametrize(
    "argv",
    [
        ["backfill", "--workers", "0"],
        ["backfill", "--chunk-size", "-5"],
        ["ingest", "--limit", "0"],
        ["ingest", "--before", "10", "--after", "10"],
        ["ingest", "--before", "11", "--after", "10"],
        ["ingest", "--after", "-1"],
        ["backfill", "--checkpoint-s3"],
    ],
)
def test_impossible_values_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("venue", "product"),
    [
        ("coinbase", "../../etc/passwd"),
        ("coinbase", "BTC/USD"),
        ("coinbase", "BTC-USD\n"),
        ("coinbase", "btc-usd"),
        ("binance", "BTC-USDT"),
        ("kraken", "BTC/../USD"),
        ("kraken", ""),
    ],
)
def test_a_product_id_off_the_venue_pattern_never_reaches_a_key(venue, product):
    with pytest.raises(UsageError, match=r"is not a .* product id"):
        key_name(venue, product)


def test_kraken_pairs_become_one_path_segment():
    assert key_name("kraken", "BTC/USD") == "BTC-USD"
    assert validate_product("binance", "BTCUSDT") == "BTCUSDT"


def test_a_bad_product_stops_the_command_before_any_io(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seed = tmp_path / "seed.yaml"
    seed.write_text("product_ids: [BTC-USD, '../x']\n")
    assert main(["backfill", "--seed-path", str(seed), "--s3-bucket", "nowhere"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'../x' is not a coinbase product id" in err
    assert main(["ingest", "..", "--s3-bucket", "nowhere"]) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["seed.yaml"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"last_trade_id": 12', "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"last_trade_id": -3, "trades_processed": 1}', "last_trade_id"),
        (b'{"last_trade_id": 3}', "trades_processed"),
        (b"", "not valid JSON"),
    ],
)
def test_a_corrupt_checkpoint_is_reported_with_its_path(tmp_path, body, why):
    store = LocalCheckpoints(tmp_path / "state")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "BTC-USD.json").write_bytes(body)
    with pytest.raises(CheckpointError) as failure:
        store.read("BTC-USD")
    assert str(tmp_path / "state" / "BTC-USD.json") in str(failure.value)
    assert why in str(failure.value)


def test_checkpoints_round_trip_and_writes_leave_no_temporary_files(tmp_path):
    store = LocalCheckpoints(tmp_path / "state")
    assert store.read("ETH-USD") is None
    store.write("ETH-USD", Checkpoint(41, 7, "2026-01-01T00:00:00Z"))
    store.write("ETH-USD", Checkpoint(40, 8, "2026-01-01T00:00:01Z"))
    assert store.read("ETH-USD") == Checkpoint(40, 8, "2026-01-01T00:00:01Z")
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["ETH-USD.json"]
    watermark = LocalCheckpoints(tmp_path / "marks", with_count=False)
    watermark.write("ETH-USD", Checkpoint(99, None, "x"))
    raw = orjson.loads((tmp_path / "marks" / "ETH-USD.json").read_bytes())
    assert raw == {"last_trade_id": 99, "last_updated": "x"}


def test_a_failed_atomic_write_leaves_what_was_there_and_no_temporary_file(tmp_path):
    atomic_write(tmp_path / "state" / "ETH-USD.json", b"old")
    blocked = tmp_path / "state" / "BTC-USD.json"
    (blocked / "inside").mkdir(parents=True)  # a folder where the file should go: rename fails
    with pytest.raises(StorageError, match="cannot write"):
        atomic_write(blocked, b"new")
    assert (blocked / "inside").is_dir()
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [
        "BTC-USD.json",
        "ETH-USD.json",
    ]
    assert (tmp_path / "state" / "ETH-USD.json").read_bytes() == b"old"


def test_the_endpoint_comes_from_config_then_the_aws_variables():
    env = {"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_S3": "http://s3"}
    assert endpoint_url("http://config", env) == "http://config"
    assert endpoint_url(None, env) == "http://s3"
    assert endpoint_url(None, {"AWS_ENDPOINT_URL": "http://a"}) == "http://a"
    assert endpoint_url(None, {}) is None


@pytest.mark.slow
def test_missing_bucket_and_unreachable_endpoint_are_one_line(
    moto_endpoint, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    assert main(["ingest", "BTC-USD", "--s3-bucket", "no-such-bucket"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["schemahub: error: S3 bucket 'no-such-bucket' does not exist"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["ingest", "BTC-USD", "--s3-bucket", "no-such-bucket"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the S3 endpoint" in err[0]
    assert main(["import-jsonl", "s3://no-such-bucket/p"]) == 2
    assert "cannot reach the S3 endpoint" in capsys.readouterr().err


async def test_the_binance_key_is_sent_as_a_header_and_never_in_errors(monkeypatch):
    seen: list[str | None] = []

    async def trades(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-MBX-APIKEY"))
        return web.json_response({"code": -1100, "msg": "bad"}, status=400)

    monkeypatch.setenv("BINANCE_API_KEY", "secret-key-123")
    routes = {"/api/v3/historicalTrades": trades}
    async with local_app(routes) as base, BinanceHistory(base) as history:
        with pytest.raises(Exception) as failure:
            await history.older_trades("BTCUSDT", 100, 10)
    assert seen == ["secret-key-123"]
    assert "secret-key-123" not in str(failure.value)


def test_no_key_means_no_header(monkeypatch):
    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    assert BinanceHistory.rest().key_headers() == {}
    assert BinanceHistory.rest().key_headers({"BINANCE_API_KEY": " k "}) == {"X-MBX-APIKEY": "k"}


def test_seed_with_no_file_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["backfill", "--s3-bucket", "b"]) == 2
    err = capsys.readouterr().err
    assert "product_ids_seed.yaml does not exist" in err and "update-seed --fetch --write" in err
    assert not Path("state").exists()


@pytest.mark.slow
def test_wrong_credentials_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTAREALKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto_server(check_credentials=True) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
        assert main(["ingest", "BTC-USD", "--s3-bucket", "some-bucket"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "S3 refused to reach bucket 'some-bucket'" in err[0]
    assert "check the AWS credentials" in err[0] and "not-the-secret" not in err[0]
