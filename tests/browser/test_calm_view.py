"""The call page as the citizen sees it on a phone and a tablet, state by state, with axe-core at every state.

One walk per screen size through everything a meeting goes through (preview, lobby, the consent question, the
call, chat, a recording, pause, «Bare lyd», leaving), for the host and the citizen side by side. At each state
both pages are checked with axe-core (WCAG 2.1 A and AA) and the citizen's screen is saved as a PNG under
``test-output/calm/`` (or ``$SAMHANDLING_TEST_OUTPUT``), so a person can look at what the test saw.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import FloatRect, Page, async_playwright

from tests.browser.flows import (
    admit_first,
    confirm_roster,
    is_card,
    login_page,
    open_call,
    wait_for_tile,
    wait_until,
)
from tests.browser_support import axe_violations, decode_png, grab_frame, launch
from tests.live_server import LiveServer, create_meeting, staff_client
from tests.media import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

SCREENS = {"phone": (390, 844), "tablet": (768, 1024)}
STAFF_ONLY = ("#host-lobby", "#record", "#roster-form", "#roster-confirm", "#consent-form")


def output_dir(screen: str) -> Path:
    base = Path(os.environ.get("SAMHANDLING_TEST_OUTPUT") or REPO / "test-output")
    path = base / "calm" / screen
    path.mkdir(parents=True, exist_ok=True)
    return path


class Walk:
    """Checks one state of both pages: axe-core on each, the page's own rules, and a screenshot of the citizen."""

    def __init__(self, screen: str, host: Page, citizen: Page) -> None:
        self.out = output_dir(screen)
        self.height = SCREENS[screen][1]
        self.pages = {"host": host, "citizen": citizen}
        self.violations: dict[str, list[dict[str, Any]]] = {}
        self.count = 0
        (self.out / "axe-violations.json").unlink(missing_ok=True)

    async def state(self, name: str, *who: str) -> None:
        self.count += 1
        shown = "citizen" if "citizen" in who else who[0]
        await self.pages[shown].screenshot(path=str(self.out / f"{self.count:02d}-{name}.png"))
        for role in who:
            page = self.pages[role]
            found = await axe_violations(page)
            if found:
                self.violations[f"{name}/{role}"] = found
                (self.out / "axe-violations.json").write_text(json.dumps(self.violations, indent=1))
            # Toggles say their state in their label only; one live region carries every change.
            assert await page.locator("[aria-pressed]").count() == 0, (name, role)
            assert await page.locator("[aria-live], [role=status]").count() == 1, (name, role)

    async def in_view(self, selector: str) -> FloatRect:
        """The element's box, asserted to lie wholly inside the citizen's first screen (no scrolling)."""
        box = await self.pages["citizen"].locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] >= 0 and box["y"] + box["height"] <= self.height, (selector, box)
        return box


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_the_citizens_calm_view_and_axe_at_every_state(server: LiveServer, camera_y4m: Path, screen: str) -> None:
    width, height = SCREENS[screen]
    kari = await staff_client(server)
    try:
        links = await create_meeting(kari, server, ["bruker"])
    finally:
        await kari.close()
    async with async_playwright() as pw:
        browsers = [await launch(pw, camera_y4m), await launch(pw, camera_y4m)]
        options: dict[str, Any] = {"locale": "nb-NO", "viewport": {"width": width, "height": height}}
        # axe-core is injected as a script, which the page's CSP forbids
        host, citizen = [await b.new_page(bypass_csp=True, **options) for b in browsers]
        walk = Walk(screen, host, citizen)

        # The preview shows the own processed view before «Bli med»: frames, not an empty box.
        await login_page(host, server.url)
        await open_call(host, links["host"])
        await open_call(citizen, links["bruker"])
        await wait_until(citizen, "window.samhandling.frames.get(document.getElementById('self-view')) > 0", 10)
        assert await citizen.inner_text(".self .gate-label") != "Kameraet starter …"
        # ... and the camera itself, on this device only: a real picture (the fake camera's video), not a card.
        png = await grab_frame(citizen, "#local-preview")
        assert png is not None and not is_card(decode_png(png)), "no camera picture before joining"
        assert "bare du ser dette" in (await citizen.inner_text("#local-caption")).lower()
        # Both pictures and «Bli med» on the first screen: nothing to scroll for before joining.
        for selector in ("#local-preview", "#self-view", "#enter"):
            await walk.in_view(selector)
        names = await citizen.evaluate(
            "[...document.querySelectorAll('[role=toolbar], section.stage')].map(e => e.getAttribute('aria-label'))"
        )
        assert len(names) == 2 and all(names) and names[0] != names[1]  # the toolbar and the video, told apart
        await walk.state("preview", "host", "citizen")

        await host.click("#enter")
        await wait_until(host, "window.samhandling.state === 'in-call'")
        await citizen.click("#enter")
        await wait_until(citizen, "window.samhandling.state === 'lobby'")
        await host.wait_for_selector("#lobby-list li")
        await walk.state("lobby", "host", "citizen")

        # In the call, the one thing to do comes first: a plain question at the top, answered Ja/Nei.
        await admit_first(host, citizen)
        await confirm_roster(host)
        await citizen.wait_for_selector("#consent-ask:not([hidden])", timeout=10_000)
        assert await citizen.inner_text("#ask-q") == "Vil du at de ser og hører deg?"
        assert await citizen.inner_text("#ask-help") == "Ansiktet ditt blir alltid gjort ugjenkjennelig."
        for selector in ("#consent-ask", "#ask-yes", "#ask-no"):
            box = await walk.in_view(selector)
        assert box["height"] >= 48 and box["width"] >= 96
        for selector in STAFF_ONLY:
            assert await citizen.is_hidden(selector), selector
        await walk.state("consent-question", "host", "citizen")

        await citizen.click("#ask-yes")
        await citizen.wait_for_selector("#ask-q:has-text('tatt opp')", timeout=10_000)  # then, on its own, «Opptak»
        await walk.in_view("#ask-yes")
        await walk.state("recording-question", "citizen")
        await citizen.click("#ask-yes")
        await citizen.wait_for_selector("#consent-ask", state="hidden", timeout=10_000)
        await wait_for_tile(host, card=False, timeout=10)
        pause = await walk.in_view("#pause")  # the big Pause button without scrolling
        assert pause["height"] >= 56 and await citizen.inner_text("#pause") == "Pause"
        consented = await citizen.inner_text("#consent-state")
        assert all(scope in consented for scope in ("Video", "Lyd", "Opptak")), consented
        await walk.state("in-call", "host", "citizen")

        for page, text in ((host, "Hei, ser du meg?"), (citizen, "Ja, jeg ser deg")):
            await page.fill("#chat-input", text)
            await page.click("#chat-form button")
        await host.wait_for_selector("#chat-log li:has-text('Ja, jeg ser deg')", timeout=5_000)
        await citizen.wait_for_selector("#chat-log li:has-text('Hei, ser du meg?')", timeout=5_000)
        await citizen.locator("#chat-log").scroll_into_view_if_needed()
        await walk.state("chat", "host", "citizen")
        await citizen.evaluate("window.scrollTo(0, 0)")

        await host.fill("#record-reason", "Dokumentere sittestilling")
        await host.click("#record-start")
        await citizen.wait_for_selector("#recording-banner:not([hidden])", timeout=15_000)
        await walk.in_view("#recording-banner")
        await walk.state("recording", "host", "citizen")
        await host.click("#record-stop")
        await citizen.wait_for_selector("#recording-banner", state="hidden", timeout=15_000)

        await citizen.click("#pause")
        # (the status line is shared by every announcement, so a later one may already have replaced «Du er på pause»)
        await wait_until(citizen, "document.getElementById('pause').textContent === 'Fortsett'", 10)
        assert await citizen.inner_text(".self .gate-label") == "Pause"
        await walk.in_view("#pause")
        await walk.state("paused", "host", "citizen")
        await citizen.click("#pause")
        await wait_until(citizen, "document.getElementById('pause').textContent === 'Pause'", 5)

        await citizen.click("#audio-only")
        await wait_until(citizen, "document.getElementById('audio-only').textContent === 'Slå på video igjen'", 5)
        await walk.state("audio-only", "host", "citizen")

        await citizen.click("#leave")
        await wait_until(host, "window.samhandling.tiles.every(t => t.fig.hidden)", 10)
        assert await citizen.is_visible("#rejoin")
        await walk.state("left", "host", "citizen")
        await host.click("#leave")
        await wait_until(host, "window.samhandling.state === 'ended'")
        await walk.state("host-ended", "host")
        assert await citizen.evaluate("window.samhandling.errors") == []
        for b in browsers:
            await b.close()
    assert walk.violations == {}
