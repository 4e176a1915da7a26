"""Recording by exception in a real browser call: refused without consent, encrypted on disk, played back."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page

from tests.browser.flows import record_oral_consent, start_meeting, wait_until
from tests.live_server import LiveServer, create_meeting, staff_client
from web.keys import RECORDS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


async def test_a_consented_recording_is_encrypted_and_plays_back_in_the_browser(
    server: LiveServer, pages: tuple[Page, Page]
) -> None:
    host, user = pages
    kari = await staff_client(server, 1)
    links = await create_meeting(kari, server, ["bruker"])
    await kari.close()
    await start_meeting(host, user, links["host"], links["bruker"])  # consent: video + audio, not recording
    await host.wait_for_selector("#record:not([hidden])")

    await host.fill("#record-reason", "Dokumentere sittestilling for hjelpemiddelsentralen")
    await host.click("#record-start")
    await wait_until(host, "window.samhandling.errors.some(e => e.code === 'not_allowed')", timeout=5)
    assert await user.is_hidden("#recording-banner")

    await record_oral_consent(host, ("video", "audio", "recording"))
    await host.click("#record-start")
    await user.wait_for_selector("#recording-banner:not([hidden])", timeout=10_000)  # everyone sees it
    await asyncio.sleep(4)
    await host.click("#record-stop")
    await user.wait_for_selector("#recording-banner", state="hidden", timeout=10_000)

    files = list((server.settings.data_dir / "recordings").rglob("*"))
    blobs = [f.read_bytes() for f in files if f.is_file()]
    assert blobs and all(b"\x1a\x45\xdf\xa3" not in b and b"webm" not in b for b in blobs)  # no plain WebM

    await host.goto(f"{server.url}/staff/recordings")
    await host.click("#recordings a:has-text('Spill av')")
    await host.wait_for_selector("#player")
    await host.evaluate("document.getElementById('player').muted = true")
    await host.evaluate("document.getElementById('player').play()")
    await wait_until(host, "document.getElementById('player').currentTime > 1", timeout=20)
    size = await host.evaluate(
        "[document.getElementById('player').videoWidth, document.getElementById('player').videoHeight]"
    )
    assert size[0] > 0 and size[1] > 0
    actions = [v.record.action for v in await server.app[RECORDS].audit.entries(org_ids=None, limit=1000)]
    assert {"recording.start", "recording.stop", "recording.access"} <= set(actions)

    await host.click("a:has-text('Slett nå')")  # first a page that says what will happen
    await host.wait_for_selector("#consequences")
    await host.click("button:has-text('Ja, slett opptaket nå')")
    await host.wait_for_selector("#state:has-text('Slettet')", timeout=10_000)
    assert not [f for f in (server.settings.data_dir / "recordings").rglob("*") if f.is_file()]
    await host.click("button:has-text('Bekreft at vi ikke har noen kopi')")
    await host.wait_for_selector("a:has-text('Slettebevis')")
