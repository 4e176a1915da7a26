"""The accessibility statement exists in uustatus' structure and every page's footer links to it."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.live_server import LiveServer, create_meeting, staff_client

pytestmark = pytest.mark.timeout(60)
FOOTER = '<footer class="site-footer">'


async def test_the_statement_has_the_parts_uustatus_asks_for(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as anyone:
        for path, lang in (("/tilgjengelighet", "nb"), ("/accessibility?lang=en", "en")):
            async with anyone.get(server.url + path) as resp:
                assert resp.status == 200
                page = await resp.text()
            assert f'<html lang="{lang}">' in page
            headings = re.findall(r'<h2 id="(a11y-[a-z]+)"', page)
            assert headings == ["a11y-status", "a11y-gaps", "a11y-how", "a11y-report"]
            assert re.findall(r'data-criterion="([0-9.]+)"', page) == ["1.2.4", "1.2.2", "1.2.5", "3.1.2"]
            assert "https://www.uutilsynet.no/" in page and '<time datetime="' in page


async def test_every_page_links_to_the_statement(server: LiveServer) -> None:
    kari = await staff_client(server, 1)
    try:
        links = await create_meeting(kari, server, ["bruker"])
        async with aiohttp.ClientSession() as anyone:
            for client, url in (
                (anyone, f"{server.url}/"),
                (anyone, f"{server.url}/kode"),
                (anyone, links["bruker"]),
                (kari, f"{server.url}/staff"),
                (kari, f"{server.url}/staff/recordings"),
            ):
                async with client.get(url) as resp:
                    page = await resp.text()
                assert FOOTER in page and 'href="/tilgjengelighet"' in page, url
    finally:
        await kari.close()
