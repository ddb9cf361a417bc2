"""Secrets given through SCHEMAHUB_* variables stay whole, and never show: not in logs, /metrics,
/readyz, error lines or reprs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemahub.config import CatalogConfig, ConfigError, load_config
from schemahub.redact import mask_uri_passwords
from schemahub.sim import SimConfig, Simulator
from tests.deploy.serving import http_get, serve_until_committed, sim_env
from tests.moto_server import free_port
from tests.postgres import postgres_server

PG_PASSWORD = "pgS3cret-7f1c"
TOKEN = "tok-9a8b #frag-77e1"  # YAML would read this as "tok-9a8b" and a comment
CREDENTIAL = "client-4d2a: s3cr3t-9e51"  # YAML would read this as a mapping
# What must not appear anywhere: each secret, and the pieces YAML would split them into.
NEEDLES = (PG_PASSWORD, TOKEN, "frag-77e1", "tok-9a8b", "client-4d2a", "s3cr3t-9e51")


def test_secret_values_are_taken_as_written_and_others_as_yaml() -> None:
    config = load_config(
        None,
        {
            "SCHEMAHUB_LAKE__CATALOG__TOKEN": TOKEN,
            "SCHEMAHUB_LAKE__CATALOG__CREDENTIAL": CREDENTIAL,
            "SCHEMAHUB_FLUSH__INTERVAL_SECONDS": "5  # a comment",
        },
    )
    assert config.lake.catalog.token.get_secret_value() == TOKEN
    assert config.lake.catalog.credential.get_secret_value() == CREDENTIAL
    assert config.flush.interval_seconds == 5.0


def test_a_database_password_is_masked_in_reprs_and_config_errors() -> None:
    uri = f"postgresql+psycopg2://postgres:{PG_PASSWORD}@db.internal:5432/lake"
    config = load_config(None, {"SCHEMAHUB_LAKE__CATALOG__URI": uri})
    assert config.lake.catalog.uri == uri  # the real value is kept for the driver
    for shown in (repr(config), str(config), repr(config.lake), repr(config.lake.catalog)):
        assert PG_PASSWORD not in shown
        assert "postgres:***@db.internal" in shown
    # A section's error used to echo the section's input, secrets included.
    bad = {"SCHEMAHUB_LAKE__CATALOG__TYPE": "rest", "SCHEMAHUB_LAKE__CATALOG__TOKEN": TOKEN}
    with pytest.raises(ConfigError) as error:
        load_config(None, bad)
    assert "lake.catalog.uri is required" in str(error.value)
    assert not [n for n in NEEDLES if n in str(error.value)]
    # Keys handed to pyiceberg as properties are masked in reprs too.
    properties = {"s3.secret-access-key": PG_PASSWORD, "s3.endpoint": "http://127.0.0.1:9000"}
    catalog = CatalogConfig(properties=properties)
    assert PG_PASSWORD not in repr(catalog) and "http://127.0.0.1:9000" in repr(catalog)


def test_uri_passwords_are_masked_in_any_text() -> None:
    text = f"cannot reach postgresql://u:{PG_PASSWORD}@h/db nor mysql://a:b@c; see http://h:80/x"
    assert mask_uri_passwords(text) == (
        "cannot reach postgresql://u:***@h/db nor mysql://a:***@c; see http://h:80/x"
    )


@pytest.mark.slow
async def test_a_daemon_run_with_known_secrets_shows_none_of_them(tmp_path: Path) -> None:
    with postgres_server(PG_PASSWORD) as server:
        uri = f"postgresql+psycopg2://postgres:{PG_PASSWORD}@{server}/lake"
        secrets = {
            "SCHEMAHUB_LAKE__CATALOG__URI": uri,
            "SCHEMAHUB_LAKE__CATALOG__TOKEN": TOKEN,
            "SCHEMAHUB_LAKE__CATALOG__CREDENTIAL": CREDENTIAL,
            "SCHEMAHUB_LAKE__WAREHOUSE": str(tmp_path / "warehouse"),
        }
        # The one-shot commands: a config error, then a refused password.
        as_rest = {"SCHEMAHUB_LAKE__CATALOG__TYPE": "rest", "SCHEMAHUB_LAKE__CATALOG__URI": ""}
        bad_config = _schemahub(["tables", "init"], {**secrets, **as_rest}, tmp_path)
        wrong = {"SCHEMAHUB_LAKE__CATALOG__URI": uri.replace(PG_PASSWORD, PG_PASSWORD + "x")}
        refused = _schemahub(["tables", "init"], {**secrets, **wrong}, tmp_path)
        assert bad_config.returncode == 2 and "lake.catalog.uri is required" in bad_config.stderr
        assert refused.returncode == 2 and "password authentication failed" in refused.stderr
        # The daemon, logging at DEBUG, through start-up, commits and stop.
        port = free_port()
        async with Simulator(SimConfig(seed=7, rate_per_stream=30)) as sim:
            env = {**_clean_environ(), **sim_env(sim, port), **secrets}
            env["SCHEMAHUB_LOG_LEVEL"] = "DEBUG"
            log_file = tmp_path / "serve.log"
            with log_file.open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    *[sys.executable, "-m", "schemahub.cli", "serve"],
                    cwd=tmp_path,
                    env=env,
                    stdout=log,
                    stderr=log,
                )
                served = await serve_until_committed(process, port, log_file)
        assert served.exit_code == 0, served.log[-3000:]
        assert served.unified_rows_flushed() > 0  # the password reached the catalog intact
    shown = {
        "the daemon's log": served.log,
        "/healthz": served.healthz[1],
        "/readyz": served.readyz[1],
        "/metrics": served.metrics[1],
        "a config error": bad_config.stdout + bad_config.stderr,
        "a refused password": refused.stdout + refused.stderr,
    }
    assert served.metrics[0] == 200 and "schemahub_" in served.metrics[1]
    leaks = {where: [n for n in NEEDLES if n in text] for where, text in shown.items()}
    assert not any(leaks.values()), leaks


async def test_readyz_masks_a_password_quoted_by_a_failing_lake(tmp_path: Path) -> None:
    from schemahub.ops.http import Readiness, bound_port, ops_app, start_ops_server
    from schemahub.ops.metrics import Registry

    reason = f"lake: OperationalError: cannot reach postgresql://postgres:{PG_PASSWORD}@db/lake"
    runner = await start_ops_server(
        ops_app(Registry(), lambda: Readiness(False, (reason,))), "127.0.0.1", 0
    )
    try:
        port = bound_port(runner)
        status, body = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/readyz")
    finally:
        await runner.cleanup()
    assert status == 503 and "postgres:***@db/lake" in body and PG_PASSWORD not in body


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SCHEMAHUB_")}


def _schemahub(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "schemahub.cli", *args],
        env={**_clean_environ(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
