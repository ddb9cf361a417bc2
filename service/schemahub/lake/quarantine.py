"""The quarantine: payloads we refused, with the reason, queryable like any table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from schemahub.schemas import QUARANTINE_SCHEMA


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One refused payload: which venue, where it came from, why, and its text."""

    exchange: str
    source: str
    reason: str
    raw_payload: str | None


def rejected_entries(venue: str, source: str, rejected: pa.Table) -> list[QuarantineEntry]:
    """Rows a mapping refused (``reason`` and ``raw_payload`` columns) as quarantine entries."""
    return [
        QuarantineEntry(venue, source, reason, payload)
        for reason, payload in zip(
            rejected["reason"].to_pylist(), rejected["raw_payload"].to_pylist(), strict=True
        )
    ]


def quarantine_rows(entries: Iterable[QuarantineEntry], at: datetime | None = None) -> pa.Table:
    """The entries as rows of the quarantine table."""
    stamp = at or datetime.now(UTC)
    listed = list(entries)
    return pa.Table.from_pydict(
        {
            "exchange": [e.exchange for e in listed],
            "source": [e.source for e in listed],
            "reason": [e.reason for e in listed],
            "raw_payload": [e.raw_payload for e in listed],
            "quarantined_at": [stamp] * len(listed),
        },
        schema=QUARANTINE_SCHEMA,
    )
