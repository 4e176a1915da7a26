"""``samhandling serve --workers N``: N worker processes behind one address, each room in exactly one worker.

Python runs one event loop per process and the GIL serialises much of a room's media work, so one machine is
used by several worker processes, as an SFU runs one media worker per core. The parent process supervises them
and serves the public address as a small front: a request for a room (every ``/j/<meeting>.…`` path, HTTP and
WebSocket) goes to the worker chosen by hashing the meeting id over the ready workers (``web.room_routing``), so
the whole signalling of a room reaches the worker that holds it; media never pass the front (the browser's
WebRTC connection goes straight to that worker's UDP ports). Other requests go round the ready workers, except
the development identity provider, which keeps its codes in memory and so always gets the first worker.

Workers share the database (and with it the drop-in lines, revocations, ledgers, recordings' state) and the data
directory (keys, session secret), which the parent creates before starting them. A worker that dies is started
again; until it is ready its rooms hash to the others. SIGTERM drains: the workers tell their participants that
the meeting ends here and stop; the front stops when they have.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from web.client_address import Network, client_address
from web.i18n import translate
from web.rendering import lang_of
from web.room_routing import RoomPlacements, room_of_path
from web.settings import Settings

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Content-Length", "Host",
    )
)  # fmt: skip
READY_POLL_S = 0.5
MISSES_DOWN = 3


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Worker:
    index: int
    name: str
    port: int
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    """Takes new rooms: its last readiness check said so."""
    up: bool = False
    """Its process listens: the rooms placed on it stay there, even while it is too busy to answer in time."""
    misses: int = 0
    """Readiness checks in a row that timed out; a busy worker is not taken out for one slow answer."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Front:
    """The workers and which of them are ready; picks the worker of a request."""

    workers: list[Worker]
    trusted_proxies: tuple[Network, ...] = ()
    """Proxies whose ``X-Forwarded-For`` is believed (HAProxy with forwardfor in front of this node)."""
    stopping: bool = False
    placements: RoomPlacements = field(default_factory=RoomPlacements)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def ready(self) -> list[Worker]:
        return [w for w in self.workers if w.ready]

    def choose(self, path: str) -> Worker | None:
        ready = self.ready()
        room = room_of_path(path)
        if room is not None:
            by_name = {w.name: w for w in self.workers}
            up = {w.name for w in self.workers if w.up}
            try:
                return by_name[self.placements.place(room, sorted(w.name for w in ready), up, time.monotonic())]
            except ValueError:  # no worker ready, and none holds the room
                return None
        if not ready:
            return None
        if path.startswith("/dev-idp/"):
            # The development login keeps its codes in one worker's memory: always the first one that is up, so a
            # worker too busy to answer one readiness check does not send the token request where no code is.
            return next((w for w in self.workers if w.up), ready[0])
        return ready[next(self._turn) % len(ready)]


def _forward_headers(request: web.Request) -> dict[str, str]:
    """The request's headers for the worker, with the client's address as the one ``X-Forwarded-For`` entry
    (taken from an incoming one only when this node trusts its own proxy)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"x-forwarded-for"}}
    headers["X-Forwarded-Host"] = request.host
    proxies = request.app[FRONT].trusted_proxies
    client = client_address(request.remote, request.headers.get("X-Forwarded-For"), proxies)
    if client:
        headers["X-Forwarded-For"] = client
    return headers


async def _proxy_ws(request: web.Request, http: aiohttp.ClientSession, url: str) -> web.StreamResponse:
    headers = {
        k: v
        for k, v in _forward_headers(request).items()
        if not k.lower().startswith("sec-websocket") and k.lower() != "origin"
    }
    try:
        upstream = await http.ws_connect(url, headers=headers, max_msg_size=0, autoping=True, heartbeat=None)
    except aiohttp.WSServerHandshakeError as exc:
        return web.Response(status=exc.status, text="")
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)

    async def pump(source: Any, sink: Any) -> None:
        async for msg in source:
            if msg.type == WSMsgType.TEXT:
                await sink.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await sink.send_bytes(msg.data)
            else:
                break

    tasks = [asyncio.create_task(pump(ws, upstream)), asyncio.create_task(pump(upstream, ws))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await upstream.close()
        await ws.close()
        room = room_of_path(request.path)
        if room is not None:  # the room was in use all along: a rejoin soon after must find the same worker
            request.app[FRONT].placements.touch(room, time.monotonic())
    return ws


async def _proxy_http(request: web.Request, http: aiohttp.ClientSession, url: str) -> web.StreamResponse:
    body = await request.read()
    async with http.request(
        request.method, url, headers=_forward_headers(request), data=body or None, allow_redirects=False
    ) as upstream:
        payload = await upstream.read()
        response = web.Response(status=upstream.status, body=payload)
        for key, value in upstream.headers.items():
            if key.lower() not in HOP_BY_HOP:
                response.headers.add(key, value)
        return response


FRONT = web.AppKey("front", Front)
HTTP = web.AppKey("front_http", aiohttp.ClientSession)


def _unavailable(request: web.Request, key: str) -> web.Response:
    """503 with the reason in the reader's language (the front has no templates: plain text)."""
    return web.Response(status=503, text=translate(lang_of(request), key), headers={"Retry-After": "2"})


