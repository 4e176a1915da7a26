"""The user's network changes mid-call (Wi-Fi to 4G): the page reconnects by itself, the meeting stays whole.

The user's Chromium runs in a network namespace of its own, joined to the host (where the server and the host's
Chromium run) by a veth pair. Mid-call the link goes down, the browser's address is replaced and the link comes
back: the WebSocket and the media connection bound to the old address are dead, and nothing tells the server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.flows import start_meeting, wait_until
from tests.browser.test_rejoin import pid_of, recovery_limit, seconds_until_frames
from tests.browser_network import BrowserNetwork, browser_network
from tests.browser_support import launch
from tests.fakes import WholeFrameObscurer
from tests.live_server import LiveServer, links_for, server_settings, start_server_thread
from web.keys import LIVE, RELAY

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def network() -> Iterator[BrowserNetwork]:
    with browser_network() as net:
        yield net


@pytest.fixture
async def server(tmp_path: Path, network: BrowserNetwork) -> AsyncIterator[LiveServer]:
    """Reachable from the namespace too; its ICE candidates include the host's end of the veth pair (aioice
    gathers the host's addresses for every new peer connection)."""
    live = await start_server_thread(
        server_settings(tmp_path / "data"), processor=WholeFrameObscurer(), also_on=[network.host_ip]
    )
    yield live
    await live.stop()


SEEN_RECONNECTING = """() => {
  window.seenReconnecting = "";
  setInterval(() => {
    const label = document.querySelector(".tile:not([hidden]) .gate-label:not([hidden])");
    if (label && label.textContent.includes("Kobler til igjen")) window.seenReconnecting = label.textContent;
  }, 20);
}"""


def origin_in_namespace(server: LiveServer, network: BrowserNetwork) -> str:
    return f"http://{network.host_ip}:{server.settings.port}"


@pytest.fixture
async def chromium(
    camera_y4m: Path, tmp_path: Path, network: BrowserNetwork, server: LiveServer
) -> AsyncIterator[tuple[Browser, Browser]]:
    """The host's Chromium on the host; the user's inside the namespace (a plain-http origin other than
    localhost, so it is declared secure for the camera)."""
    origin = origin_in_namespace(server, network)
    async with async_playwright() as pw:
        host = await launch(pw, camera_y4m)
        user = await launch(
            pw,
            camera_y4m,
            executable=network.chromium_wrapper(tmp_path),
            extra_args=[f"--unsafely-treat-insecure-origin-as-secure={origin}"],
        )
        yield host, user
        await host.close()
        await user.close()


async def test_the_user_switches_networks_mid_call_and_is_back_within_seconds(
    server: LiveServer, network: BrowserNetwork, chromium: tuple[Browser, Browser]
) -> None:
    links = await links_for(server, ["bruker"])
    user_link = links["bruker"].replace(server.url, origin_in_namespace(server, network), 1)
    host = await chromium[0].new_page(locale="nb-NO")
    user = await chromium[1].new_page(locale="nb-NO")
    await start_meeting(host, user, links["host"], user_link)
    host_pid, user_pid = await pid_of(host), await pid_of(user)
    await asyncio.gather(seconds_until_frames(host, user_pid), seconds_until_frames(user, host_pid))
    await user.evaluate("window.notReloaded = true")
    slots_before = await host.evaluate("window.samhandling.tiles.map(t => t.participant)")
    meeting = next(iter(server.app[LIVE].meetings.values()))
    in_room = meeting.room.participants[user_pid]
    pc = server.app[RELAY].peer_connection(user_pid)
    await host.evaluate(SEEN_RECONNECTING)

    loop = asyncio.get_running_loop()
    started = loop.time()
    network.switch(3)
    # Frames already on their way when the path broke still arrive for a moment: count only those that come
    # after the server has the user's new media connection.
    while server.app[RELAY].peer_connection(user_pid) in (pc, None):
        assert loop.time() - started < 30, "the user's page never made a new media connection"
        await asyncio.sleep(0.05)
    relinked = loop.time() - started
    user_sees_host, host_sees_user = (
        relinked + seconds
        for seconds in await asyncio.gather(seconds_until_frames(user, host_pid), seconds_until_frames(host, user_pid))
    )
    limit = 2.5 * recovery_limit()  # 5 s on an idle machine (the bound), scaled by load like the others
    print(f"new media {relinked:.2f} s; user sees host {user_sees_host:.2f} s, host sees user {host_sees_user:.2f} s")
    assert user_sees_host <= limit and host_sees_user <= limit, (user_sees_host, host_sees_user)
    assert await user.evaluate("window.notReloaded === true")
    assert await user.evaluate("window.samhandling.state") == "in-call"
    assert await user.evaluate("window.samhandling.me.pid") == user_pid
    assert meeting.room.participants.get(user_pid) is in_room and in_room.in_call and not in_room.paused
    assert server.app[RELAY].peer_connection(user_pid) is not pc
    assert await host.evaluate("window.samhandling.tiles.map(t => t.participant)") == slots_before
    await wait_until(user, "window.samhandling.pc.connectionState === 'connected'", 10)
    assert "Gjeldende samtykke" in await user.inner_text("#consent-state")
    assert await host.evaluate("[...document.querySelectorAll('.tile:not([hidden]) .gate-label')].every(g => g.hidden)")
    assert await user.evaluate("window.samhandling.errors") == []
    # The host's tile of the user said «Kobler til igjen …» while the user's media came back, and no longer does.
    assert "Kobler til igjen" in await host.evaluate("window.seenReconnecting"), "the host never saw it"
    await wait_until(host, "!window.samhandling.mediaReconnecting.size", 5)
