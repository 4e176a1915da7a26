"""Bounds on a live signalling socket: floods are slowed, repeats merged, junk refused, the socket stays up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import sqlalchemy as sa

from tests.live_server import LiveServer, create_meeting, staff_client
from web.keys import ENGINE


class Socket:
    """Just the signalling socket of a join link (no media): enough to test what the server answers."""

    def __init__(self, link: str) -> None:
        self.link = link
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.messages: list[dict[str, Any]] = []

    async def open(self, query: str = "") -> None:
        async with self.session.get(self.link) as page:
            assert page.status == 200
        self.ws = await self.session.ws_connect(self.link.replace("http", "ws", 1) + "/ws" + query)

    async def send(self, payload: dict[str, Any] | str) -> None:
        assert self.ws is not None
        await self.ws.send_str(payload if isinstance(payload, str) else json.dumps(payload))

    async def drain(self, seconds: float = 0.5) -> None:
        assert self.ws is not None
        while True:
            try:
                msg = await self.ws.receive(timeout=seconds)
            except TimeoutError:
                return
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            self.messages.append(json.loads(msg.data))

    def codes(self) -> list[str]:
        return [m.get("code", "") for m in self.messages if m.get("type") == "error"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.session.close()


async def _links(server: LiveServer, roles: list[str]) -> dict[str, str]:
    kari = await staff_client(server)
    try:
        return await create_meeting(kari, server, roles)
    finally:
        await kari.close()


async def test_a_pause_flood_is_slowed_and_merged_and_junk_never_closes_the_socket(server: LiveServer) -> None:
    links = await _links(server, ["bruker"])
    citizen = Socket(links["bruker"])
    try:
        await citizen.open()
        await citizen.drain()
        welcome = next(m for m in citizen.messages if m["type"] == "welcome")
        for n in range(300):
            await citizen.send({"type": "pause", "participant": welcome["participant"], "paused": n % 2 == 0})
        await citizen.drain(1.0)  # the bucket refills while the flood is answered
        for junk in ("[" * 5000 + "]" * 5000, '{"type": "ping", "t": ' + "9" * 5000 + "}", '{"type":"ping","t":NaN}'):
            await citizen.send(junk)
        await citizen.drain(1.0)
        assert citizen.ws is not None and not citizen.ws.closed
        assert "rate_limited" in citizen.codes()
        assert {"invalid_json", "invalid_message", "too_large"} <= set(citizen.codes())
        await citizen.send({"type": "ping", "t": 1})
        await citizen.drain()
        assert citizen.messages[-1]["type"] in ("pong", "error")
    finally:
        await citizen.close()
    await asyncio.sleep(0.2)
    async with server.app[ENGINE].connect() as conn:
        rows = (await conn.execute(sa.text("SELECT payload FROM privacy_audit_log"))).scalars().all()
    pauses = [r for r in rows if '"pause"' in r or '"resume"' in r]
    assert 1 <= len(pauses) <= 12, len(pauses)  # 300 toggles: the bucket lets ~10 through, repeats are merged


async def test_pre_call_checks_are_one_per_link_and_few_per_meeting(server: LiveServer) -> None:
    links = await _links(server, ["bruker", "parorende", "leverandor", "husbanken"])
    first, again = Socket(links["bruker"]), Socket(links["bruker"])
    others = [Socket(links[r]) for r in ("parorende", "leverandor", "husbanken")]
    try:
        await first.open("?mode=check")
        await first.drain()
        again.session = first.session  # the same device checks again (a reload): the newest check wins
        await again.open("?mode=check")
        await first.drain()
        assert any(m.get("reason") == "replaced" for m in first.messages)
        for socket in others[:2]:
            await socket.open("?mode=check")
            await socket.drain()
        await others[2].open("?mode=check")
        await others[2].drain()
        assert "too_many_checks" in others[2].codes()
    finally:
        for socket in (first, *others):
            await socket.close()
        if again.ws is not None:
            await again.ws.close()
