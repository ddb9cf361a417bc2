"""`schemahub maintain` through the command line: what it prints, and bad input."""

from __future__ import annotations

import pytest

from schemahub.cli import main
from schemahub.lake import UNIFIED_TABLE, Lake
from tests.lake.lakerows import append_commits, day_start


def test_maintain_prints_per_partition_files_and_bytes_and_the_time(cli_lake: Lake, capsys):
    append_commits(cli_lake, 4, 10, day_start(2))
    append_commits(cli_lake, 2, 10, day_start(0), first_id=1_000)

    assert main(["maintain", "--table", UNIFIED_TABLE]) == 0
    lines = capsys.readouterr().out.splitlines()

    compacted = [line for line in lines if "trade_ts_day=" in line]
    assert len(compacted) == 1  # today's partition is within the one-day horizon
    assert ": 4 files " in compacted[0] and "-> 1 files" in compacted[0]
    assert "(compacted, 40 rows" in compacted[0]
    assert any("snapshots expired" in line and "orphan files deleted" in line for line in lines)
    assert lines[-1].startswith("done in ")
    assert len(list(cli_lake.table(UNIFIED_TABLE).scan().plan_files())) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["maintain", "--horizon", "soon"], "--horizon 'soon' is not a duration"),
        (["maintain", "--table", "trades"], "--table 'trades' is not a SchemaHub table"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli_lake: Lake, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
