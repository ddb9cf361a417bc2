"""Configuration: one YAML file, every key overridable from the environment, validated on load.

Environment rule: ``SCHEMAHUB_`` + the key path in upper case with ``__`` between levels. The
value is parsed as YAML, so lists and numbers work::

    SCHEMAHUB_FLUSH__INTERVAL_SECONDS=5
    SCHEMAHUB_LAKE__CATALOG__TYPE=glue
    SCHEMAHUB_VENUES__BINANCE__SYMBOLS='[BTCUSDT, ETHUSDT]'

except for secrets (``SecretStr`` keys such as ``lake.catalog.token``): their value is taken as
written, so a token like ``abc #def`` is not cut at a YAML comment or turned into a number.

Unknown keys, wrong types and missing required values are :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from schemahub.errors import ConfigError
from schemahub.redact import MASK, mask_uri_passwords

DEFAULT_CONFIG_PATH = Path("config/schemahub.yaml")
ENV_PREFIX = "SCHEMAHUB_"
VENUE_NAMES = ("binance", "coinbase", "kraken")
# Where the repository keeps its shipped config; used when the working directory has none.
_REPO_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
# Catalog property names whose values are secrets (shown masked in reprs).
_SECRET_PROPERTY = re.compile(r"secret|password|token|credential|session", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogConfig(_Strict):
    """Which Iceberg catalog holds the tables.

    ``sql``: SQLite (embedded default) or PostgreSQL through ``uri``. ``glue``: AWS Glue Data
    Catalog. ``rest``: an Iceberg REST catalog. ``properties`` are passed to pyiceberg as they are
    (for example ``s3.endpoint`` or ``glue.endpoint`` when pointing at a moto server).
    """

    type: Literal["sql", "glue", "rest"] = "sql"
    name: str = "schemahub"
    uri: str | None = None
    region: str | None = None
    credential: SecretStr | None = None
    token: SecretStr | None = None
    properties: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rest_needs_uri(self) -> CatalogConfig:
        if self.type == "rest" and not self.uri:
            raise ValueError("lake.catalog.uri is required when lake.catalog.type is 'rest'")
        return self

    def __repr_args__(self) -> Any:
        # A database URI may carry a password, properties may carry keys (s3.secret-access-key):
        # reprs (and so logs of this model) show them masked.
        for name, value in super().__repr_args__():
            if name == "uri" and value:
                value = mask_uri_passwords(value)
            elif name == "properties":
                value = {k: MASK if _SECRET_PROPERTY.search(k) else v for k, v in value.items()}
            yield name, value


class LakeConfig(_Strict):
    """Where the Iceberg tables live."""

    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    warehouse: str = "warehouse"
    namespace: str = "schemahub"
    commit_retries: int = Field(default=8, ge=0)
    # The time-travel window: the daemon expires snapshots older than this (lake/maintenance.py).
    # Every snapshot kept stays in the table metadata that each commit rewrites: a long window
    # makes every commit dearer. At most a year.
    snapshot_retention_seconds: float = Field(default=21_600.0, gt=0, le=366 * 86_400)
    # How often the daemon expires old snapshots (after a successful flush). At most a day.
    maintenance_interval_seconds: float = Field(default=600.0, gt=0, le=86_400)
    # Compaction (lake/compaction.py, `schemahub maintain`): how often the daemon compacts
    # (0: never), how old a partition's newest row must be first, and the data file size aimed
    # at (the tables' write.target-file-size-bytes, set by `tables init`).
    compaction_interval_seconds: float = Field(default=3_600.0, ge=0, le=7 * 86_400)
    compaction_horizon_seconds: float = Field(default=86_400.0, ge=0)
    target_file_size_bytes: int = Field(default=128 * 1024 * 1024, ge=1024 * 1024)
    # Files no snapshot references are deleted once older than this: longer than any writer
    # takes from writing a data file to committing it (lake/orphans.py).
    orphan_age_seconds: float = Field(default=86_400.0, ge=0)


class FlushConfig(_Strict):
    """When buffered rows are committed."""

    interval_seconds: float = Field(default=10.0, gt=0)
    # Commit early when this many rows wait: bounds memory at high rates while keeping commits
    # (snapshots, small files, per-commit metadata work) few. At 50,000 trades/s the interval
    # still decides; catching up a backlog, each commit takes half the cap, so the next half
    # is read while it lands.
    max_rows: int = Field(default=500_000, gt=0)
    # Backpressure cap on rows held in memory (invariant 3).
    max_buffered_rows: int = Field(default=1_000_000, gt=0)


class VenueConfig(_Strict):
    """One venue's endpoints and streams."""

    enabled: bool = True
    ws_url: str
    rest_url: str
    symbols: list[str] = Field(default_factory=list)
    feed: Literal["advanced", "exchange"] | None = None
    silence_timeout_seconds: float = Field(default=30.0, gt=0)
    max_streams_per_connection: int | None = Field(default=None, gt=0)
    rest_requests_per_second: float | None = Field(default=None, gt=0)
    # Replace each websocket before this age (default: the venue's own, 23 h on Binance).
    max_connection_age_seconds: float | None = Field(default=None, gt=0)


