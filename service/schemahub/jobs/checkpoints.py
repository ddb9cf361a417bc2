"""Checkpoints of the batch commands, in the original tool's JSON shapes.

- ``backfill``: ``{"last_trade_id", "trades_processed", "last_updated"}`` in
  ``state/{product_id}.json`` (local) or ``{prefix}/checkpoints/{product_id}.json`` (S3).
  ``last_trade_id`` is the oldest id already written: the walk goes on below it.
- ``ingest``: ``{"last_trade_id", "last_updated"}`` in ``{prefix}/ingest_checkpoints/...``:
  the newest id written.

A checkpoint is written only after the data it covers. One that exists but cannot be read is a
CheckpointError naming its path: a silent "start over" would duplicate or skip history.
Local writes are atomic (temporary file, fsync, rename, fsync of the folder).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import orjson

from schemahub.errors import CheckpointError, StorageError
from schemahub.s3 import Bucket


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a product's walk stands (``trades_processed`` is None for ingest watermarks)."""

    last_trade_id: int
    trades_processed: int | None = None
    last_updated: str = ""

    def to_json(self) -> bytes:
        """The original tool's JSON (no ``trades_processed`` key for a watermark)."""
        body = {k: v for k, v in asdict(self).items() if v is not None}
        body["last_updated"] = self.last_updated or now_iso()
        return orjson.dumps(body)


def now_iso() -> str:
    """The current UTC time as the original tool wrote it."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def parse_checkpoint(raw: bytes, where: str, *, with_count: bool) -> Checkpoint:
    """Read a checkpoint's bytes; CheckpointError naming ``where`` when they are not one."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _corrupt(where, "not valid JSON (truncated?)") from None
    if not isinstance(body, dict):
        raise _corrupt(where, "not a JSON object")
    last = body.get("last_trade_id")
    count = body.get("trades_processed", 0 if not with_count else None)
    if not _is_count(last):
        raise _corrupt(where, f"last_trade_id is {last!r}, expected a trade id >= 0")
    if not _is_count(count):
        raise _corrupt(where, f"trades_processed is {count!r}, expected a count >= 0")
    stamp = body.get("last_updated", "")
    return Checkpoint(int(last), int(count) if with_count else None, str(stamp))


def _is_count(value: object) -> bool:
    if isinstance(value, str) and value.isdigit():
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _corrupt(where: str, why: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {where} is corrupt: {why}; repair it, or delete it to start this product "
        "over (nothing was written)"
    )


class CheckpointStore(Protocol):
    """Where checkpoints are kept: a local folder or an S3 prefix."""

    def read(self, product: str) -> Checkpoint | None:
        """The product's checkpoint, None when there is none."""
        ...

    def write(self, product: str, checkpoint: Checkpoint) -> None:
        """Replace the product's checkpoint."""
        ...

    def where(self, product: str) -> str:
        """The checkpoint's path, for messages."""
        ...


class LocalCheckpoints:
    """``{folder}/{key}.json`` files, written atomically."""

    def __init__(self, folder: str | Path, *, with_count: bool = True) -> None:
        self.folder = Path(folder)
        self.with_count = with_count

    def where(self, product: str) -> str:
        return str(self.folder / f"{product}.json")

    def read(self, product: str) -> Checkpoint | None:
        path = Path(self.where(product))
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read checkpoint {path}: {exc.strerror}") from None
        return parse_checkpoint(raw, str(path), with_count=self.with_count)

    def write(self, product: str, checkpoint: Checkpoint) -> None:
        atomic_write(Path(self.where(product)), checkpoint.to_json())


def atomic_write(path: Path, body: bytes) -> None:
    """Replace ``path`` with ``body`` so that a crash leaves the old file or the new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself must survive a power cut
        finally:
            os.close(folder)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from None


class S3Checkpoints:
    """``{prefix}/{key}.json`` objects in a bucket."""

    def __init__(self, bucket: Bucket, prefix: str, *, with_count: bool = True) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.with_count = with_count

    def _key(self, product: str) -> str:
        return f"{self.prefix}/{product}.json" if self.prefix else f"{product}.json"

    def where(self, product: str) -> str:
        return self.bucket.where(self._key(product))

    def read(self, product: str) -> Checkpoint | None:
        raw = self.bucket.get(self._key(product))
        if raw is None:
            return None
        return parse_checkpoint(raw, self.where(product), with_count=self.with_count)

    def write(self, product: str, checkpoint: Checkpoint) -> None:
        self.bucket.put(self._key(product), checkpoint.to_json())
