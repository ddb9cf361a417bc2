"""``schemahub capture load``: land capture files into a venue's raw table.

Every file is decoded completely before anything is written, so a file that is wholly unusable
(empty, not a capture, another venue's frames) stops the command with nothing written. Bad
frames inside a usable file go to the quarantine with their reason; the good ones land. A file
already landed (same content hash in the raw table's snapshot history) is skipped, so loading
the same file twice adds nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
from pyiceberg.table import Table

from schemahub import registry
from schemahub.capture import BadCaptureLine, CaptureLine, parse_capture_lines
from schemahub.decode import decoder_for
from schemahub.decode.base import FrameKind
from schemahub.errors import CaptureError
from schemahub.lake import QUARANTINE_TABLE, Lake
from schemahub.lake.quarantine import QuarantineEntry, quarantine_rows
from schemahub.lake.schemas import raw_table_schema
from schemahub.lake.writer import commit_append, snapshot_ancestry

DIGEST_PROPERTY = "schemahub.capture.sha256"
FILE_PROPERTY = "schemahub.capture.file"
# Hosts that identify a venue in a capture's connect/send URLs.
_VENUE_HOSTS = {name: name for name in registry.BUILTIN_NAMES}


@dataclass
class FileReport:
    """What one capture file held and what became of it."""

    path: str
    lines: int = 0
    frames: int = 0
    control_frames: int = 0
    trades: int = 0
    already_loaded: bool = False
    problems: Counter[str] = field(default_factory=Counter)


@dataclass
class _DecodedFile:
    report: FileReport
    digest: str
    rows: pa.Table
    quarantine: list[QuarantineEntry]


def load_captures(lake: Lake, venue: str, paths: Sequence[str | Path]) -> list[FileReport]:
    """Decode every file, then land each usable, not yet loaded file; returns one report each."""
    decoder = decoder_for(venue)
    if not paths:
        raise CaptureError("no capture file given")
    decoded = [_decode_file(Path(p), venue) for p in paths]
    raw = lake.table(decoder.RAW_TABLE)
    loaded = _loaded_digests(raw)
    for item in decoded:
        if item.digest in loaded:
            item.report.already_loaded = True
            continue
        props = {DIGEST_PROPERTY: item.digest, FILE_PROPERTY: Path(item.report.path).name}
        commit_append(raw, lambda _t, rows=item.rows, p=props: (rows, p))
        loaded.add(item.digest)
        if item.quarantine:
            rows = quarantine_rows(item.quarantine)
            commit_append(lake.table(QUARANTINE_TABLE), lambda _t, r=rows: (r, {}))
    return [item.report for item in decoded]


def _decode_file(path: Path, venue: str) -> _DecodedFile:
    decoder = decoder_for(venue)
    try:
        content = path.read_bytes()  # read once: hashed for idempotence, then parsed
    except OSError as exc:
        raise CaptureError(f"cannot read capture {path}: {exc.strerror}") from None
    digest = hashlib.sha256(content).hexdigest()
    report = FileReport(str(path))
    records: list[dict] = []
    quarantine: list[QuarantineEntry] = []
    source = f"capture:{path.name}"
    for line in parse_capture_lines(content.splitlines()):
        report.lines += 1
        if isinstance(line, BadCaptureLine):
            _refuse(
                report, quarantine, venue, f"{path.name}:{line.line_no}", line.reason, line.text
            )
            continue
        _check_venue(line, venue, path)
        if line.dir != "recv" or line.data is None:
            continue
        report.frames += 1
        frame = decoder.decode_frame(line.data)
        if frame.kind is FrameKind.CONTROL:
            report.control_frames += 1
        # A malformed frame carries one reject holding the whole frame, so it is kept too.
        for reject in frame.rejects:
            _refuse(report, quarantine, venue, source, reject.reason, reject.payload)
        stamp = datetime.fromtimestamp(line.ts, UTC)
        for record in frame.trades:
            record["_source"] = source
            record["_source_ingest_ts"] = stamp
        records.extend(frame.trades)
        report.trades += len(frame.trades)
    _check_usable(report, path, venue)
    rows = pa.Table.from_pylist(records, schema=raw_table_schema(decoder.NATIVE_SCHEMA))
    return _DecodedFile(report, digest, rows, quarantine)


def _refuse(
    report: FileReport,
    quarantine: list[QuarantineEntry],
    venue: str,
    source: str,
    reason: str,
    payload: str | None,
) -> None:
    report.problems[_reason_kind(reason)] += 1
    quarantine.append(QuarantineEntry(venue, source, reason, payload))


def _reason_kind(reason: str) -> str:
    """The reason without its details, for counting ("price: 'NaN' is ..." -> "price")."""
    return reason.split(":", 1)[0].strip()


def _check_venue(line: CaptureLine, venue: str, path: Path) -> None:
    if not line.url:
        return
    host = urlparse(line.url).hostname or ""
    for other, marker in _VENUE_HOSTS.items():
        if other != venue and marker in host:
            raise CaptureError(
                f"capture {path} was recorded from {other} ({host}), not {venue}; "
                f"load it with `schemahub capture load {other} {path}`"
            )


def _check_usable(report: FileReport, path: Path, venue: str) -> None:
    if report.lines == 0:
        raise CaptureError(f"capture {path} is empty")
    good = report.trades + report.control_frames
    if good == 0:
        problems = ", ".join(f"{n} {kind}" for kind, n in report.problems.most_common(3))
        raise CaptureError(
            f"capture {path} holds no {venue} frame ({problems or 'no received frames'}); "
            "is it a capture of another venue, or not a capture at all?"
        )


def _loaded_digests(table: Table) -> set[str]:
    return {
        s.summary.additional_properties[DIGEST_PROPERTY]
        for s in snapshot_ancestry(table)
        if s.summary is not None and DIGEST_PROPERTY in s.summary.additional_properties
    }
