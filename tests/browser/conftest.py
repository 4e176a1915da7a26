from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser_support import launch


@pytest.fixture
async def pages(camera_y4m: Path) -> AsyncIterator[tuple[Page, Page]]:
    """Two Chromium instances (the host's and the user's devices), each with the fake camera, in bokmål."""
    async with async_playwright() as pw:
        browsers = [await launch(pw, camera_y4m), await launch(pw, camera_y4m)]
        first, second = [await b.new_page(locale="nb-NO") for b in browsers]
        yield first, second
        for b in browsers:
            await b.close()
