from pathlib import Path

import pytest

from schemahub.config import load_config
from schemahub.errors import ConfigError


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.lake.catalog.type == "sql"
    assert config.lake.namespace == "schemahub"
    assert config.flush.interval_seconds == 10
    assert config.venues.kraken.ws_url == "wss://ws.kraken.com/v2"


def test_shipped_file_loads():
    config = load_config(Path(__file__).parents[1] / "config/schemahub.yaml", environ={})
    assert set(config.venues.enabled()) == {"binance", "coinbase", "kraken"}


def test_environment_overrides_nested_keys_and_lists(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("venues:\n  binance:\n    symbols: [BTCUSDT]\n")
    config = load_config(
        file,
        environ={
            "SCHEMAHUB_FLUSH__INTERVAL_SECONDS": "2.5",
            "SCHEMAHUB_VENUES__BINANCE__SYMBOLS": "[SOLUSDT, ETHUSDT]",
            "SCHEMAHUB_VENUES__KRAKEN__ENABLED": "false",
            "SCHEMAHUB_LOG_LEVEL": "DEBUG",
            "UNRELATED": "x",
        },
    )
    assert config.flush.interval_seconds == 2.5
    assert config.venues.binance.symbols == ["SOLUSDT", "ETHUSDT"]
    # A partial venue section keeps the real endpoints for the keys it leaves out.
    assert config.venues.binance.rest_url == "https://api.binance.com"
    assert "kraken" not in config.venues.enabled()
    assert config.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("yaml_text", "environ", "expected"),
    [
        ("flush:\n  intervl_seconds: 3\n", {}, "unknown key 'flush.intervl_seconds'"),
        ("flush:\n  max_rows: many\n", {}, "'flush.max_rows'"),
        ("", {"SCHEMAHUB_HTTP__PORT": "99999"}, "'http.port'"),
        ("lake:\n  catalog:\n    type: hive\n", {}, "'lake.catalog.type'"),
        ("lake:\n  catalog:\n    type: rest\n", {}, "lake.catalog.uri is required"),
        ("venues:\n  kraken:\n    symbols: BTC/USD\n", {}, "'venues.kraken.symbols'"),
        ("- a list\n", {}, "expected a mapping at the top level"),
        ("flush: [\n", {}, "not valid YAML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, yaml_text, environ, expected):
    file = tmp_path / "bad.yaml"
    file.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(file, environ=environ)
    assert expected in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_secrets_do_not_appear_in_errors_or_reprs(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("lake:\n  catalog:\n    type: rest\n    uri: http://x\n    token: hunter2\n")
    config = load_config(file, environ={})
    assert "hunter2" not in repr(config)
    assert config.lake.catalog.token.get_secret_value() == "hunter2"
    file.write_text("lake:\n  catalog:\n    token: [hunter2]\n")
    with pytest.raises(ConfigError) as info:
        load_config(file, environ={})
    assert "hunter2" not in str(info.value)


def test_cli_reports_a_bad_config_in_one_line(tmp_path, capsys):
    from schemahub.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("flush:\n  interval_seconds: soon\n")
    assert main(["--config", str(bad), "tables", "init"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "flush.interval_seconds" in err[0]
