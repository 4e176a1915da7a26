"""Issue 7 in Chromium: two callers queue at the technical department and a technician takes them in order;
a meeting is planned and its pre-call check shows the processed preview, the microphone level, the round trip
and a lighting verdict. Every page passes axe-core."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.flows import login_page, wait_until
from tests.browser_support import axe_violations, launch
from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, server_settings, start_server
from tests.planning_web.support import CENTRE, MONDAY_10

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(90)]
SHOTS = os.environ.get("SAMHANDLING_SCREENSHOTS")
"""A folder to save screenshots of the pages in (for people reviewing the layout); unset in CI."""


@pytest.fixture
async def monday(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server whose clock says Monday 10.00 in Oslo, when the drop-in is open."""
    live = await start_server(server_settings(tmp_path / "data"), clock=FakeClock(MONDAY_10))
    yield live
    await live.stop()


@pytest.fixture
async def chromium(camera_y4m: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await launch(pw, camera_y4m)
        yield browser
        await browser.close()


async def page_of(browser: Browser) -> Page:
    """A page in its own context (own cookies, as a separate device); CSP bypassed so axe-core can be injected."""
    return await browser.new_page(bypass_csp=True, locale="nb-NO", viewport={"width": 1024, "height": 900})


async def accessible(page: Page, name: str) -> None:
    assert await axe_violations(page) == [], name
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def queue_up(page: Page, server: LiveServer, role: str) -> None:
    await page.goto(f"{server.url}/teknisk/{CENTRE}")
    await page.check(f"#role-{role}")
    await page.click("#join-queue")
    await page.wait_for_url("**/ko/**")


async def test_two_callers_queue_and_the_technician_takes_them_in_order(monday: LiveServer, chromium: Browser) -> None:
    first, second, technician = await page_of(chromium), await page_of(chromium), await page_of(chromium)
    await first.goto(f"{monday.url}/teknisk/{CENTRE}")
    await accessible(first, "dropin-open")
    await queue_up(first, monday, "bruker")
    await queue_up(second, monday, "leverandor")
    assert "Du er nummer 1 i køen" in await first.inner_text("#queue-status")
    assert "Du er nummer 2 i køen" in await second.inner_text("#queue-status")
    await accessible(second, "dropin-waiting")

    await login_page(technician, monday.url, "Terje Tekniker")
    await technician.goto(f"{monday.url}/staff/dropin/teknisk/{CENTRE}")
    assert await technician.locator("#queue-list li").all_inner_texts() == [
        "Bruker har ventet 0 min",
        "Leverandør har ventet 0 min",
    ]
    await accessible(technician, "dropin-technician")

    await technician.click("#take-next")
    await technician.wait_for_url("**/j/**")
    await first.wait_for_url("**/j/**", timeout=10_000)  # the caller's next poll hands the link over
    assert "Bruker" in await first.inner_text(".role-line")
    await wait_until(second, "document.getElementById('queue-status').textContent.includes('nummer 1')", 10)
    assert "/ko/" in second.url
    await first.goto("about:blank")  # no need to keep two calls running on a shared machine

    await technician.goto(f"{monday.url}/staff/dropin/teknisk/{CENTRE}")
    assert await technician.locator("#queue-list li").all_inner_texts() == ["Leverandør har ventet 0 min"]
    await technician.click("#take-next")
    await technician.wait_for_url("**/j/**")
    await second.wait_for_url("**/j/**", timeout=10_000)
    assert "Leverandør" in await second.inner_text(".role-line")
    for page in (first, second, technician):
        await page.context.close()


async def test_planning_and_the_pre_call_check(monday: LiveServer, chromium: Browser) -> None:
    staff, guest = await page_of(chromium), await page_of(chromium)
    await login_page(staff, monday.url)
    await staff.goto(f"{monday.url}/staff/planlegg")
    await accessible(staff, "plan-form")
    await staff.fill("#filming", "Terskelen og dusjsonen, ikke brukeren.")
    await staff.click("button[type=submit]")
    assert "Feltet «Tema» må fylles ut." in await staff.inner_text("#topic-error")
    await accessible(staff, "plan-form-errors")
    await staff.fill("#topic", "Tilgjengelighet på bad")
    await staff.click("button[type=submit]")
    await staff.wait_for_selector("#room-code")
    await accessible(staff, "plan-invitations")
    precheck = await staff.get_attribute("section[data-participant=bruker] a.precheck-link", "href")
    host_check = await staff.get_attribute("section[data-participant=host] a.precheck-link", "href")
    assert precheck and precheck.endswith("/sjekk") and host_check
    await staff.context.close()

    await guest.goto(precheck)
    await wait_until(guest, "window.precheck.previewFrames > 10", 30)
    await wait_until(guest, "window.precheck.rttMs !== null && window.precheck.upMbps !== null", 20)
    await wait_until(guest, "window.precheck.micPeak > 15 && window.precheck.micMoves > 3", 10)
    await wait_until(guest, "window.precheck.lighting !== null", 5)
    check = await guest.evaluate("window.precheck")
    assert check["errors"] == [] and 0 < check["rttMs"] < 1000 and check["downMbps"] > 0
    assert check["previewCard"] is False  # the processed camera picture, not a waiting card
    assert check["lighting"]["verdict"] in ("ok", "dark", "backlight", "bright")
    for result in ("#camera-result", "#light-result", "#mic-result", "#net-result"):
        assert await guest.get_attribute(result, "data-verdict") != "pending", result
        assert await guest.get_attribute(result, "role") == "status"
    assert (await guest.inner_text("#camera-result")).startswith("Bra:")
    assert (await guest.inner_text("#net-rtt")).endswith("ms")
    await accessible(guest, "precheck")

    await guest.goto(host_check)  # a host link is personal: without its owner's login the meeting refuses it
    await wait_until(guest, "document.getElementById('camera-result').dataset.verdict === 'bad'", 10)
    await wait_until(guest, "window.precheck.rttMs !== null", 10)  # the network is still measured
    assert "logge inn" in await guest.inner_text("#camera-result")
    await guest.context.close()
