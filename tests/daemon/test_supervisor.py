"""The supervisor, with task functions defined here: a task that raises is logged once with its
traceback, counted, shown in /readyz and /metrics while down, and restarted; others go on."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from schemahub.daemon.metrics import DaemonMetrics
from schemahub.daemon.supervisor import READERS, WORKERS, Supervisor
from schemahub.errors import UsageError
from schemahub.ops.http import Readiness, bound_port, ops_app, start_ops_server
from schemahub.venues.backoff import RetryPolicy, full_jitter

POLICY = RetryPolicy(base_seconds=0.5, cap_seconds=30.0)


class GatedSleep:
    """The supervisor's restart delay, passing only when the test opens the gate."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.waiting = asyncio.Event()
        self.gate = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.waiting.set()
        await self.gate.wait()
        self.gate.clear()
        self.waiting.clear()


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


async def test_a_raising_task_is_reported_while_down_and_restarted_while_others_run(caplog):
    metrics = DaemonMetrics.create()
    sleep = GatedSleep()
    supervisor = Supervisor(
        metrics.task_restarts, metrics.task_up, policy=POLICY, rand=lambda: 0.5, sleep=sleep
    )
    runs = 0
    steady_ticks = 0
    second_run = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("boom in the first run")
        second_run.set()
        await asyncio.Event().wait()

    async def steady() -> None:
        nonlocal steady_ticks
        while True:
            steady_ticks += 1
            await asyncio.sleep(0.01)

    supervisor.add("flaky", flaky)
    supervisor.add("steady", steady)

    def readiness() -> Readiness:
        reasons = tuple(supervisor.down_reasons())
        return Readiness(not reasons, reasons)

    runner = await start_ops_server(ops_app(metrics.registry, readiness), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        with caplog.at_level(logging.ERROR, logger="schemahub.daemon.supervisor"):
            supervisor.start()
            await asyncio.wait_for(sleep.waiting.wait(), 10)  # a hang guard, not a timing
            async with aiohttp.ClientSession() as http:
                status, body = await _get(http, f"{base}/readyz")
                _, text = await _get(http, f"{base}/metrics")
                ticks_while_down = steady_ticks
                await asyncio.sleep(0.1)
                assert steady_ticks > ticks_while_down, "the other task stopped with the failure"
                sleep.gate.set()
                await asyncio.wait_for(second_run.wait(), 10)
                status_after, body_after = await _get(http, f"{base}/readyz")
                _, text_after = await _get(http, f"{base}/metrics")
    finally:
        await supervisor.stop()
        await runner.cleanup()

    assert status == 503 and "task flaky" in body and "boom in the first run" in body
    assert 'schemahub_task_restarts_total{task="flaky"} 1' in text
    assert 'schemahub_task_up{task="flaky"} 0' in text
    assert 'schemahub_task_up{task="steady"} 1' in text
    assert status_after == 200, body_after
    assert 'schemahub_task_up{task="flaky"} 1' in text_after
    # the delay is the project's one backoff decision (full jitter, first attempt)
    assert sleep.delays == [full_jitter(0, POLICY, lambda: 0.5)]
    failures = [r for r in caplog.records if r.getMessage() == "task failed; restarting it"]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert supervisor.tasks["flaky"].restarts == 1 and runs == 2


async def test_a_task_that_keeps_failing_backs_off_and_logs_its_traceback_once(caplog):
    metrics = DaemonMetrics.create()
    sleep = GatedSleep()
    supervisor = Supervisor(
        metrics.task_restarts, metrics.task_up, policy=POLICY, rand=lambda: 1.0, sleep=sleep
    )

    async def broken() -> None:
        raise ValueError("always")

    supervisor.add("broken", broken)
    with caplog.at_level(logging.ERROR, logger="schemahub.daemon.supervisor"):
        supervisor.start()
        for _ in range(4):
            await asyncio.wait_for(sleep.waiting.wait(), 10)
            sleep.gate.set()
            await asyncio.sleep(0)
        await asyncio.wait_for(sleep.waiting.wait(), 10)
        await supervisor.stop()
    assert sleep.delays == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert metrics.task_restarts.get(task="broken") == 5
    failures = [r for r in caplog.records if r.getMessage() == "task failed; restarting it"]
    assert len(failures) == 5
    assert [r.exc_info is not None for r in failures] == [True, False, False, False, False]


async def test_stop_cancels_readers_before_workers_and_a_late_task_starts_at_once():
    metrics = DaemonMetrics.create()
    supervisor = Supervisor(metrics.task_restarts, metrics.task_up)
    stopped: list[str] = []
    started = {name: asyncio.Event() for name in ("reader", "worker", "late")}

    def until_cancelled(name: str):
        async def run() -> None:
            started[name].set()
            try:
                await asyncio.Event().wait()
            finally:
                stopped.append(name)

        return run

    supervisor.add("worker", until_cancelled("worker"), stage=WORKERS)
    supervisor.add("reader", until_cancelled("reader"), stage=READERS)
    supervisor.start()
    supervisor.add("late", until_cancelled("late"))
    for event in started.values():
        await asyncio.wait_for(event.wait(), 10)
    with pytest.raises(UsageError, match="already exists"):
        supervisor.add("late", until_cancelled("late"))
    await supervisor.stop(READERS, WORKERS)
    assert stopped[0] == "reader" and sorted(stopped[1:]) == ["late", "worker"]
