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
    # REST outage: every request answers HTTP 503 for ``rest_down_seconds``, counted from when
    # the faults were set (simulator start or set_faults), again at the start of every
    # ``rest_down_every_seconds`` when that is above 0; only ``rest_down_venues`` (all if empty).
    rest_down_seconds: float = 0.0
    rest_down_every_seconds: float = 0.0
    rest_down_venues: tuple[str, ...] = ()
    # Refusal, as a region block (451) or a firewall (403) answers: websocket upgrades and/or
    # REST requests of ``refuse_venues`` (all if empty) get this HTTP status (0: off).
    ws_refuse_status: int = 0
    rest_refuse_status: int = 0
    refuse_venues: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name.endswith(("probability", "share")) and not 0.0 <= value <= 1.0:
                raise UsageError(f"fault setting {name}={value}: expected a number in [0, 1]")
        for name in ("ws_refuse_status", "rest_refuse_status"):
            status = getattr(self, name)
            if status and not 400 <= status <= 599:
                raise UsageError(f"fault setting {name}={status}: expected 0 or an HTTP error")
        if self.rest_down_seconds < 0 or self.rest_down_every_seconds < 0:
            raise UsageError("rest_down_seconds and rest_down_every_seconds: expected >= 0")
        lo, hi = self.drop_run_length
        if not 1 <= lo <= hi:
            raise UsageError(f"drop_run_length={self.drop_run_length}: expected 1 <= min <= max")

    def rest_down(self, venue: str, seconds_since_set: float) -> bool:
        """Whether ``venue``'s REST is in an outage ``seconds_since_set`` after the faults were
        set."""
        if self.rest_down_seconds <= 0 or not _applies(venue, self.rest_down_venues):
            return False
        if self.rest_down_every_seconds > 0:
            seconds_since_set %= self.rest_down_every_seconds
        return seconds_since_set < self.rest_down_seconds

    def refusal(self, venue: str, websocket: bool) -> int:
        """The HTTP status that refuses ``venue``'s websocket upgrades or REST requests, or 0."""
        status = self.ws_refuse_status if websocket else self.rest_refuse_status
        return status if status and _applies(venue, self.refuse_venues) else 0


def _applies(venue: str, venues: tuple[str, ...]) -> bool:
    return not venues or venue in venues


# Names for the CLI's --fault, each with a moderate setting that a session survives.
FAULT_PRESETS: dict[str, dict[str, Any]] = {
    "dropped-runs": {"drop_run_probability": 0.002},
    "disconnects": {"disconnect_probability": 0.01},
    "duplicates": {"duplicate_replay_probability": 1.0},
    "malformed": {"malformed_probability": 0.01},
    "unknown-types": {"unknown_type_probability": 0.01},
    "rest-429": {"rest_429_probability": 0.05},
    "rest-errors": {"rest_error_probability": 0.02},
    "silent": {"silent_accept_probability": 0.05, "go_silent_probability": 0.002},
    # Outages, named one by one (``all`` leaves them out): REST answers 503 for 20 s of every
    # 120 s; Binance refuses us as from a blocked region (HTTP 451 on websocket and REST).
    "rest-down": {"rest_down_seconds": 20.0, "rest_down_every_seconds": 120.0},
    "region-block": {
        "ws_refuse_status": 451,
        "rest_refuse_status": 451,
        "refuse_venues": ("binance",),
    },
}
_OUTAGES = ("rest-down", "region-block")


def faults_from_names(names: list[str]) -> FaultConfig:
    """A FaultConfig with the presets named (``all`` switches every one on)."""
    chosen = [p for p in FAULT_PRESETS if p not in _OUTAGES] if "all" in names else names
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
    rest_down_answers: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refusals: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # venue:ws|rest
    # Per stream, the id of the first trade published after its first subscription: the first
    # trade a client that subscribed then is owed (a replay or snapshot may give earlier ones).
    first_live_id: dict[str, int] = field(default_factory=dict)

    def dropped_ids(self, venue: str, symbol: str) -> list[int]:
        """Every trade id of the stream that no websocket carried."""
        return [
            i
            for lo, hi in self.dropped_runs.get(f"{venue}:{symbol}", [])
            for i in range(lo, hi + 1)
        ]

    def first_owed(self) -> dict[str, int]:
        """Per subscribed stream, the first trade a client that subscribed first is owed: the
        first one published after that subscription and not left out by a dropped run."""
        owed = {}
        for key, first in self.first_live_id.items():
            dropped = set(self.dropped_ids(*key.split(":", 1)))
            while first in dropped:
                first += 1
            owed[key] = first
        return owed

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
