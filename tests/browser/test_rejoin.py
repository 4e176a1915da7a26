"""Everyone sees the same meeting after a reload or a late join: frames resume at once, state is whole."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.flows import (
    admit_first,
    confirm_roster,
    guest_waits,
    host_and_user,
    host_enters,
    open_call,
    record_oral_consent,
    start_meeting,
    wait_until,
)
from tests.browser_support import launch
from tests.fakes import WholeFrameObscurer
from tests.live_server import LiveServer, links_for, server_settings, start_server_thread
from web.keys import RELAY

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

RECOVERY_S = 2.0


def recovery_limit() -> float:
    """2 s; on a machine loaded beyond its cores (shared CI) the same bound scaled by the load, at most 4x.
    A frozen tile (the bug) stays frozen for good, so the scaled bound still fails it."""
    per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return RECOVERY_S * min(max(per_core, 1.0), 4.0)


@pytest.fixture
async def light_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The whole-frame obscurer: the same media path at a fraction of the detector's CPU (three browsers)."""
    live = await start_server_thread(server_settings(tmp_path / "data"), processor=WholeFrameObscurer())
    yield live
    await live.stop()


@pytest.fixture
async def chromium(camera_y4m: Path) -> AsyncIterator[tuple[Browser, Browser]]:
    async with async_playwright() as pw:
        first, second = await launch(pw, camera_y4m), await launch(pw, camera_y4m)
        yield first, second
        await first.close()
        await second.close()


FRAMES_OF = """(pid) => {
  const t = window.samhandling.tiles.find(t => t.participant === pid && !t.fig.hidden);
  return t ? (window.samhandling.frames.get(t.video) || 0) : -1;
}"""


