"""axe-core finds nothing on the pages this work added or changed: the accessibility statement, the audit log
with its filters, the recordings list, and the confirmation page for removing a right."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.flows import login_page
from tests.browser_support import axe_violations, launch
from tests.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
async def chromium(camera_y4m: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await launch(pw, camera_y4m)
        yield browser
        await browser.close()


async def test_statement_audit_recordings_and_confirmation_pass_axe(server: LiveServer, chromium: Browser) -> None:
    page = await chromium.new_page(bypass_csp=True, locale="nb-NO")  # axe-core is injected as a script
    await page.goto(f"{server.url}/tilgjengelighet")
    assert await axe_violations(page) == []
    await page.goto(f"{server.url}/tilgjengelighet?lang=en")
    assert await axe_violations(page) == []
    for path in ("/tilgjengelighet?lang=nn", "/?lang=nn"):  # nynorsk, and the language switch with three links
        await page.goto(server.url + path)
        assert await page.get_attribute("html", "lang") == "nn"
        assert await page.locator(".language-switch a[aria-current='true']").get_attribute("hreflang") == "nn"
        assert await axe_violations(page) == []

    await login_page(page, server.url, "Pia Personvern")
    await page.goto(f"{server.url}/staff/audit?lang=nb")
    assert await axe_violations(page) == []
    await page.goto(f"{server.url}/staff/audit?from=nonsense")  # the error state
    assert await axe_violations(page) == []
    await page.goto(f"{server.url}/staff/recordings")
    assert await axe_violations(page) == []

    other = await chromium.new_page(bypass_csp=True, locale="nb-NO")
    await login_page(other, server.url, "Tor Tilgang")
    await other.goto(f"{server.url}/staff/access")
    await other.click("a:has-text('Fjern tilgangen')")
    await other.wait_for_selector("#consequences")
    assert await axe_violations(other) == []
