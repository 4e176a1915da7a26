"""Issue 16 item 3 in Chromium: a Brukerpass holder on a phone gets in with the centre's code, is refused a
fødselsnummer next to the field, asks for a meeting, and joins it as the citizen once the centre has agreed a
time. Every page passes axe-core, on a phone viewport, in bokmål and nynorsk."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from session.planning.plan import OSLO
from tests.browser.flows import login_page
from tests.browser.test_dropin import chromium, monday, page_of  # noqa: F401 - shared fixtures
from tests.browser_support import axe_violations
from tests.live_server import LiveServer
from tests.planning.identity_numbers import FODSELSNUMMER
from tests.planning_web.support import MONDAY_10

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]
OUT = Path(os.environ.get("SAMHANDLING_TEST_OUTPUT") or Path(__file__).parents[2] / "test-output") / "brukerpass"


async def checked(page: Page, name: str) -> None:
    """axe-core with no violations, and a screenshot for people to look at."""
    assert await axe_violations(page) == [], name
    OUT.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


async def test_a_holder_on_a_phone_asks_for_a_meeting_and_joins_it(
    monday: LiveServer,  # noqa: F811
    chromium: Browser,  # noqa: F811
) -> None:
    server = monday
    centre = await page_of(chromium)
    await login_page(centre, server.url, "Terje Tekniker")
    await centre.goto(f"{server.url}/staff/brukerpass")
    await checked(centre, "01-centre-empty")
    await centre.fill("#reference", "BP-2025-113")
    await centre.click("#bp-issue")
    code = (await centre.inner_text("#bp-code")).strip()
    await checked(centre, "02-centre-code-shown")

    holder = await chromium.new_page(bypass_csp=True, locale="nb-NO", viewport={"width": 390, "height": 844})
    await holder.goto(f"{server.url}/brukerpass")
    await checked(holder, "03-holder-entry")
    await holder.fill("#code", "feil-kode-her")
    await holder.click("#bp-code-submit")
    assert "12 tegn" in await holder.inner_text("#bp-error")
    await checked(holder, "04-holder-wrong-code")
    await holder.fill("#code", code.lower().replace("-", " "))
    await holder.click("#bp-code-submit")
    await holder.wait_for_url("**/brukerpass/hjem")
    await checked(holder, "05-holder-home")

    await holder.fill("#topic", f"Rullestolen trekker, fnr {FODSELSNUMMER}")
    await holder.fill("#serial", "SN-4471")
    await holder.click("#bp-ask-submit")
    error = holder.locator("#err-topic")
    assert "fødselsnummer" in await error.inner_text()
    assert await holder.get_attribute("#topic", "aria-invalid") == "true"
    assert await holder.input_value("#serial") == "SN-4471"
    await checked(holder, "06-holder-identity-refused")
    await holder.fill("#topic", "Rullestolen trekker til venstre")
    await holder.click("#bp-ask-submit")
    await holder.wait_for_url("**/brukerpass/hjem?sendt=1")
    await checked(holder, "07-holder-request-sent")

    await centre.goto(f"{server.url}/staff/brukerpass")
    starts = (MONDAY_10 + timedelta(minutes=10)).astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")
    await centre.fill("input[type=datetime-local]", starts)
    await centre.click("text=Avtal tid")
    await centre.wait_for_url("**/staff/brukerpass")
    await checked(centre, "08-centre-agreed")

    await holder.goto(f"{server.url}/brukerpass/hjem?lang=nn")
    assert "Brukarpasset ditt" in await holder.inner_text("h1")
    await checked(holder, "09-holder-home-nynorsk")
    await holder.click("#bp-requests button")
    await holder.wait_for_url("**/j/**")
    call = holder.locator("#call")
    assert await call.get_attribute("data-role") == "bruker" and await call.get_attribute("data-calm") == "true"
    await holder.wait_for_selector("#enter:not([disabled])", timeout=30_000)
    await checked(holder, "10-holder-call-preview")
