"""How a running replay is stopped: it calls its checkpoint between steps (each batch of the
scan, the alignment, each lead/lag pair), and the checkpoint raises once the replay's time is
up or it was cancelled. A thread cannot be killed; this is how its slot is really freed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from schemahub.errors import SchemaHubError

Checkpoint = Callable[[], None]


class ReplayStopped(SchemaHubError):
    """A replay ran out of time or was cancelled; it stopped at its next checkpoint."""


def no_checkpoint() -> None:
    """The checkpoint of a replay without limits (the CLI's)."""


@dataclass
class Budget:
    """The time limit of one replay and its cancel flag. ``hook`` runs at every checkpoint
    before the check (a test uses it to hold a replay in place)."""

    seconds: float
    hook: Checkpoint = no_checkpoint
    deadline: float = field(init=False)
    cancelled: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def check(self) -> None:
        """Raise ReplayStopped once the deadline passed or the replay was cancelled."""
        self.hook()
        if self.cancelled.is_set():
            raise ReplayStopped("the replay was cancelled")
        if time.monotonic() >= self.deadline:
            raise ReplayStopped(f"the replay took longer than {self.seconds:g} s")
