"""Every staff page, as each demo role sees it, reads in the language chosen: English pages hold no Norwegian
sentence, nynorsk pages no bokmål-only word. A walk over the links of the real pages, so a new page or a new
message that bypasses the catalogues is found without being listed here.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest

from tests.live_server import DEMO_SUBJECTS, LiveServer, create_meeting, server_settings, staff_client, start_server
from web.seed import DEMO_ORGS, DEMO_STAFF

NORWEGIAN_WORDS = re.compile(r"\b(ikke|ikkje|og|eller|må|skal|kan|møtet|velg|vel|fant|fann|du|har|er|til|med)\b", re.I)
"""Words that give away a Norwegian sentence on an English page (data such as names is removed first)."""

BOKMAL_ONLY = re.compile(r"\b(ikke|hva|hvem|hvor|jeg|ble|fra|noen|mye|hjem|møtene|deltakere|bruker|pårørende)\b", re.I)
"""Bokmål forms nynorsk writes otherwise (ikkje, kva, kven, kvar, eg, vart/blei, frå, nokon, mykje, heim…)."""

SKIP = re.compile(r"^/(auth|dev-idp|static|j/|r/)|\.(ics|csv|jsonl|json|webm|js|css)$|format=|/logout|/download")
MAX_PAGES = 40
TOPIC = "Hodestøtte"
DATA = [name for _, _, name, *_ in DEMO_ORGS] + [name for _, name, *_ in DEMO_STAFF] + [TOPIC, "Samhandling"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = await start_server(server_settings(tmp_path / "data"))
    yield live
    await live.stop()


def _visible_text(page: str) -> str:
    """What a reader sees: no scripts, styles, tags, attribute values or the demo data's own names."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    text = html.unescape(page)
    for value in sorted(DATA, key=len, reverse=True):
        text = text.replace(value, " ")
    return re.sub(r"\s+", " ", text)


async def _walk(client: aiohttp.ClientSession, base: str, lang: str) -> dict[str, str]:
    """The visible text of every staff page reachable from /staff by links (GET only), in ``lang``."""
    async with client.get(f"{base}/staff?lang={lang}") as resp:
        assert resp.status == 200
    queue: list[str] = ["/staff"]
    seen: set[str] = set()
    texts: dict[str, str] = {}
    while queue and len(texts) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        async with client.get(f"{base}{path}", allow_redirects=False) as resp:
            if resp.status != 200 or "text/html" not in resp.headers.get("Content-Type", ""):
                continue
            page = await resp.text()
        texts[path] = _visible_text(page)
        for href in re.findall(r'href="([^"#]+)"', page):
            target = urlsplit(urljoin(f"{base}{path}", html.unescape(href)))
            link = target.path + (f"?{target.query}" if target.query else "")
            if target.netloc == urlsplit(base).netloc and not SKIP.search(link) and "lang=" not in link:
                queue.append(link)
    return texts


@pytest.mark.parametrize("staff_id", sorted(set(DEMO_SUBJECTS) - {7}))
async def test_staff_pages_read_in_english_and_nynorsk(server: LiveServer, staff_id: int) -> None:
    client = await staff_client(server, staff_id)
    try:
        if staff_id == 1:
            await create_meeting(client, server, ["bruker"], topic=TOPIC)
        english = await _walk(client, server.url, "en")
        nynorsk = await _walk(client, server.url, "nn")
    finally:
        await client.close()
    assert len(english) >= 2, english.keys()
    norwegian = {path: NORWEGIAN_WORDS.findall(text) for path, text in english.items()}
    assert not {p: w for p, w in norwegian.items() if w}, {p: english[p][:300] for p, w in norwegian.items() if w}
    bokmal = {path: BOKMAL_ONLY.findall(text) for path, text in nynorsk.items()}
    assert not {p: w for p, w in bokmal.items() if w}, {p: nynorsk[p][:300] for p, w in bokmal.items() if w}
