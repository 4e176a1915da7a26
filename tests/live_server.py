"""A real Samhandling server on 127.0.0.1 for integration and browser tests, and HTTP flows to drive it."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import socket
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
from aiohttp import web

from privacy.vision.privacy_track import FrameProcessor
from recordings.key_provider import create_kek_file
from web.access_log import RouteAccessLogger
from web.app import create_app
from web.database import migrate
from web.seed import seed_demo
from web.settings import Settings, load_settings

DEMO_FORMIDLER = 1
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_settings(data_dir: Path, **changes: object) -> Settings:
    """Settings for a test server; the recordings' key-encryption key lies beside, not inside, the data dir."""
    kek = data_dir.parent / "kek" / "recordings.kek"
    if not kek.exists():
        kek.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_kek_file(kek)
    base = load_settings(
        {
            "SAMHANDLING_DATA_DIR": str(data_dir),
            "SAMHANDLING_ICE_LOOPBACK": "true",
            "SAMHANDLING_DEV_MODE": "true",
            "SAMHANDLING_RECORDINGS_KEK_FILE": str(kek),
        }
    )
    return dataclasses.replace(base, port=free_port(), **changes)  # type: ignore[arg-type]


class HasUrl(Protocol):
    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class RemoteServer:
    """A server started some other way (a subprocess), reached only over HTTP."""

    url: str


SHUTDOWN_LIMIT_S = 60.0


@dataclass
class LiveServer:
    """A running server. ``loop`` is its own event loop on a thread of its own (:func:`start_server_thread`), or
    None when it shares the caller's loop. Its objects (peer connections, the database engine) belong to that
    loop: a test awaits them through :meth:`call`; plain reads (``app[RELAY].peer_connection(pid)``) need not."""

    settings: Settings
    runner: web.AppRunner
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.settings.base_url

    @property
    def app(self) -> web.Application:
        return self.runner.app

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs ``coro`` on the server's loop and waits for it from the caller's."""
        if self.loop is None:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def stop(self) -> None:
        """Shut the server down as SIGTERM would; a shutdown that hangs fails the test's teardown after a minute
        instead of hanging the whole run (pytest-timeout cannot interrupt a busy event loop)."""
        await asyncio.wait_for(self.call(self.runner.cleanup()), SHUTDOWN_LIMIT_S)
        if self.loop is not None and self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self.thread.join)


async def start_server(
    settings: Settings,
    processor: FrameProcessor | None = None,
    clock: Callable[[], datetime] | None = None,
    also_on: Sequence[str] = (),
) -> LiveServer:
    """Listens on 127.0.0.1 and on each address of ``also_on`` (a network namespace's link to the host)."""
    await asyncio.to_thread(migrate, settings.database_url)
    app = (
        create_app(settings, processor=processor)
        if clock is None
        else create_app(settings, processor=processor, clock=clock)
    )
    runner = web.AppRunner(app, handle_signals=False, access_log_class=RouteAccessLogger)
    await runner.setup()
    from web.keys import ENGINE

    await seed_demo(app[ENGINE])
    for host in ("127.0.0.1", *also_on):
        await web.TCPSite(runner, host, settings.port).start()
    return LiveServer(settings, runner)


async def start_server_thread(
    settings: Settings,
    processor: FrameProcessor | None = None,
    clock: Callable[[], datetime] | None = None,
    also_on: Sequence[str] = (),
) -> LiveServer:
    """:func:`start_server` on an event loop of its own, on its own thread, for the browser tests.

    Why: Playwright's client reads each message from its driver and then yields until the event loop has nothing
    ready, up to 100 turns (``wait_for_next_task`` in its pipe transport). A server relaying media to three
    browsers on the same loop always has something ready, so every driver message costs 100 turns of media work,
    a second or more on a busy machine: Playwright falls behind the browsers' WebSocket-frame events (a ping a
    second per page) and a ``page.evaluate`` waits behind them for ever. On its own loop the server does not
    slow the test's loop down. Used by the tests where three browsers share a call and by the network-switch
    test; the two-browser tests still share the test's loop (they keep up, and their bounds were measured so)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=_serve_forever, args=(loop,), name="live-server", daemon=True)
    thread.start()
    started = asyncio.run_coroutine_threadsafe(start_server(settings, processor, clock, also_on), loop)
    try:
        live = await asyncio.wrap_future(started)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        raise
    return dataclasses.replace(live, loop=loop, thread=thread)


def _serve_forever(loop: asyncio.AbstractEventLoop) -> None:
    """The server thread: its loop runs until stopped, then what is left on it is cancelled and the loop closed."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


DEMO_SUBJECTS = {
    1: "demo-formidler",
    2: "demo-tilgangsstyrer",
    3: "demo-radgiver",
    4: "demo-tekniker",
    5: "demo-personvern",
    6: "demo-senteradmin",
    7: "demo-nabo",
}


async def oidc_login(
    client: aiohttp.ClientSession, base_url: str, subject: str, start: str = "/auth/login"
) -> aiohttp.ClientResponse:
    """The whole authorization-code + PKCE flow through the development identity provider's pages."""
    async with client.get(f"{base_url}{start}") as resp:
        page = await resp.text()
        authorize_url = str(resp.url)
    assert resp.status == 200 and "/dev-idp" in authorize_url, page
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action, "no login form on the provider's page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    fields["subject"] = subject
    async with client.post(f"{base_url}{html.unescape(action.group(1))}", data=fields) as resp:
        await resp.read()
        return resp


async def staff_client(server: HasUrl, staff_id: int = DEMO_FORMIDLER) -> aiohttp.ClientSession:
    """A logged-in staff browser session (development identity provider, real OIDC flow)."""
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    resp = await oidc_login(client, server.url, DEMO_SUBJECTS[staff_id])
    assert resp.status == 200 and resp.url.path.startswith("/staff"), resp.url
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def create_meeting(
    client: aiohttp.ClientSession, server: HasUrl, roles: list[str], topic: str = "Tilpasning av hodestøtte"
) -> dict[str, str]:
    """Create a meeting through the staff form; returns the join links by role ("host" for the host's)."""
    async with client.get(f"{server.url}/staff") as resp:
        csrf = csrf_of(await resp.text())
    form = aiohttp.FormData()
    form.add_field("csrf", csrf)
    form.add_field("topic", topic)
    form.add_field("kind", "bolig")
    for role in roles:
        form.add_field("roles", role)
    async with client.post(f"{server.url}/staff/meetings", data=form) as resp:
        html = await resp.text()
        assert resp.status == 200, html
    links: dict[str, str] = {}
    host = re.search(r'href="([^"]+)" data-role="host"', html)
    assert host
    links["host"] = host.group(1)
    found = re.findall(r'<dt>([^<]+)</dt><dd><a href="([^"]+)" class="join-link">', html)
    from session.roles import Role
    from web.i18n import role_label

    by_label = {role_label("nb", role): role.value for role in Role}
    for label, link in found:
        links[by_label[label]] = link
    return links


async def links_for(server: LiveServer, roles: list[str]) -> dict[str, str]:
    """A meeting made by the demo formidler: its host link and one link per role."""
    client = await staff_client(server)
    try:
        return await create_meeting(client, server, roles)
    finally:
        await client.close()
