"""One supervisor for every long-running task of the daemon: nothing dies silently.

A task is a name and a coroutine function. When the coroutine raises (or returns), the
supervisor logs the failure once with its traceback, counts it in
``schemahub_task_restarts_total{task=...}``, reports the task as down (``/readyz`` lists
:meth:`Supervisor.down_reasons`) and starts it again after the delay that
:func:`~schemahub.venues.backoff.restart_decision` chooses, the project's one backoff. Tasks
are independent: one venue's failing worker never stops another's.

Tasks belong to a *stage* (``readers`` first, then ``workers``); :meth:`Supervisor.stop`
cancels the stages in the order given, so the daemon stops reading before it stops the REST
workers and commits. Features register their own tasks with :meth:`Supervisor.add` (for
example ``daemon.supervisor.add("discrepancy-feed", feed.run)``), before or after start.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from schemahub.errors import UsageError
from schemahub.ops.metrics import Counter, Gauge
from schemahub.venues.backoff import RetryPolicy, restart_decision

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[None]]
READERS = "readers"
WORKERS = "workers"
# Restart delays; a task that ran ``cap_seconds`` since its last start is healthy again (its
# backoff starts over).
DEFAULT_POLICY = RetryPolicy(base_seconds=0.5, cap_seconds=30.0)


class TaskEnded(Exception):
    """A supervised task returned although it should run until cancelled."""


@dataclass
class TaskState:
    """What the supervisor knows about one task (read by /readyz and tests)."""

    name: str
    factory: TaskFactory
    stage: str
    restarts: int = 0
    down_since: float | None = None  # monotonic time of the last failure, None while running
    last_error: str | None = None
    attempt: int = 0  # consecutive failures (resets after a healthy run)
    runner: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    """Starts, watches and restarts named tasks; see the module docstring."""

    def __init__(
        self,
        restarts: Counter,
        up: Gauge | None = None,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._restarts = restarts
        self._sleep = sleep
        self._up = up
        self._policy = policy
        self._rand = rand
        self._tasks: dict[str, TaskState] = {}
        self._started = False
        self._stopping = False

    @property
    def tasks(self) -> dict[str, TaskState]:
        """Every registered task by name."""
        return dict(self._tasks)

    def add(self, name: str, factory: TaskFactory, *, stage: str = WORKERS) -> TaskState:
        """Register a task (started now if the supervisor runs, else by :meth:`start`)."""
        if name in self._tasks:
            raise UsageError(f"a supervised task named {name!r} already exists")
        state = self._tasks[name] = TaskState(name, factory, stage)
        if self._started and not self._stopping:
            self._launch(state)
        return state

    def start(self) -> None:
        """Start every registered task (call inside the event loop)."""
        self._started = True
        for state in self._tasks.values():
            if state.runner is None:
                self._launch(state)

    def down_reasons(self) -> list[str]:
        """One line per task waiting to be restarted, for /readyz."""
        now = time.monotonic()
        return [
            f"task {s.name}: down {now - s.down_since:.0f} s after {s.restarts} restart(s): "
            f"{s.last_error}"
            for s in self._tasks.values()
            if s.down_since is not None
        ]

    async def stop(self, *stages: str) -> None:
        """Cancel the tasks of ``stages``, one stage after the other (every stage if none is
        given), and wait until they ended."""
        self._stopping = True
        order = stages or tuple(dict.fromkeys(s.stage for s in self._tasks.values()))
        for stage in order:
            runners = [
                s.runner for s in self._tasks.values() if s.stage == stage and s.runner is not None
            ]
            for runner in runners:
                runner.cancel()
            await asyncio.gather(*runners, return_exceptions=True)

    def _launch(self, state: TaskState) -> None:
        state.runner = asyncio.create_task(self._keep_running(state), name=state.name)

    async def _keep_running(self, state: TaskState) -> None:
        while True:
            began = time.monotonic()
            self._set_up(state, True)
            try:
                await state.factory()
                error: BaseException = TaskEnded(f"task {state.name} returned")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
            if time.monotonic() - began >= self._policy.cap_seconds:
                state.attempt = 0
            delay = self._failed(state, error)
            await self._sleep(delay)

    def _failed(self, state: TaskState, error: BaseException) -> float:
        """Record and log one failure; returns the delay before the restart."""
        decision = restart_decision(error, state.attempt, self._policy, self._rand)
        described = f"{type(error).__name__}: {error}"
        # The traceback once per run of identical failures; repeats get one line each.
        repeat = state.attempt > 0 and state.last_error == described
        state.attempt += 1
        state.restarts += 1
        state.down_since = time.monotonic()
        state.last_error = described
        self._restarts.inc(task=state.name)
        self._set_up(state, False)
        log.error(
            "task failed; restarting it",
            exc_info=None if repeat else error,
            extra={
                "task": state.name,
                "error": described,
                "reason": decision.reason,
                "restart_in_s": round(decision.delay, 3),
                "restarts": state.restarts,
            },
        )
        return decision.delay

    def _set_up(self, state: TaskState, up: bool) -> None:
        if up:
            state.down_since = None
        if self._up is not None:
            self._up.set(1 if up else 0, task=state.name)
