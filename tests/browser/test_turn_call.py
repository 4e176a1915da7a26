"""A call between two headless Chromiums through a real coturn, with ``iceTransportPolicy: relay``.

The server hands each browser a fresh time-limited credential (coturn's ``use-auth-secret``) in its ``config``
message; browsers and server both gather relay candidates only, so media can reach either side only through
coturn. That is proved three ways: the video arrives, each browser's selected candidate pair is a relay pair on
coturn's relay ports, and coturn's own log shows the allocations of exactly those credentials. A browser handed
an expired credential gets no allocation from coturn and no media.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser.flows import login_page, open_call, start_meeting, wait_until
from tests.browser_support import launch
from tests.coturn import Coturn, needs_coturn
from tests.live_server import LiveServer, links_for, server_settings, start_server
from web.settings import Secret

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240), needs_coturn]

TTL_S = 3600

SELECTED_PAIR_JS = """async () => {
  const pc = window.samhandling.pc;
  if (!pc || pc.connectionState !== 'connected') return null;
  const stats = new Map();
  (await pc.getStats()).forEach(s => stats.set(s.id, s));
  let pair = null;
  for (const s of stats.values()) {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  }
  if (!pair) {
    for (const s of stats.values()) {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    }
  }
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return {
    local: {type: local.candidateType, address: local.address, port: local.port, protocol: local.relayProtocol,
            url: local.url},
    remote: {type: remote.candidateType, address: remote.address, port: remote.port},
    bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived,
  };
}"""

LOCAL_CANDIDATES_JS = """async () => {
  const pc = window.samhandling.pc;
  if (!pc) return null;
  const types = [];
  (await pc.getStats()).forEach(s => { if (s.type === 'local-candidate') types.push(s.candidateType); });
  return {gathering: pc.iceGatheringState, connection: pc.connectionState, types};
}"""


async def turn_server(coturn: Coturn, data_dir: Path, ttl_s: int) -> LiveServer:
    """The real server with TURN only: coturn's URL and shared secret, relay candidates for browsers and itself."""
    settings = server_settings(
        data_dir,
        turn_urls=(coturn.url,),
        turn_secret=Secret(coturn.secret),
        turn_ttl_s=ttl_s,
        ice_transport_policy="relay",
    )
    return await start_server(settings)


@pytest.fixture
async def turn_call_server(coturn: Coturn, tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = await turn_server(coturn, tmp_path / "data", TTL_S)
    yield live
    await live.stop()


async def turn_username(page: Page) -> str:
    """The TURN username the server gave this page in its ``config`` message (``<expiry>:<id>``)."""
    servers: list[dict[str, Any]] = await page.evaluate("window.samhandling.iceServers")
    (turn,) = [s for s in servers if s.get("username")]
    return str(turn["username"])


async def selected_pair(page: Page, timeout: float = 30.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (pair := await page.evaluate(SELECTED_PAIR_JS)) is None:
        if loop.time() > deadline:
            raise AssertionError(f"no selected candidate pair within {timeout} s")
        await asyncio.sleep(0.2)
    result: dict[str, Any] = pair
    return result


REMOTE_FRAMES_JS = """Math.min(...window.samhandling.tiles.filter(t => !t.fig.hidden)
  .map(t => window.samhandling.frames.get(t.video) || 0))"""


async def wait_for_remote_frames(page: Page, count: int, timeout: float = 30.0) -> None:
    """Until every visible remote tile has presented ``count`` more frames (the other person's live video)."""
    await page.wait_for_selector(".tile:not([hidden])", timeout=timeout * 1000)
    before = int(await page.evaluate(REMOTE_FRAMES_JS))
    await wait_until(page, f"{REMOTE_FRAMES_JS} >= {before + count}", timeout)


async def test_two_browsers_call_through_coturn_with_time_limited_credentials(
    turn_call_server: LiveServer, coturn: Coturn, pages: tuple[Page, Page]
) -> None:
    server = turn_call_server
    host_page, user_page = pages
    links = await links_for(server, ["bruker"])
    await start_meeting(host_page, user_page, links["host"], links["bruker"])
    for page in (host_page, user_page):
        await wait_for_remote_frames(page, 15)  # each sees the other's video

    usernames = []
    for page in (host_page, user_page):
        assert await page.evaluate("window.samhandling.iceTransportPolicy") == "relay"
        username = await turn_username(page)
        expiry, ident = username.split(":")
        assert TTL_S - 120 < int(expiry) - time.time() <= TTL_S, "the credential does not expire after the TTL"
        assert ident and all(ident not in link for link in links.values())
        usernames.append(username)

        pair = await selected_pair(page)
        local, remote = pair["local"], pair["remote"]
        assert local["type"] == "relay" and local["protocol"] == "udp", pair
        assert local["address"] == "127.0.0.1" and local["port"] in coturn.relay_ports, pair
        assert remote["type"] == "relay" and remote["port"] in coturn.relay_ports, pair  # the server's side too
        assert pair["bytesReceived"] > 50_000 and pair["bytesSent"] > 50_000, pair
    assert usernames[0] != usernames[1], "one credential per connection"

    log = coturn.log_text()
    for username in usernames:
        assert f"user <{username}>: incoming packet ALLOCATE processed, success" in log
    # coturn's own count: both leave, Chromium gives back its allocations, and coturn logs what it relayed. The
    # peer connection is closed first: a closing page alone does not always make Chromium give back the allocation
    # that carried the media (on a machine with more interfaces than loopback it was left to time out).
    for page in (host_page, user_page):
        await page.evaluate("window.samhandling.pc.close()")
        await page.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (relayed := [min(coturn.peer_bytes(u)) for u in usernames]) and min(relayed) < 50_000:
        if loop.time() > deadline:
            raise AssertionError(f"coturn relayed too little for the browsers: {relayed} bytes")
        await asyncio.sleep(0.2)


@pytest.fixture
async def page(camera_y4m: Path) -> AsyncIterator[Page]:
    """One Chromium with the fake camera (the host's device), in bokmål."""
    async with async_playwright() as pw:
        browser = await launch(pw, camera_y4m)
        yield await browser.new_page(locale="nb-NO")
        await browser.close()


async def test_a_browser_with_an_expired_credential_gets_no_relay_and_no_media(
    coturn: Coturn, page: Page, tmp_path: Path
) -> None:
    """The browser's own TURN allocation is refused (its candidates, coturn's log); nothing reaches it."""
    # A TTL below zero makes every credential the server mints already expired, as a stale one would be
    # (settings from the environment cannot do this: the TTL there is at least a minute).
    server = await turn_server(coturn, tmp_path / "data", -60)
    try:
        links = await links_for(server, ["bruker"])
        await login_page(page, server.url)
        await open_call(page, links["host"])
        username = await turn_username(page)
        assert int(username.split(":")[0]) < time.time()
        await wait_until(page, "window.samhandling.pc && window.samhandling.pc.iceGatheringState === 'complete'", 30)
        gathered = await page.evaluate(LOCAL_CANDIDATES_JS)
        assert gathered is not None and gathered["types"] == [], gathered  # no relay candidate: no allocation
        await asyncio.sleep(5)  # the fresh-credential call above has live video well within this time
        assert await page.evaluate("window.samhandling.frames.get(document.getElementById('self-view')) || 0") == 0
        assert await page.evaluate("window.samhandling.pc?.connectionState") != "connected"
        log = coturn.log_text()
        assert f"user <{username}>: incoming packet message processed, error 401" in log  # coturn refused it
        assert f"user <{username}>: incoming packet ALLOCATE processed, success" not in log
    finally:
        await server.stop()
