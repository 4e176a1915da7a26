"""axe-core on every page a person can reach by following links, for a stranger and for every demo role.

A crawl, not a list: a new page linked from anywhere is checked without anyone remembering to add it. The call
page itself (a live media page with many states) is walked state by state in ``test_calm_view.py``; join links
are therefore not followed here. Downloads (.ics, .json, .csv) and the identity provider are not pages.
"""

from __future__ import annotations

from collections import deque
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.async_api import Browser, Page

from tests.browser.flows import login_page
from tests.browser.test_dropin import chromium, monday  # noqa: F401 - shared fixtures
from tests.browser_support import axe_violations
from tests.live_server import LiveServer, create_meeting, staff_client

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

PERSONAS = ["Kari Ergo", "Tor Tilgang", "Rita Rådgiver", "Terje Tekniker", "Pia Personvern", "Sverre Senteradmin"]
SKIP_PREFIXES = ("/j/", "/auth/", "/dev-idp", "/static/", "/vendor/", "/logout")
SKIP_SUFFIXES = (".ics", ".json", ".jsonl", ".csv", "/media", "/certificate", ".html")
MAX_PAGES = 40
"""Per persona; the demo set has far fewer distinct pages, so reaching it means the crawl is looping."""


def worth_visiting(base: str, href: str) -> str | None:
    url, _ = urldefrag(href)
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != urlsplit(base).netloc:
        return None
    path = parts.path
    if not path.startswith("/") or path.startswith(SKIP_PREFIXES) or path.endswith(SKIP_SUFFIXES):
        return None
    if "lang=" in parts.query:  # each page in the other languages is checked once, below, not crawled again
        return None
    if "format=" in parts.query:  # exports
        return None
    return path + (f"?{parts.query}" if parts.query else "")


async def crawl(page: Page, base: str, starts: list[str]) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """Every page reachable from ``starts``, each checked with axe in bokmål; found violations by page."""
    seen: set[str] = set()
    queue = deque(starts)
    found: dict[str, list[dict[str, Any]]] = {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        response = await page.goto(base + path)
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        violations = await axe_violations(page)
        if violations:
            found[path] = violations
        for href in await page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            target = worth_visiting(base, href)
            if target is not None and target not in seen:
                queue.append(target)
    assert len(seen) < MAX_PAGES, f"the crawl did not settle: {sorted(seen)}"
    print(f"axe crawl: {len(seen)} pages from {starts[0]}: {sorted(seen)}")
    return found, len(seen)


async def test_every_linked_page_passes_axe_for_everyone(monday: LiveServer, chromium: Browser) -> None:  # noqa: F811
    server = monday
    kari = await staff_client(server)
    try:
        await create_meeting(kari, server, ["bruker", "radgiver"])  # meeting pages to reach from the lists
    finally:
        await kari.close()
    violations: dict[str, dict[str, list[dict[str, Any]]]] = {}
    visited = 0
    context = await chromium.new_context(bypass_csp=True, locale="nb-NO")
    stranger = await context.new_page()
    violations["stranger"], count = await crawl(
        stranger, server.url, ["/", "/brukerpass", "/rom", "/kode", "/teknisk/3"]
    )
    assert count >= 6, count
    for lang in ("nn", "en"):
        for path in ("/", "/brukerpass", "/teknisk/3"):
            await stranger.goto(f"{server.url}{path}?lang={lang}")
            if found := await axe_violations(stranger):
                violations["stranger"][f"{path}?lang={lang}"] = found
    await context.close()
    for name in PERSONAS:
        context = await chromium.new_context(bypass_csp=True, locale="nb-NO")
        page = await context.new_page()
        await login_page(page, server.url, name)
        violations[name], count = await crawl(page, server.url, ["/staff"])
        visited += count
        await context.close()
    assert visited >= 3 * len(PERSONAS), visited  # every role has a menu of pages
    assert not any(violations.values()), {who: v for who, v in violations.items() if v}
