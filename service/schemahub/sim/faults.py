"""Fault injection settings and the record of what the simulator did.

Every fault is off by default (probability 0). Probabilities are per trade, per frame, per
connection-second or per REST request as named. The simulator's fault dice use their own
seeded random generator, so switching faults on never changes the tape (the ground truth).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from schemahub.errors import UsageError


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject and how often. All off by default."""

    # Runs of trades left out of every websocket (they stay in REST history).
    drop_run_probability: float = 0.0  # per trade: start a dropped run here
    drop_run_length: tuple[int, int] = (1, 20)  # run length, inclusive range
    # Disconnects, per connection and second: abrupt (TCP closed, no close frame) or a
    # close frame with an error code.
    disconnect_probability: float = 0.0
    disconnect_abrupt_share: float = 0.5
    disconnect_close_code: int = 1011
    # After a (re)subscription, replay this many recent trades again (duplicates).
    duplicate_replay_probability: float = 0.0  # per subscription
    duplicate_replay_count: int = 20
    # Extra bad frames before a real one: truncated JSON, a binary frame, or garbage text.
    malformed_probability: float = 0.0  # per trade frame
    # Extra well-formed frames of a type the venue does not document.
    unknown_type_probability: float = 0.0  # per trade frame
    # REST: 429 answers (with Retry-After in ``rest_429_retry_after_share`` of them).
    rest_429_probability: float = 0.0  # per request
    rest_429_retry_after_share: float = 0.5
    # REST: 500 with an HTML body, as a proxy in front of a venue may answer.
    rest_error_probability: float = 0.0  # per request
    # Silence: accept and never speak, or stop speaking mid-stream (socket left open).
    silent_accept_probability: float = 0.0  # per connection
    go_silent_probability: float = 0.0  # per connection and second

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name.endswith(("probability", "share")) and not 0.0 <= value <= 1.0:
                raise UsageError(f"fault setting {name}={value}: expected a number in [0, 1]")
        lo, hi = self.drop_run_length
        if not 1 <= lo <= hi:
            raise UsageError(f"drop_run_length={self.drop_run_length}: expected 1 <= min <= max")


# Names for the CLI's --fault, each with a moderate setting that a session survives.
FAULT_PRESETS: dict[str, dict[str, float]] = {
    "dropped-runs": {"drop_run_probability": 0.002},
    "disconnects": {"disconnect_probability": 0.01},
    "duplicates": {"duplicate_replay_probability": 1.0},
    "malformed": {"malformed_probability": 0.01},
    "unknown-types": {"unknown_type_probability": 0.01},
    "rest-429": {"rest_429_probability": 0.05},
    "rest-errors": {"rest_error_probability": 0.02},
    "silent": {"silent_accept_probability": 0.05, "go_silent_probability": 0.002},
}


def faults_from_names(names: list[str]) -> FaultConfig:
    """A FaultConfig with the presets named (``all`` switches every one on)."""
    chosen = list(FAULT_PRESETS) if "all" in names else names
    settings: dict[str, Any] = {}
    for name in chosen:
        if name not in FAULT_PRESETS:
            known = ", ".join([*FAULT_PRESETS, "all"])
            raise UsageError(f"unknown fault {name!r}; expected one of: {known}")
        settings.update(FAULT_PRESETS[name])
    return replace(FaultConfig(), **settings)


class FaultDice:
    """Seeded random decisions about faults (separate from the tape's generators)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}:faults")

    def hit(self, probability: float) -> bool:
        """True with ``probability``."""
        return probability > 0.0 and self._rng.random() < probability

    def between(self, lo: int, hi: int) -> int:
        """A whole number in [lo, hi]."""
        return self._rng.randint(lo, hi)

    def choice(self, options: list[str]) -> str:
        return self._rng.choice(options)


@dataclass
class SimStats:
    """What the simulator did. Keys of per-stream maps are ``"venue:symbol"``."""

    trades_generated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Runs of trade ids left out of the websockets, inclusive (first_id, last_id).
    dropped_runs: dict[str, list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    ws_connections: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    disconnects: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # venue:kind
    duplicates_replayed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    malformed_sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unknown_sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    silent_connections: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ws_limit_violations: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rest_requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rest_peak_per_second: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rest_rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rest_429_injected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rest_errors_injected: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def dropped_ids(self, venue: str, symbol: str) -> list[int]:
        """Every trade id of the stream that no websocket carried."""
        return [
            i
            for lo, hi in self.dropped_runs.get(f"{venue}:{symbol}", [])
            for i in range(lo, hi + 1)
        ]

    def snapshot(self) -> SimStats:
        """A deep copy with plain dicts, safe to keep while the simulator runs on."""
        copied = {
            name: {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
            for name, value in vars(self).items()
        }
        return SimStats(**copied)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (for logs and the CLI)."""
        return {name: dict(value) for name, value in vars(self).items()}


class RestRateMeter:
    """Counts REST requests in whole-second buckets and keeps the busiest second."""

    def __init__(self) -> None:
        self._second = -1
        self._count = 0

    def add(self, now: float) -> int:
        """Count one request at ``now`` (seconds); returns the count of its second so far."""
        second = int(now)
        if second != self._second:
            self._second, self._count = second, 0
        self._count += 1
        return self._count
