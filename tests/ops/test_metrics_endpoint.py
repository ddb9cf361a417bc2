"""``/metrics`` of a real daemon against the simulator, read with prometheus-client's parser:
the standard collectors are there, our counters move, and no secret value shows."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from schemahub.sim import SimConfig, Simulator
from tests.daemon.harness import daemon_config, running

SECRETS = ("tok-5e9f1c7d-credential", "tok-a41b77e2-token", "tok-0c3d95aa-secret-key")
# Labels tell venues, streams, tables, tasks, stages and fixed kinds apart, never anything
# configured.
ALLOWED_LABELS = {
    "venue", "source", "stage", "table", "event", "counter", "task", "stream", "symbol", "le",
    "transport", "reason",
    "generation", "implementation", "major", "minor", "patchlevel", "version",
}  # fmt: skip


async def scrape(base: str) -> tuple[str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        assert response.status == 200
        return response.headers["Content-Type"], await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(values: dict, name: str, **labels: str) -> float:
    return sum(
        v
        for (n, ls), v in values.items()
        if n == name and all(dict(ls).get(k) == w for k, w in labels.items())
    )


async def test_metrics_of_a_running_daemon(tmp_path):
    async with Simulator(SimConfig(seed=5, rate_per_stream=40)) as sim:
        config = daemon_config(
            sim,
            tmp_path / "warehouse",
            lake={
                "warehouse": str(tmp_path / "warehouse"),
                "catalog": {
                    "credential": SECRETS[0],
                    "token": SECRETS[1],
                    "properties": {"s3.secret-access-key": SECRETS[2]},
                },
            },
        )
        async with running(config) as daemon:
            base = f"http://127.0.0.1:{daemon.http_port}"
            await asyncio.sleep(1.5)
            _, first_text = await scrape(base)
            await asyncio.sleep(2.5)
            await daemon.flush()
            content_type, text = await scrape(base)
    assert content_type.startswith("text/plain; version=")
    assert "charset=utf-8" in content_type
    first, last = samples(first_text), samples(text)
    venues = config.venues.enabled()
    assert len(venues) == 3
    for venue in venues:
        assert total(last, "schemahub_frames_total", venue=venue) > total(
            first, "schemahub_frames_total", venue=venue
        ), venue
        assert total(last, "schemahub_trades_total", venue=venue) > total(
            first, "schemahub_trades_total", venue=venue
        ), venue
    assert total(last, "schemahub_commits_total", table="trades_unified") >= 1
    assert total(last, "schemahub_tick_to_commit_seconds_count") > 0
    assert total(last, "process_resident_memory_bytes") > 0
    assert total(last, "process_cpu_seconds_total") > 0
    assert total(last, "process_open_fds") > 0
    assert total(last, "python_gc_collections_total") >= 0
    assert ("python_gc_collections_total", (("generation", "0"),)) in last
    assert total(last, "python_info") == 1
    used = {name for (_n, labels) in last for name, _v in labels}
    assert used <= ALLOWED_LABELS, used - ALLOWED_LABELS
    for secret in SECRETS:
        assert secret not in text and secret not in first_text
