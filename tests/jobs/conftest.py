"""Fixtures of the job tests."""

from __future__ import annotations

import pytest

from schemahub.lake import Lake


@pytest.fixture
def cli_lake(lake: Lake, monkeypatch, tmp_path) -> Lake:
    """The lake fixture, named by the environment for commands run through ``main`` (from an
    empty working folder, so no config file of the repository is picked up)."""
    monkeypatch.setenv("SCHEMAHUB_LAKE__WAREHOUSE", lake.config.warehouse)
    monkeypatch.chdir(tmp_path)
    return lake