async def seconds_until_frames(page: Page, pid: str, count: int = 5, timeout: float = 20.0) -> float:
    """Seconds until ``page`` has presented ``count`` new frames of ``pid``'s tile."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    first: int | None = None
    while loop.time() - start < timeout:
        now = int(await page.evaluate(FRAMES_OF, pid))
        if now >= 0:
            first = now if first is None else first
            if now - first >= count:
                return loop.time() - start
        await asyncio.sleep(0.05)
    tiles = await page.evaluate(
        "() => window.samhandling.tiles.map(t => [t.participant, t.fig.hidden, window.samhandling.frames.get(t.video)])"
    )
    me = await page.evaluate("[window.samhandling.me.pid, window.samhandling.me.role]")
    raise AssertionError(f"{me} saw fewer than {count} frames of {pid} within {timeout} s; tiles {tiles}")


async def pid_of(page: Page) -> str:
    return str(await page.evaluate("window.samhandling.me.pid"))


async def test_the_others_see_a_reloaded_host_again_within_two_seconds(
    light_server: LiveServer, chromium: tuple[Browser, Browser]
) -> None:
    server = light_server
    links = await links_for(server, ["bruker"])
    host, user = await host_and_user(chromium)
    await host_enters(host, links["host"])
    await guest_waits(user, links["bruker"])
    await admit_first(host, user)
    fresh = await seconds_until_frames(user, await pid_of(host))  # the same path for someone new, as a baseline
    await confirm_roster(host)
    await record_oral_consent(host)

    for _ in range(2):  # reproduced twice in a row in the field
        await open_call(host, links["host"])  # the same page loaded again: a reload
        await host.click("#enter")
        await wait_until(host, "window.samhandling.state === 'in-call'", 10)
        new_host, user_pid = await pid_of(host), await pid_of(user)
        user_sees_host, host_sees_user = await asyncio.gather(
            seconds_until_frames(user, new_host), seconds_until_frames(host, user_pid)
        )
        limit = recovery_limit()
        print(
            f"rejoin: fresh {fresh:.2f} s, user sees host {user_sees_host:.2f} s, host sees user {host_sees_user:.2f} s"
        )
        assert user_sees_host <= limit, f"the user saw the host again after {user_sees_host:.1f} s (fresh {fresh:.1f})"
        assert host_sees_user <= limit, f"the host saw the user again after {host_sees_user:.1f} s (fresh {fresh:.1f})"
        # The reloaded host starts from the whole meeting: roster confirmed, consent given, no stale gate.
        await wait_until(host, "window.samhandling.roster.confirmed", 5)
        assert "Gjeldende samtykke" in await host.inner_text("#consent-state")
        assert await host.evaluate(
            "[...document.querySelectorAll('.tile:not([hidden]) .gate-label')].every(g => g.hidden)"
        )
    assert await user.evaluate("window.samhandling.errors") == []


async def test_a_late_adviser_sees_the_consent_already_given(
    light_server: LiveServer, chromium: tuple[Browser, Browser]
) -> None:
    server = light_server
    links = await links_for(server, ["bruker", "radgiver"])
    host, user = await host_and_user(chromium)
    await start_meeting(host, user, links["host"], links["bruker"])
    adviser_context = await chromium[1].new_context(locale="nb-NO")  # another device
    adviser = await adviser_context.new_page()
    await open_call(adviser, links["radgiver"])
    await adviser.click("#enter")
    await wait_until(host, "window.samhandling.view && (window.samhandling.view.lobby || []).length === 1", 10)
    await host.click("#lobby-list button.ctl--primary")
    await wait_until(adviser, "window.samhandling.state === 'in-call'", 10)
    user_pid = await pid_of(user)
    await seconds_until_frames(adviser, user_pid)
    await wait_until(adviser, f"(window.samhandling.consents.get('{user_pid}') || []).includes('video')", 5)
    gate = await adviser.evaluate(
        "(pid) => window.samhandling.tiles.find(t => t.participant === pid).gate.hidden", user_pid
    )
    assert gate, "the late adviser sees «Venter på samtykke» over a user who has consented"
    assert "Gjeldende samtykke" in await adviser.inner_text("#consent-state")
    await adviser_context.close()


async def test_a_lost_connection_comes_back_by_itself_with_the_meeting_whole(
    light_server: LiveServer, chromium: tuple[Browser, Browser]
) -> None:
    """The server's side of the user's media connection ends (ICE consent lapsed, DTLS failed: what a network
    switch looks like from the server). The page is not reloaded: it reconnects under the same participant, and
    consent, roster and the slot layout are as they were."""
    server = light_server
    links = await links_for(server, ["bruker"])
    host, user = await host_and_user(chromium)
    await start_meeting(host, user, links["host"], links["bruker"])
    host_pid, user_pid = await pid_of(host), await pid_of(user)
    await seconds_until_frames(host, user_pid)
    await user.evaluate("window.notReloaded = true")
    slots_before = await host.evaluate("window.samhandling.tiles.map(t => t.participant)")

    await host.evaluate(
        """() => { const status = document.getElementById('status'); window.said = [];
             new MutationObserver(() => window.said.push(status.textContent))
               .observe(status, {childList: true, characterData: true, subtree: true}); }"""
    )
    pc = server.app[RELAY].peer_connection(user_pid)
    assert pc is not None
    await server.call(pc.close())  # the peer connection belongs to the server's loop
    user_sees_host, host_sees_user = await asyncio.gather(
        seconds_until_frames(user, host_pid), seconds_until_frames(host, user_pid)
    )
    limit = 2.5 * recovery_limit()  # 5 s on an idle machine (the bound), scaled by load like the others
    print(f"reconnect: user sees host {user_sees_host:.2f} s, host sees user {host_sees_user:.2f} s")
    assert user_sees_host <= limit and host_sees_user <= limit, (user_sees_host, host_sees_user)
    assert await user.evaluate("window.notReloaded === true && window.samhandling.reconnects === 1")
    assert await user.evaluate("window.samhandling.state") == "in-call"
    assert await user.evaluate("window.samhandling.me.pid") == user_pid
    assert server.app[RELAY].peer_connection(user_pid) is not pc
    assert await host.evaluate("window.samhandling.tiles.map(t => t.participant)") == slots_before
    await wait_until(user, "window.samhandling.pc.connectionState === 'connected'", 10)
    assert "Gjeldende samtykke" in await user.inner_text("#consent-state")
    assert await host.evaluate("[...document.querySelectorAll('.tile:not([hidden]) .gate-label')].every(g => g.hidden)")
    assert await user.evaluate("window.samhandling.errors") == []
    # The host was told why the user's picture froze, and that it is back.
    assert "Bruker kobler til igjen …" in await host.evaluate("window.said")
    await wait_until(host, "!window.samhandling.mediaReconnecting.size", 5)


LOSE_FIRST_ANSWER = """(close) => {
  // The first signalling socket dies just as the server's answer is on its way (a network switch while the
  // preview is being set up): the answer never arrives there, and the page must resume on a new socket. Either
  // the socket falls silent (nothing more arrives: the server does not know yet), or it closes (the server knows).
  const Real = window.WebSocket;
  let first = true;
  const Wrapped = function (url, protocols) {
    const ws = new Real(url, protocols);
    if (first) {
      first = false;
      let dead = false;
      const add = ws.addEventListener.bind(ws);
      ws.addEventListener = (type, listener, options) => add(type, type !== "message" ? listener : (ev) => {
        if (!dead && JSON.parse(ev.data).type === "answer") {
          dead = window.lostAnswer = true;
          if (close) ws.close();
        }
        if (!dead) listener(ev);
      }, options);
    }
    return ws;
  };
  Wrapped.prototype = Real.prototype;
  Object.assign(Wrapped, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Wrapped;
}"""


@pytest.mark.parametrize("closed", [False, True], ids=["silent", "closed"])
async def test_a_connection_lost_during_the_preview_still_lets_the_person_join(
    light_server: LiveServer, chromium: tuple[Browser, Browser], closed: bool
) -> None:
    """Silent: the page resumes as the same participant. Closed: the server has usually let the participant go
    before the new socket arrives, and in the preview nothing is lost by coming back as a new one (a call in
    progress would say it was lost); if the new socket came first, it resumes the same one."""
    links = await links_for(light_server, ["bruker"])
    context = await chromium[0].new_context()
    page = await context.new_page()
    await page.add_init_script(script=f"({LOSE_FIRST_ANSWER})({'true' if closed else 'false'})")
    await page.goto(links["bruker"])
    await wait_until(page, "window.lostAnswer === true", 20)
    pid = await page.evaluate("window.samhandling.me.pid")
    await page.wait_for_selector("#enter:not([disabled])", timeout=20_000)
    if not closed:  # resumed as the same participant; after a close it depends on which the server handled first
        assert await page.evaluate("window.samhandling.me.pid") == pid
    assert await page.evaluate("window.samhandling.state") == "preview"
    await wait_until(page, "window.samhandling.pc.connectionState === 'connected'", 10)
    await page.click("#enter")
    await wait_until(page, "['lobby', 'in-call'].includes(window.samhandling.state)", 10)
    assert await page.evaluate("window.samhandling.errors") == []
    await context.close()
