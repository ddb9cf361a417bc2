"""The live page in headless Chromium (Debian's package, driven by Playwright): its table
updates while the simulator runs, and a venue whose feed is paused is marked stale.

Screenshots are kept in build/test-artifacts/discrepancy/ (or $SCHEMAHUB_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from schemahub.sim import SimConfig, Simulator
from tests.discrepancy.helpers import feed_daemon

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = (
    Path(
        os.environ.get(
            "SCHEMAHUB_TEST_ARTIFACTS", Path(__file__).parents[2] / "build" / "test-artifacts"
        )
    )
    / "discrepancy"
)
WAIT_MS = 30_000  # a hang guard for each wait, not a timing


def _cell(pair: str, venue: str, field: str) -> str:
    return f'section[data-pair="{pair}"] td[data-venue="{venue}"][data-field="{field}"]'


def _header(pair: str, venue: str) -> str:
    return f'section[data-pair="{pair}"] th[data-venue="{venue}"]'


async def test_live_table_updates_and_a_paused_venue_turns_stale(tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with (
        Simulator(SimConfig(seed=51, rate_per_stream=10)) as sim,
        feed_daemon(sim, tmp_path, coalesce_ms=100, stale_after_ms=1500) as (base, _daemon),
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = await browser.new_page(viewport={"width": 1150, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        outside: list[str] = []
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1"))
                else outside.append(r.url)
            ),
        )
        await page.goto(f"{base}/")
        trade_ts = _cell("BTC", "KRAKEN", "trade_ts")
        await page.wait_for_function(
            # the cell shows an en dash (U+2013) until the venue's first trade
            "s => { const c = document.querySelector(s); return c && c.textContent != '\\u2013'; }",
            arg=trade_ts,
            timeout=WAIT_MS,
        )
        first = await page.text_content(trade_ts)
        await page.wait_for_function(
            "([s, v]) => document.querySelector(s).textContent !== v",
            arg=[trade_ts, first],
            timeout=WAIT_MS,
        )
        assert await page.get_attribute(_header("BTC", "KRAKEN"), "class") != "stale"
        assert "bps" in await page.text_content('section[data-pair="BTC"] .spread')
        await page.screenshot(path=str(ARTIFACTS / "live_page.png"), full_page=True)

        sim.mute("kraken")
        await page.wait_for_selector(f"{_header('BTC', 'KRAKEN')}.stale", timeout=WAIT_MS)
        await page.wait_for_selector(f"{_cell('ETH', 'KRAKEN', 'price')}.stale", timeout=WAIT_MS)
        for venue in ("BINANCE", "COINBASE"):
            assert await page.get_attribute(_header("BTC", venue), "class") != "stale"
        assert "stale" in (await page.text_content(_header("BTC", "KRAKEN"))).lower()
        await page.screenshot(path=str(ARTIFACTS / "live_page_stale.png"), full_page=True)

        sim.unmute("kraken")
        await page.wait_for_selector(f"{_header('BTC', 'KRAKEN')}:not(.stale)", timeout=WAIT_MS)
        await browser.close()
    assert errors == [] and outside == []
    assert (ARTIFACTS / "live_page.png").stat().st_size > 10_000
