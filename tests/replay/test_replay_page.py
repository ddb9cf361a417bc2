"""The replay page in headless Chromium: opened from a file (no server, no network), its
slider steps through the ticks. Screenshot kept in build/test-artifacts/replay/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import async_playwright

from schemahub.replay.report import build_report, render_html
from schemahub.replay.window import Window
from schemahub.sim.markets import market
from schemahub.sim.server import DEFAULT_LAGS_MS
from schemahub.sim.tape import GROUND_TRUTH_SCHEMA, Tape
from tests.discrepancy.test_live_page import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, WAIT_MS

pytestmark = pytest.mark.slow
START_MS = 1_707_405_118_000  # 2024-02-08T15:11:58Z


def _report() -> dict:
    tape = Tape([market(v, "BTC") for v in ("binance", "coinbase", "kraken")], 9, START_MS, 20,
                DEFAULT_LAGS_MS)  # fmt: skip
    tape.advance_to(START_MS + 12_000)
    truth = tape.ground_truth().cast(GROUND_TRUTH_SCHEMA)
    start = datetime.fromtimestamp(START_MS / 1000, UTC)
    return build_report("BTC", Window(start, start + timedelta(seconds=12)), truth, None)


async def test_the_replay_slider_moves_through_the_ticks(tmp_path):
    folder = ARTIFACTS.parent / "replay"
    folder.mkdir(parents=True, exist_ok=True)
    report = _report()
    page_file = tmp_path / "replay.html"
    page_file.write_text(render_html(report))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = await browser.new_page(viewport={"width": 1150, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(page_file.as_uri())
        assert await page.get_attribute("#tick", "data-index") == "0"
        last = len(report["timeline"]) - 1
        assert await page.get_attribute("#slider", "max") == str(last)
        await page.fill("#slider", str(last // 2))  # as a user dragging it
        await page.dispatch_event("#slider", "input")
        middle = report["timeline"][last // 2]
        assert middle["ts"][11:26] in await page.text_content("#tick")
        await page.click("#play")
        await page.wait_for_function(
            "n => Number(document.querySelector('#tick').dataset.index) > n",
            arg=last // 2 + 20,
            timeout=WAIT_MS,
        )
        await page.click("#play")  # pause
        await page.screenshot(path=str(folder / "replay_page.png"), full_page=True)
        await browser.close()
    assert errors == []
