"""`schemahub serve` as a child process configured only through ``SCHEMAHUB_*`` variables,
against the simulator: start it, wait until it is healthy and has committed, stop it."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from schemahub.sim import Simulator, sim_venue_overrides


def sim_env(sim: Simulator, http_port: int) -> dict[str, str]:
    """The ``SCHEMAHUB_*`` variables pointing every venue at ``sim``, committing every second."""
    env = {
        "SCHEMAHUB_HTTP__PORT": str(http_port),
        "SCHEMAHUB_FLUSH__INTERVAL_SECONDS": "1",
        "SCHEMAHUB_GAPS__PROBE_QUIET_SECONDS": "1",
    }
    for venue, settings in sim_venue_overrides(sim).items():
        prefix = f"SCHEMAHUB_VENUES__{venue.upper()}__"
        env[prefix + "WS_URL"] = settings["ws_url"]
        env[prefix + "REST_URL"] = settings["rest_url"]
        env[prefix + "SYMBOLS"] = json.dumps(settings["symbols"])
    return env


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET (an HTTP error status is returned, not raised)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@dataclass
class Served:
    """What a run showed on its way: the ops endpoints' answers and its log lines."""

    healthz: tuple[int, str]
    readyz: tuple[int, str]
    metrics: tuple[int, str]
    exit_code: int
    log: str

    def json_lines(self) -> list[dict]:
        """The JSON log lines."""
        return json_lines(self.log)

    def unified_rows_flushed(self) -> int:
        """Rows committed to trades_unified by the run's flushes."""
        return unified_rows_flushed(self.log)


async def serve_until_committed(
    process: asyncio.subprocess.Process, port: int, log_file: Path, on_ready=None
) -> Served:
    """Wait (bounded: hang guards, not timings) until ``process`` answers 200 on /healthz and
    /readyz and has committed trades to trades_unified; call ``on_ready`` (a coroutine function)
    then; SIGTERM it and wait for its exit."""
    base = f"http://127.0.0.1:{port}"
    try:
        healthz = await _poll(process, log_file, f"{base}/healthz")
        readyz = await _poll(process, log_file, f"{base}/readyz")
        for _ in range(600):
            if unified_rows_flushed(log_file.read_text()) > 0:
                break
            await asyncio.sleep(0.1)
        metrics = await asyncio.to_thread(http_get, f"{base}/metrics")
        if on_ready is not None:
            await on_ready()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 90)
    return Served(healthz, readyz, metrics, code, log_file.read_text())


async def _poll(process: asyncio.subprocess.Process, log_file: Path, url: str) -> tuple[int, str]:
    answer: tuple[int, str] = (0, "no answer")
    for _ in range(600):
        assert process.returncode is None, f"serve exited early:\n{log_file.read_text()[-3000:]}"
        try:
            answer = await asyncio.to_thread(http_get, url)
        except OSError as exc:
            answer = (0, str(exc))
        if answer[0] == 200:
            return answer
        await asyncio.sleep(0.1)
    log = log_file.read_text()[-3000:]
    raise AssertionError(f"{url} never answered 200 (last {answer}):\n{log}")


def json_lines(log: str) -> list[dict]:
    """The JSON lines of a log."""
    return [json.loads(x) for x in log.splitlines() if x.startswith("{")]


def unified_rows_flushed(log: str) -> int:
    """Rows committed to trades_unified by the flushes a log reports."""
    flushes = [x for x in json_lines(log) if x.get("msg") == "flush"]
    return sum(x["rows"].get("trades_unified", 0) for x in flushes)
