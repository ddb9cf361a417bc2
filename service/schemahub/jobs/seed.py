"""``schemahub update-seed``: the product list the batch commands walk, as the original tool
kept it: ``{product_ids: [...], metadata: {source, last_updated, count}}`` in
``config/mappings/product_ids_seed.yaml`` (Coinbase) or ``product_ids_seed_<venue>.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from schemahub.errors import StorageError, UsageError
from schemahub.jobs.checkpoints import atomic_write, now_iso
from schemahub.jobs.rawjsonl import PRODUCT_PATTERNS
from schemahub.venues.rest import VenueHistory

DEFAULT_SEED = Path("config/mappings/product_ids_seed.yaml")


def default_seed_path(venue: str) -> Path:
    """Coinbase keeps the original file name; other venues get a file each."""
    if venue == "coinbase":
        return DEFAULT_SEED
    return DEFAULT_SEED.with_name(f"product_ids_seed_{venue}.yaml")


def read_seed(path: Path) -> list[str]:
    """The product ids of a seed file (StorageError naming the file when it is not one)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StorageError(
            f"seed file {path} does not exist; create it with `schemahub update-seed --fetch "
            "--write` or name another with --seed-path"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        raise StorageError(f"seed file {path} cannot be read: {exc}") from None
    ids = document.get("product_ids") if isinstance(document, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise StorageError(f"seed file {path}: expected a list of strings under product_ids")
    return ids


def seed_document(ids: list[str], source: str) -> dict[str, Any]:
    """The seed file's content."""
    return {
        "product_ids": ids,
        "metadata": {"source": source, "last_updated": now_iso(), "count": len(ids)},
    }


def write_seed(path: Path, ids: list[str], source: str) -> None:
    """Write the seed file atomically."""
    text = yaml.safe_dump(seed_document(ids, source), sort_keys=False)
    atomic_write(path, text.encode())


async def fetch_products(history: VenueHistory, venue: str) -> list[str]:
    """The venue's trading products whose ids we can store (sorted)."""
    catalogue = await history.fetch_catalogue()  # type: ignore[attr-defined]
    pattern = PRODUCT_PATTERNS[venue]
    return sorted(
        item.symbol
        for item in catalogue.listings()
        if item.trading and pattern.fullmatch(item.symbol)
    )


@dataclass(frozen=True, slots=True)
class SeedChange:
    """The new list and how it differs from the old one."""

    ids: list[str]
    added: list[str]
    removed: list[str]


def combine(
    old: list[str], fetched: list[str] | None, merge: bool, regex: str | None
) -> SeedChange:
    """The new list: fetched (or the old one), merged with the old one, filtered by ``regex``."""
    ids = set(fetched if fetched is not None else old)
    if merge:
        ids |= set(old)
    if regex:
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise UsageError(
                f"--filter-regex {regex!r} is not a regular expression: {exc}"
            ) from None
        ids = {i for i in ids if pattern.search(i)}
    new = sorted(ids)
    return SeedChange(new, sorted(ids - set(old)), sorted(set(old) - ids))
