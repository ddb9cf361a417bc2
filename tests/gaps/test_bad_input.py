"""Bad input to gaps, gap-fill and run ingest: one clear line, exit 2, nothing fetched."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import yaml

from schemahub.cli import main
from schemahub.jobs.progress import Progress

CASES = [
    (["gaps", "--venue", "nasdaq"], "unknown venue 'nasdaq'; expected one of binance"),
    (
        ["gaps", "--venue", "binance", "--symbol", "DOGEUSDT"],
        "unknown symbol 'DOGEUSDT' of binance",
    ),
    (["gaps", "--audit"], "--audit needs --since"),
    (["gaps", "--since", "2026-12-07T05:00:00Z"], "--since/--until only apply with --audit"),
    (
        ["gap-fill", "--since", "2026-12-07T06:00:00Z", "--until", "2026-12-07T05:00:00Z"],
        "--since 2026-12-07T06:00:00+00:00 is after --until 2026-12-07T05:00:00+00:00",
    ),
    (["gap-fill", "--since", "yesterday"], "--since 'yesterday' is not a time; expected ISO 8601"),
    (
        ["gap-fill", "--venue", "binance", "--symbol", "BTCUSDT", "--from-id", "9", "--to-id", "5"],
        "--from-id 9 is above --to-id 5; expected from <= to",
    ),
    (["gap-fill", "--from-id", "1", "--to-id", "5"], "give --venue and --symbol too"),
    (["gap-fill", "--venue", "binance", "--from-id", "1"], "--from-id and --to-id go together"),
    (["gap-fill", "--venue", "kraken", "--symbol", "BTCUSD"], "unknown symbol 'BTCUSD' of kraken"),
    (["run", "ingest", "binance", "nasdaq"], "unknown venue 'nasdaq'"),
    (["run", "pipeline", "trades_other"], "unknown pipeline target 'trades_other'"),
]


@pytest.mark.parametrize(("argv", "message"), CASES)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    config = tmp_path / "schemahub.yaml"
    config.write_text(yaml.safe_dump({"lake": {"warehouse": str(tmp_path / "warehouse")}}))
    assert main(["--config", str(config), "tables", "init"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("schemahub: error: ") and message in err, err


def test_progress_off_a_terminal_logs_json_lines():
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("schemahub.progress")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        progress = Progress("gap-fill", 1000, unit="ids", stream=io.StringIO())
        progress.advance(400)
        progress.close()
    finally:
        logger.removeHandler(handler)
    (record,) = [r for r in records if r.msg == "gap-fill: finished"]
    assert (record.done, record.total, record.unit) == (400, 1000, "ids")
    assert record.per_second > 0 and record.eta_seconds >= 0


def test_progress_on_a_terminal_draws_a_bar_with_rate():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress("gap-fill", 1000, stream=screen)
    progress.advance(1000)
    progress.close()
    assert "gap-fill" in screen.getvalue() and "1000/1000" in screen.getvalue()
    assert "/s" in screen.getvalue()


def test_the_readme_shows_the_commands_the_tests_run():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for line in (
        "schemahub run ingest binance coinbase kraken",  # test_outage_fill, as written
        "schemahub run pipeline trades_unified",
        "schemahub gaps [--venue V] [--symbol S] [--audit --since T [--until T]]",
        "schemahub gap-fill [--venue V] [--symbol S] [--from-id A --to-id B | --since T --until T]",
    ):
        assert line in readme
