"""The venue registry: one line per venue, from which every layer finds that venue's parts.

A :class:`VenueSpec` names, as dotted import paths, the modules and classes a venue brings to
each layer of the data flow (decoder, msgspec columnar spec, websocket protocol, REST client)
plus the few facts other layers need (raw table, stream column, venue time column, whether the
native C parser knows its frames). The parts are imported on first use, so this module imports
nothing heavy and any module may read it without an import cycle::

    spec = registry.venue("kraken")
    spec.decoder().decode_frame(text)        # schemahub.decode.kraken, imported now
    registry.names()                         # ("binance", "coinbase", "kraken")

Adding a venue: its modules (``decode/<name>.py`` at least), then one :func:`register` call
(a line in ``_BUILTIN`` for a product venue; tests register their own).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemahub.errors import UsageError

if TYPE_CHECKING:
    from schemahub.decode.base import VenueDecoder
    from schemahub.decode.columnar import ColumnarVenue


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """What one venue is, as import paths (``module`` or ``module:attribute``) and names."""

    name: str
    decoder_path: str  # module with VENUE, RAW_TABLE, NATIVE_SCHEMA, decode_frame, ...
    stream_field: str  # the native column holding a trade's stream (symbol)
    time_field: str  # the native column holding the venue's trade time
    # The msgspec ColumnarVenue of the usual trade frame; None: bursts decode frame by frame.
    columnar_path: str | None = None
    native: bool = False  # the C parser (_native.c) has a spec of this name
    # Native columns the C parser dictionary-encodes (checked against _native.columns).
    dictionary_columns: tuple[str, ...] = ()
    ws_path: str | None = None  # "module:Class" of its websocket protocol (a WsVenue)
    history_path: str | None = None  # "module:Class" of its REST history client

    @property
    def raw_table(self) -> str:
        """The venue's raw Iceberg table."""
        return f"raw_{self.name}_trades"

    def decoder(self) -> VenueDecoder:
        """The venue's per-frame decoder module (the judge of every reject)."""
        return _load(self.decoder_path)

    def columnar(self) -> ColumnarVenue | None:
        """The venue's msgspec columnar spec, or None when it has none."""
        return None if self.columnar_path is None else _load(self.columnar_path)

    def ws_class(self) -> Any:
        """The venue's websocket protocol class; :class:`UsageError` when it has none."""
        return _load(self._required(self.ws_path, "websocket"))

    def history_class(self) -> Any:
        """The venue's REST history client class; :class:`UsageError` when it has none."""
        return _load(self._required(self.history_path, "REST history"))

    def _required(self, path: str | None, what: str) -> str:
        if path is None:
            raise UsageError(f"venue {self.name!r} has no {what} client")
        return path


def _load(path: str) -> Any:
    """The object at ``module`` or ``module:attribute`` (modules cache their own imports)."""
    module, _, attribute = path.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def _builtin(name: str, stream: str, time: str, dictionary: tuple[str, ...]) -> VenueSpec:
    """A product venue: its parts live in the modules named after it in each layer."""
    title = name.capitalize()
    return VenueSpec(
        name,
        decoder_path=f"schemahub.decode.{name}",
        stream_field=stream,
        time_field=time,
        columnar_path=f"schemahub.decode.batch_venues:{name.upper()}",
        native=True,
        dictionary_columns=dictionary,
        ws_path=f"schemahub.venues.{name}:{title}Ws",
        history_path=f"schemahub.venues.{name}:{title}History",
    )


_BUILTIN = (
    _builtin("binance", "symbol", "trade_time", ("symbol",)),
    _builtin("coinbase", "product_id", "time", ("product_id", "side")),
    _builtin("kraken", "symbol", "timestamp", ("symbol", "side", "ord_type")),
)
BUILTIN_NAMES: tuple[str, ...] = tuple(spec.name for spec in _BUILTIN)
_REGISTRY: dict[str, VenueSpec] = {spec.name: spec for spec in _BUILTIN}


def register(spec: VenueSpec) -> None:
    """Add ``spec``; :class:`UsageError` if its name is taken by another description."""
    known = _REGISTRY.get(spec.name)
    if known is not None and known != spec:
        raise UsageError(f"venue {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec


def unregister(name: str) -> None:
    """Remove venue ``name`` (a test's own venue); the product venues stay."""
    if name in BUILTIN_NAMES:
        raise UsageError(f"venue {name!r} is a product venue and cannot be removed")
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered venue, in registration order."""
    return tuple(_REGISTRY)


def venue(name: str) -> VenueSpec:
    """The description of ``name``; :class:`UsageError` naming the valid venues otherwise."""
    spec = _REGISTRY.get(name)
    if spec is None:
        raise UsageError(f"unknown venue {name!r}; expected one of {', '.join(_REGISTRY)}")
    return spec


class _View(Mapping[str, str]):
    """A read-only mapping computed from the registry at each lookup (so a venue registered
    later is seen by modules that bound the mapping at import)."""

    def __init__(self, key: str, value: str) -> None:
        self._key, self._value = key, value

    def _items(self) -> dict[str, str]:
        return {getattr(s, self._key): getattr(s, self._value) for s in _REGISTRY.values()}

    def __getitem__(self, key: str) -> str:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return repr(self._items())


STREAM_FIELDS: Mapping[str, str] = _View("name", "stream_field")  # venue -> stream column
RAW_TABLES: Mapping[str, str] = _View("name", "raw_table")  # venue -> raw table
RAW_TABLE_VENUES: Mapping[str, str] = _View("raw_table", "name")  # raw table -> venue