async def route(request: web.Request) -> web.StreamResponse:
    front = request.app[FRONT]
    worker = front.choose(request.path)
    if worker is None:
        return _unavailable(request, "err.web.starting")
    url = worker.url + request.path_qs
    http = request.app[HTTP]
    try:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _proxy_ws(request, http, url)
        return await _proxy_http(request, http, url)
    except aiohttp.ClientConnectionError:
        worker.ready = worker.up = False
        return _unavailable(request, "err.web.unavailable")
    except TimeoutError:
        worker.ready = False
        return _unavailable(request, "err.web.unavailable")


async def front_ready(request: web.Request) -> web.Response:
    """The front is ready while at least one worker is; a load balancer in front of nodes asks this."""
    front = request.app[FRONT]
    if front.stopping or not front.ready():
        return web.Response(status=503, text="NOT READY")
    return web.Response(text="READY")


async def front_alive(_request: web.Request) -> web.Response:
    return web.Response(text="ALIVE")


async def worker_metrics(request: web.Request) -> web.StreamResponse:
    """Each worker has its own Prometheus registry: ``/internal/metrics?worker=I`` is worker I's (default 0)."""
    front = request.app[FRONT]
    try:
        worker = front.workers[int(request.query.get("worker", "0"))]
    except (ValueError, IndexError):
        return web.Response(status=404, text="Ukjent arbeidsprosess.")
    try:
        return await _proxy_http(request, request.app[HTTP], worker.url + "/internal/metrics")
    except (aiohttp.ClientConnectionError, TimeoutError):
        return web.Response(status=503, text="NOT READY")


def front_app(front: Front) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[FRONT] = front

    async def client(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        ) as http:
            app[HTTP] = http
            yield

    app.cleanup_ctx.append(client)
    app.router.add_get("/internal/isready", front_ready)
    app.router.add_get("/internal/isalive", front_alive)
    app.router.add_get("/internal/metrics", worker_metrics)
    app.router.add_route("*", "/{tail:.*}", route)
    return app


# --- supervision ---------------------------------------------------------------------------------------------


def worker_env(settings: Settings, worker: Worker) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SAMHANDLING_NODE_NAME=worker.name,
        SAMHANDLING_PUBLIC_URL=settings.base_url,
        SAMHANDLING_HOST="127.0.0.1",
        SAMHANDLING_PORT=str(worker.port),
        SAMHANDLING_TRUSTED_PROXIES="127.0.0.1, ::1",  # reachable on loopback only, through this front
    )
    return env


async def _start(settings: Settings, worker: Worker) -> None:
    worker.ready = worker.up = False
    worker.process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "serve", "--workers", "1",
        env=worker_env(settings, worker), stdout=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent,
    )  # fmt: skip


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the parent dies (Linux), so no worker outlives a killed front."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def _watch(settings: Settings, front: Front, http: aiohttp.ClientSession) -> None:
    """Keep every worker running and know which are ready (their /internal/isready)."""
    while not front.stopping:
        for worker in front.workers:
            process = worker.process
            if process is not None and process.returncode is not None and not front.stopping:
                log.warning("worker exited; starting it again", extra={"worker": worker.index})
                await _start(settings, worker)
            try:
                async with http.get(worker.url + "/internal/isready") as response:
                    worker.ready, worker.up, worker.misses = response.status == 200, True, 0
            except aiohttp.ClientConnectionError:
                worker.ready = worker.up = False  # not listening: down at once
            except TimeoutError:
                worker.misses += 1
                worker.ready = worker.ready and worker.misses < MISSES_DOWN
        await asyncio.sleep(READY_POLL_S)


async def run_workers(settings: Settings, count: int) -> int:
    """Start ``count`` workers and the front on the public address; returns when drained after SIGTERM/SIGINT."""
    base = settings.node_name
    workers = [Worker(i, f"{base}.w{i}", free_port()) for i in range(count)]
    front = Front(workers, trusted_proxies=settings.trusted_proxies)
    for worker in workers:
        await _start(replace(settings), worker)
    runner = web.AppRunner(front_app(front), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        watcher = asyncio.create_task(_watch(settings, front, http))
        await stop.wait()
        front.stopping = True
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    for worker in workers:  # drain: every worker tells its participants, then stops
        if worker.process is not None and worker.process.returncode is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        if worker.process is not None:
            try:
                await asyncio.wait_for(worker.process.wait(), timeout=20)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
    await runner.cleanup()
    return 0