def _default_venues() -> dict[str, VenueConfig]:
    return {
        "binance": VenueConfig(
            ws_url="wss://stream.binance.com:9443",
            rest_url="https://api.binance.com",
            symbols=["BTCUSDT", "ETHUSDT"],
        ),
        "coinbase": VenueConfig(
            ws_url="wss://advanced-trade-ws.coinbase.com",
            rest_url="https://api.exchange.coinbase.com",
            symbols=["BTC-USD", "ETH-USD"],
            feed="advanced",
        ),
        "kraken": VenueConfig(
            ws_url="wss://ws.kraken.com/v2",
            rest_url="https://api.kraken.com",
            symbols=["BTC/USD", "ETH/USD"],
        ),
    }


class VenuesConfig(_Strict):
    """The three venues; each section may be partial, missing keys take the real endpoints."""

    binance: VenueConfig
    coinbase: VenueConfig
    kraken: VenueConfig

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        data = dict(data or {})
        for name, default in _default_venues().items():
            given = data.get(name)
            if given is None:
                data[name] = default
            elif isinstance(given, Mapping):
                data[name] = {**default.model_dump(), **given}
        return data

    def enabled(self) -> dict[str, VenueConfig]:
        """The enabled venues by name."""
        return {n: v for n in VENUE_NAMES if (v := getattr(self, n)).enabled}


class GapsConfig(_Strict):
    """How the REST gap filler finds and fills missing trades."""

    # A gap younger than this may close by itself (overlapping connections deliver late).
    min_age_seconds: float = Field(default=1.0, ge=0)
    # Ask the venue for its newest trade id when a stream has been quiet this long, or after a
    # disconnect: trades missed at the tail of a stream show no id jump until the next trade.
    probe_quiet_seconds: float = Field(default=30.0, gt=0)


class HttpConfig(_Strict):
    """The operations and live-feed HTTP server."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class CaptureConfig(_Strict):
    """Recording of received frames in the capture format."""

    dir: str | None = None
    max_file_bytes: int = Field(default=64 * 1024 * 1024, gt=0)


class S3Config(_Strict):
    """Object storage: the batch commands' JSONL and checkpoints (``--s3-bucket``), and the
    endpoint and region of an ``s3://`` lake warehouse (``lake/catalog.py``).

    ``endpoint_url`` (e.g. a moto or MinIO server) wins over ``AWS_ENDPOINT_URL_S3`` and
    ``AWS_ENDPOINT_URL``; credentials come from the standard AWS variables and files."""

    endpoint_url: str | None = None
    region: str | None = None


class GroupMember(_Strict):
    """One venue's symbol in a pair group, with the currency it is quoted in."""

    symbol: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class PairGroup(_Strict):
    """Symbols of several venues compared as one pair. Prices are compared in ``quote``; a
    member quoted in another currency needs its rate in ``conversions`` (member currency ->
    ``quote``), so no currency is ever taken 1:1 without the config saying so."""

    quote: str = Field(min_length=1)
    members: dict[Literal["binance", "coinbase", "kraken"], GroupMember] = Field(min_length=1)
    conversions: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rates_cover_members(self) -> PairGroup:
        for venue, member in self.members.items():
            if member.quote != self.quote and member.quote not in self.conversions:
                raise ValueError(
                    f"members.{venue} is quoted in {member.quote}, not {self.quote}: give its "
                    f"rate as conversions.{member.quote} (1 {member.quote} in {self.quote})"
                )
        for currency, rate in self.conversions.items():
            if not 0 < rate < float("inf"):
                raise ValueError(f"conversions.{currency}: expected a positive rate, got {rate}")
        return self


def _default_groups() -> dict[str, PairGroup]:
    def group(base: str) -> PairGroup:
        members = {
            "binance": GroupMember(symbol=f"{base}USDT", quote="USDT"),
            "coinbase": GroupMember(symbol=f"{base}-USD", quote="USD"),
            "kraken": GroupMember(symbol=f"{base}/USD", quote="USD"),
        }
        # USDT counted as 1 USD: an assumption stated here and shown in every update.
        return PairGroup(quote="USD", members=members, conversions={"USDT": 1.0})

    return {"BTC": group("BTC"), "ETH": group("ETH")}


