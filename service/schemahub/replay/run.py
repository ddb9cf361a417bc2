"""One replay, from its textual arguments to the report: what the CLI and ``/replay`` share."""

from __future__ import annotations

from schemahub.config import Config
from schemahub.errors import UsageError
from schemahub.lake import UNIFIED_TABLE, Lake
from schemahub.replay.budget import Checkpoint, no_checkpoint
from schemahub.replay.read import members, read_window, snapshot_for
from schemahub.replay.report import build_report
from schemahub.replay.spikes import MAX_SPAN_S, find_spikes
from schemahub.replay.window import Window, iso, parse_at, parse_window


def replay(
    config: Config,
    lake: Lake,
    pair: str,
    at: str,
    window: str,
    as_of: str | None,
    checkpoint: Checkpoint = no_checkpoint,
) -> dict:
    """The report of ``pair`` over ``window`` centred on ``at`` (see :mod:`.report`); a
    UsageError naming the argument for bad input or an empty window. Blocking: run it off the
    event loop. ``checkpoint`` is called between steps and may raise to stop the replay."""
    checkpoint()
    span = Window.around(parse_at(at), parse_window(window))
    streams = members(config.discrepancy, pair)
    table = lake.table(UNIFIED_TABLE)
    snapshot = snapshot_for(table, as_of)
    trades = read_window(table, streams, span, snapshot, checkpoint)
    if not trades.num_rows:
        raise UsageError(
            f"no {pair} trades between {iso(span.start)} and {iso(span.end)}"
            + (f" in snapshot {snapshot}" if snapshot else "")
        )
    return build_report(pair, span, trades, snapshot, checkpoint)


def spikes(config: Config, lake: Lake, pair: str, since: str, until: str, top: int = 5) -> dict:
    """The most extreme seconds of ``pair`` between ``since`` and ``until`` (see
    :mod:`.spikes`)."""
    start, end = parse_at(since, "--since"), parse_at(until, "--until")
    if not 0 < (end - start).total_seconds() <= MAX_SPAN_S:
        raise UsageError(
            f"--since {since!r} --until {until!r}: expected until after since, "
            f"at most {MAX_SPAN_S // 3600} h apart"
        )
    table = lake.table(UNIFIED_TABLE)
    span = Window(start, end)
    trades = read_window(table, members(config.discrepancy, pair), span, None)
    if not trades.num_rows:
        raise UsageError(f"no {pair} trades between {iso(start)} and {iso(end)}")
    return {"pair": pair, "window": span.as_json(), **find_spikes(trades, top)}
