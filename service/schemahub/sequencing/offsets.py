"""Stream offsets as Iceberg snapshot summary properties (invariant 2: offsets live with data).

All streams go in one property, ``schemahub.offsets.v1``, whose value is compact JSON::

    {"binance": {"BTCUSDT": [high_water, gaps, lost, owed]}, "coinbase": {...}}

``gaps`` and ``lost`` are flat lists of deltas: for each inclusive range ``(lo, hi)``, ``lo``
minus the previous range's ``hi`` (0 before the first) then ``hi - lo``. ``owed`` is
``[owed_since_ms]`` or ``[owed_since_ms, owed_below]`` for a stream owed from a time whose first
id is not known yet (see ``sequencer.py``). Trailing empty lists are left out. Snapshot
summaries are kept in the table metadata for every retained snapshot, so size matters: a value
longer than ``COMPRESS_ABOVE`` characters is stored zlib-compressed as ``"z:" + base64``. The
version lives in the property name; a reader meets a newer one loudly.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from schemahub.errors import OffsetsError
from schemahub.sequencing.ranges import Range, is_int
from schemahub.sequencing.sequencer import StreamKey, StreamState

OFFSETS_PROPERTY = "schemahub.offsets.v1"
_PREFIX = "schemahub.offsets."
_ZLIB = "z:"
COMPRESS_ABOVE = 1024


def encode_offsets(states: Mapping[tuple[str, str], StreamState]) -> dict[str, str]:
    """The snapshot properties that record ``states`` (one property, see the module doc)."""
    tree: dict[str, dict[str, list[Any]]] = {}
    for (exchange, symbol), state in sorted(states.items()):
        entry: list[Any] = [
            state.high_water,
            _flatten(state.gaps),
            _flatten(state.lost),
            _owed(state),
        ]
        while len(entry) > 1 and not entry[-1]:
            entry.pop()
        tree.setdefault(exchange, {})[symbol] = entry
    text = orjson.dumps(tree).decode()
    if len(text) > COMPRESS_ABOVE:
        text = _ZLIB + base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    return {OFFSETS_PROPERTY: text}


def decode_offsets(props: Mapping[str, str]) -> dict[StreamKey, StreamState]:
    """The stream states recorded in snapshot properties; empty when there are none.

    Raises :class:`OffsetsError` when the value is corrupt or only a newer format is present.
    """
    text = props.get(OFFSETS_PROPERTY)
    if text is None:
        newer = sorted(k for k in props if k.startswith(_PREFIX))
        if newer:
            raise OffsetsError(
                f"stream offsets are in {newer[0]!r}, a format this version cannot read "
                f"(it reads {OFFSETS_PROPERTY!r})"
            )
        return {}
    tree = _parse(text)
    states: dict[StreamKey, StreamState] = {}
    for exchange, symbols in tree.items():
        if not isinstance(symbols, dict):
            raise _corrupt(f"exchange {exchange!r} maps to {type(symbols).__name__}, not object")
        for symbol, entry in symbols.items():
            key = StreamKey(exchange, symbol)
            state = _state(key, entry)
            why = state.problem()
            if why:
                raise _corrupt(f"stream {exchange}/{symbol}: {why}")
            states[key] = state
    return states


def _owed(state: StreamState) -> list[int]:
    if state.owed_since is None:
        return []
    since_ms = round(state.owed_since * 1000)  # what decoding reads back encodes the same
    return [since_ms] if state.owed_below is None else [since_ms, state.owed_below]


def _unowed(key: StreamKey, owed: Any) -> tuple[float | None, int | None]:
    if not isinstance(owed, list) or not 1 <= len(owed) <= 2 or not all(is_int(v) for v in owed):
        raise _corrupt(
            f"stream {key.exchange}/{key.symbol}: owed must be [since_ms] or "
            f"[since_ms, below], got {owed!r:.80}"
        )
    return owed[0] / 1000, owed[1] if len(owed) == 2 else None


def _flatten(rngs: tuple[Range, ...]) -> list[int]:
    flat: list[int] = []
    prev = 0
    for lo, hi in rngs:
        flat += (lo - prev, hi - lo)
        prev = hi
    return flat


def _unflatten(key: StreamKey, flat: Any) -> tuple[Range, ...]:
    if not isinstance(flat, list) or len(flat) % 2 or not all(is_int(v) for v in flat):
        raise _corrupt(
            f"stream {key.exchange}/{key.symbol}: ranges must be an even-length list "
            f"of integers, got {flat!r:.80}"
        )
    out: list[Range] = []
    prev = 0
    for i in range(0, len(flat), 2):
        lo = prev + flat[i]
        prev = lo + flat[i + 1]
        out.append((lo, prev))
    return tuple(out)


def _state(key: StreamKey, entry: Any) -> StreamState:
    if not isinstance(entry, list) or not 1 <= len(entry) <= 4:
        raise _corrupt(
            f"stream {key.exchange}/{key.symbol}: expected [high_water, gaps?, "
            f"lost?, owed?], got {entry!r:.80}"
        )
    hw = entry[0]
    if hw is not None and not is_int(hw):
        raise _corrupt(f"stream {key.exchange}/{key.symbol}: high_water {hw!r} is not an integer")
    gaps = _unflatten(key, entry[1]) if len(entry) > 1 else ()
    lost = _unflatten(key, entry[2]) if len(entry) > 2 else ()
    owed_since, owed_below = _unowed(key, entry[3]) if len(entry) > 3 else (None, None)
    return StreamState(hw, gaps, lost, owed_since, owed_below)


def _parse(text: str) -> dict[str, Any]:
    try:
        if text.startswith(_ZLIB):
            tree = orjson.loads(
                zlib.decompress(base64.b64decode(text[len(_ZLIB) :], validate=True))
            )
        else:
            tree = orjson.loads(text)
    except (binascii.Error, zlib.error, orjson.JSONDecodeError) as exc:
        raise _corrupt(f"cannot parse the value ({exc}); starts with {text[:40]!r}") from exc
    if not isinstance(tree, dict):
        raise _corrupt(f"expected a JSON object of exchanges, got {type(tree).__name__}")
    return tree


def _corrupt(why: str) -> OffsetsError:
    return OffsetsError(f"snapshot property {OFFSETS_PROPERTY} is corrupt: {why}")