class DiscrepancyConfig(_Strict):
    """The live cross-venue discrepancy feed that ``serve`` streams (``/discrepancy/*``)."""

    enabled: bool = True
    # Also subscribe each grouped symbol's top-of-book channel (mid prices when fresh).
    quotes: bool = True
    # At most one update per group this often (clients are cheap however fast trades come).
    coalesce_ms: int = Field(default=250, ge=10, le=60_000)
    # A venue with no trade or quote for this long is stale: shown so, left out of the spread.
    stale_after_ms: int = Field(default=5_000, gt=0)
    # An event when the spread reaches threshold_bps; the next when it falls below
    # threshold_bps - hysteresis_bps (so it does not flap around the line).
    threshold_bps: float = Field(default=10.0, gt=0)
    hysteresis_bps: float = Field(default=2.0, ge=0)
    # Updates waiting per client; a client that lets this many pile up is dropped.
    client_queue: int = Field(default=64, ge=1, le=10_000)
    max_clients: int = Field(default=2_000, ge=1)
    groups: dict[str, PairGroup] = Field(default_factory=_default_groups)

    @model_validator(mode="after")
    def _hysteresis_below_threshold(self) -> DiscrepancyConfig:
        if self.hysteresis_bps >= self.threshold_bps:
            raise ValueError("hysteresis_bps must be smaller than threshold_bps")
        return self


class ShardConfig(_Strict):
    """Which replica this is: the configured streams are split over ``count`` replicas by
    rendezvous hashing of (exchange, symbol) (``daemon/shards.py``); this one takes ``index``."""

    count: int = Field(default=1, ge=1, le=1024)
    index: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _index_below_count(self) -> ShardConfig:
        if self.index >= self.count:
            raise ValueError(
                f"shard.index must be below shard.count ({self.count}), got {self.index}"
            )
        return self


class Config(_Strict):
    """The whole SchemaHub configuration."""

    lake: LakeConfig = Field(default_factory=LakeConfig)
    flush: FlushConfig = Field(default_factory=FlushConfig)
    venues: VenuesConfig = Field(default_factory=lambda: VenuesConfig.model_validate({}))
    gaps: GapsConfig = Field(default_factory=GapsConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    s3: S3Config = Field(default_factory=S3Config)
    discrepancy: DiscrepancyConfig = Field(default_factory=DiscrepancyConfig)
    shard: ShardConfig = Field(default_factory=ShardConfig)
    mappings_dir: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def mappings_path(self) -> Path:
        """The folder of YAML mappings: configured, else ./config/mappings, else the shipped one."""
        if self.mappings_dir:
            return Path(self.mappings_dir)
        local = Path("config/mappings")
        return local if local.is_dir() else _REPO_CONFIG_DIR / "mappings"


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the YAML file at ``path`` (default ``config/schemahub.yaml`` if present), apply
    ``SCHEMAHUB_*`` environment overrides, and validate."""
    environ = os.environ if environ is None else environ
    data = _read_yaml(path)
    for key, raw in sorted(environ.items()):
        if (key.startswith(ENV_PREFIX) and "__" in key) or key in _TOP_LEVEL_ENV_KEYS:
            _apply_override(data, key, raw)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


_TOP_LEVEL_ENV_KEYS = frozenset(ENV_PREFIX + name.upper() for name in ("mappings_dir", "log_level"))


def _read_yaml(path: str | Path | None) -> dict[str, Any]:
    explicit = path is not None
    file = Path(path) if explicit else DEFAULT_CONFIG_PATH
    if not file.exists():
        if explicit:
            raise ConfigError(f"config file {file} does not exist")
        return {}
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {file}: expected a mapping at the top level")
    return loaded


def _apply_override(data: dict[str, Any], env_key: str, raw: str) -> None:
    parts = [p.lower() for p in env_key[len(ENV_PREFIX) :].split("__")]
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if _is_secret(parts):
        node[parts[-1]] = raw
        return
    try:
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        node[parts[-1]] = raw


def _is_secret(parts: list[str]) -> bool:
    """Whether the key at ``parts`` is a ``SecretStr`` field of the config models."""
    node: Any = Config
    for part in parts:
        fields = getattr(node, "model_fields", None)
        if not fields or part not in fields:
            return False
        node = fields[part].annotation
        # ``X | None`` -> X
        node = next((a for a in get_args(node) if a is not type(None)), node)
    return node is SecretStr


_SECRET_WORDS = frozenset({"credential", "token", "properties", "secret"})


def _describe(exc: ValidationError, path: str | Path | None) -> str:
    where = f" in {path}" if path else ""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}'")
        elif err["type"] == "missing":
            problems.append(f"missing required key '{key}'")
        elif _SECRET_WORDS.intersection(key.split(".")) or not _is_scalar(err.get("input")):
            # a section's input holds its secrets too: name the problem, not the values
            problems.append(f"'{key}': {err['msg']}")
        else:
            problems.append(f"'{key}': {err['msg']} (got {err.get('input')!r})")
    return mask_uri_passwords(f"invalid configuration{where}: " + "; ".join(problems))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
