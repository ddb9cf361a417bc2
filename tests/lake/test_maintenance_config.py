"""The retention settings: defaults, environment overrides and range errors."""

from __future__ import annotations

import pytest

from schemahub.config import load_config
from schemahub.errors import ConfigError


def test_defaults_are_six_hours_and_ten_minutes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/schemahub.yaml here
    config = load_config(None, environ={})
    assert config.lake.snapshot_retention_seconds == 6 * 3600
    assert config.lake.maintenance_interval_seconds == 600


def test_environment_overrides_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(
        None,
        environ={
            "SCHEMAHUB_LAKE__SNAPSHOT_RETENTION_SECONDS": "3600",
            "SCHEMAHUB_LAKE__MAINTENANCE_INTERVAL_SECONDS": "30",
        },
    )
    assert config.lake.snapshot_retention_seconds == 3600
    assert config.lake.maintenance_interval_seconds == 30


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("SNAPSHOT_RETENTION_SECONDS", "0", "greater than 0"),
        ("SNAPSHOT_RETENTION_SECONDS", "-5", "greater than 0"),
        ("SNAPSHOT_RETENTION_SECONDS", str(400 * 86_400), "less than or equal"),
        ("MAINTENANCE_INTERVAL_SECONDS", "0", "greater than 0"),
        ("MAINTENANCE_INTERVAL_SECONDS", "172800", "less than or equal"),
        ("MAINTENANCE_INTERVAL_SECONDS", "often", "valid number"),
    ],
)
def test_out_of_range_values_name_the_key_and_the_bound(
    key, value, expected, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ={f"SCHEMAHUB_LAKE__{key}": value})
    message = str(caught.value)
    assert f"lake.{key.lower()}" in message
    assert expected in message
    assert value in message
