"""The original tool's S3 layout: one JSONL object a chunk of trades, one record a line.

Object name: ``{prefix}/raw_{venue}_trades_{product}_{timestamp}_{trade_id}.jsonl``, where
``timestamp`` (``YYYYMMDDTHHMMSSZ``) and ``trade_id`` are those of the chunk's oldest trade:
deterministic for a chunk, so writing a chunk again replaces its object instead of adding a
second one. Records are the venue's raw-table columns (Coinbase: ``trade_id, product_id,
price, size, time, side``) plus ``_source``, ``_source_ingest_ts``, ``_raw_payload``.

Product ids are checked against the venue's pattern before they go into any key or path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from schemahub.decode.base import NativeRecord
from schemahub.errors import UsageError
from schemahub.venues.history import trade_id, trade_time

# What a product id may look like on each venue (no separators that could leave a folder).
PRODUCT_PATTERNS = {
    "coinbase": re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}"),
    "binance": re.compile(r"[A-Z0-9]{2,30}"),
    "kraken": re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}"),
}
EXAMPLES = {"coinbase": "BTC-USD", "binance": "BTCUSDT", "kraken": "BTC/USD"}
# Raw columns the original layout does not carry, and the value they take when imported.
NOT_IN_LAYOUT: dict[str, dict[str, Any]] = {"coinbase": {"sequence_num": None, "feed": "rest"}}
NAME_PATTERN = re.compile(
    r"raw_(?P<venue>[a-z]+)_trades_(?P<product>[A-Z0-9-]+)_(?P<ts>\d{8}T\d{6}Z)_(?P<id>\d+)\.jsonl$"
)


def validate_product(venue: str, product: str) -> str:
    """``product`` when it matches the venue's pattern; a UsageError naming it otherwise."""
    pattern = PRODUCT_PATTERNS.get(venue)
    if pattern is None:
        raise UsageError(f"unknown venue {venue!r}; expected one of {', '.join(PRODUCT_PATTERNS)}")
    if not pattern.fullmatch(product):
        raise UsageError(
            f"product id {product!r} is not a {venue} product id; expected upper-case letters "
            f"and digits like {EXAMPLES[venue]} (no '..', no other separators)"
        )
    return product


def key_name(venue: str, product: str) -> str:
    """The product as it appears in keys and file names (Kraken's ``/`` becomes ``-``)."""
    return validate_product(venue, product).replace("/", "-")


def object_key(prefix: str, venue: str, product: str, chunk: Sequence[NativeRecord]) -> str:
    """The chunk's object key, from its oldest trade."""
    oldest = min(chunk, key=trade_id)
    stamp = trade_time(venue, oldest).strftime("%Y%m%dT%H%M%SZ")
    name = f"raw_{venue}_trades_{key_name(venue, product)}_{stamp}_{trade_id(oldest)}.jsonl"
    return f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name


def encode_chunk(
    venue: str, chunk: Iterable[NativeRecord], source: str, ingested: datetime
) -> bytes:
    """The JSONL body of a chunk, oldest trade first."""
    dropped = NOT_IN_LAYOUT.get(venue, {})
    stamp = ingested.isoformat().replace("+00:00", "Z")
    lines = []
    for record in sorted(chunk, key=trade_id):
        line = {k: v for k, v in record.items() if k not in dropped and k != "_raw_payload"}
        line.update(
            _source=source, _source_ingest_ts=stamp, _raw_payload=record.get("_raw_payload")
        )
        lines.append(orjson.dumps(line))
    return b"\n".join(lines) + b"\n" if lines else b""


def decode_line(venue: str, line: bytes) -> dict[str, Any]:
    """One JSONL record as a raw-table row (ValueError when it is not one)."""
    record = orjson.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    record.update({k: v for k, v in NOT_IN_LAYOUT.get(venue, {}).items() if k not in record})
    if venue == "coinbase" and isinstance(record.get("trade_id"), int):
        record["trade_id"] = str(record["trade_id"])  # the REST payload's number, kept as text
    stamp = record.get("_source_ingest_ts")
    if isinstance(stamp, str):
        record["_source_ingest_ts"] = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return record
