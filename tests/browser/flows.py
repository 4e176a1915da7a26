"""What people do on the call page, as Playwright steps shared by the browser tests."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import numpy as np
from playwright.async_api import Browser, Page

from privacy.vision.pause_card import BACKGROUND_BGR
from tests.browser_support import decode_png, grab_frame


async def host_and_user(browsers: tuple[Browser, Browser], **options: Any) -> tuple[Page, Page]:
    """The host's page in the first browser and the user's in the second (two devices), in bokmål."""
    return (
        await browsers[0].new_page(locale="nb-NO", **options),
        await browsers[1].new_page(locale="nb-NO", **options),
    )


async def wait_until(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Poll a page expression from outside (``wait_for_function`` needs eval, which the page's CSP forbids)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await page.evaluate(expression):
        if loop.time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        await asyncio.sleep(0.05)


async def open_call(page: Page, link: str) -> None:
    """Open a join link and wait until the preview (own processed view) is running."""
    await page.goto(link)
    await page.wait_for_selector("#enter:not([disabled])", timeout=30_000)


async def login_page(page: Page, base_url: str, name: str = "Kari Ergo") -> None:
    """Staff login in the browser through the development identity provider (OIDC code flow + PKCE)."""
    await page.goto(f"{base_url}/auth/login")
    await page.click(f"button:has-text('Logg inn som {name}')")
    await page.wait_for_url(f"{base_url}/staff**")


async def host_enters(page: Page, link: str) -> None:
    await login_page(page, link.split("/j/")[0])
    await open_call(page, link)
    await page.click("#enter")
    await wait_until(page, "window.samhandling.state === 'in-call'", 10)


async def guest_waits(page: Page, link: str) -> None:
    await open_call(page, link)
    await page.click("#enter")
    await wait_until(page, "window.samhandling.state === 'lobby'", 10)


async def admit_first(host: Page, guest: Page) -> None:
    await host.click("#lobby-list button.ctl--primary")
    await wait_until(guest, "window.samhandling.state === 'in-call'", 10)


async def confirm_roster(host: Page) -> None:
    await host.click("#roster-confirm")
    await wait_until(host, "window.samhandling.roster.confirmed", 5)


async def record_oral_consent(staff: Page, scopes: tuple[str, ...] = ("video", "audio")) -> None:
    await staff.wait_for_selector("#consent:not([hidden])", timeout=10_000)
    for scope in ("video", "audio", "recording", "face_visible"):
        await staff.set_checked(f"#scope-{scope}", scope in scopes)
    await staff.select_option("#consent-purpose", "posisjonering")
    await staff.click("#consent-submit")
    await wait_until(staff, "window.samhandling.lastConsentId !== null", 10)


async def start_meeting(host: Page, user: Page, host_link: str, user_link: str, consent: bool = True) -> None:
    """Host in, user admitted from the lobby, roster confirmed, oral consent recorded."""
    await host_enters(host, host_link)
    await guest_waits(user, user_link)
    await admit_first(host, user)
    await confirm_roster(host)
    if consent:
        await record_oral_consent(host)


def is_card(bgr: np.ndarray) -> bool:
    """A neutral card (pause, waiting): flat background colour, nothing of a camera image."""
    h, w = bgr.shape[:2]
    centre_free = bgr[h // 8 : h // 3, w // 8 : w // 3].reshape(-1, 3).astype(np.float32)
    close = np.abs(centre_free.mean(axis=0) - np.array(BACKGROUND_BGR, np.float32)).max() < 14
    return bool(close and centre_free.std(axis=0).max() < 6)


async def tile_frame(page: Page) -> np.ndarray | None:
    png = await grab_frame(page, ".tile:not([hidden]) video")
    return None if png is None else decode_png(png)


def load_scaled(seconds: float) -> float:
    """A browser-side time bound; on a machine loaded beyond its cores (two Chromiums, the server and the
    anonymizer on a shared 2-core CI runner) the same bound scaled by the load per core, at most 4x. What the
    bound guards (a pause that is not applied, a frozen tile) fails any multiple of it."""
    per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * min(max(per_core, 1.0), 4.0)


async def wait_for_tile(page: Page, card: bool, timeout: float = 5.0) -> float:
    """Seconds until the visible remote tile shows a card (or stops showing one)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < timeout:
        frame = await tile_frame(page)
        if frame is not None and is_card(frame) == card:
            return loop.time() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"the tile did not {'show' if card else 'leave'} the card within {timeout} s")
