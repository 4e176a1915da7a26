"""The call through the real server on 127.0.0.1 with real aiortc peers: links, signalling errors, relay."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from sqlalchemy import select

from session.roles import Role
from session.tables import meetings
from tests.aiortc_client import ArrayVideoTrack, CallClient, frames_from, host_client
from tests.live_server import LiveServer, create_meeting, staff_client
from tests.media import clip_frames
from web.keys import ENGINE, LINKS, LIVE, RELAY

pytestmark = pytest.mark.timeout(90)


async def links_for(server: LiveServer, roles: list[str]) -> dict[str, str]:
    client = await staff_client(server)
    try:
        return await create_meeting(client, server, roles)
    finally:
        await client.close()


async def test_forged_expired_and_malformed_links_join_nothing(server: LiveServer) -> None:
    links = await links_for(server, ["bruker"])
    async with aiohttp.ClientSession() as http:
        async with http.get(links["bruker"]) as resp:
            assert resp.status == 200
        forged = links["bruker"][:-4] + ("AAAA" if not links["bruker"].endswith("AAAA") else "BBBB")
        async with http.get(forged, headers={"Accept": "text/html"}) as resp:
            assert resp.status == 403
            assert "Lenken er ikke gyldig" in await resp.text()
        async with http.get(f"{server.url}/j/{'x' * 500}") as resp:
            assert resp.status == 403
        async with http.get(forged + "/ws") as resp:  # no upgrade for a forged link
            assert resp.status == 403

        # An expired link, issued through the same code path staff use, with a lifetime already over.
        async with server.app[ENGINE].connect() as conn:
            meeting_id = (await conn.execute(select(meetings.c.id))).scalar_one()
        issued = await server.app[LINKS].issue(
            actor_staff_id=1, meeting_id=meeting_id, role=Role.PARORENDE, ttl=timedelta(seconds=-1)
        )
        expired = issued.token
        async with http.get(f"{server.url}/j/{expired}") as resp:
            assert resp.status == 410
            assert "utløpt" in await resp.text()
        async with http.get(f"{server.url}/j/{expired}/ws") as resp:
            assert resp.status == 410


async def test_bad_signalling_gets_an_error_and_the_call_goes_on(server: LiveServer) -> None:
    links = await links_for(server, ["bruker"])
    client = await host_client(server.url, links["host"], ArrayVideoTrack(clip_frames()[:30]))
    try:
        await client.connect()
        bad: list[tuple[str | bytes, str]] = [
            ("{oops", "invalid_json"),
            (json.dumps({"type": "dance"}), "unknown_type"),
            (json.dumps({"type": "ping", "t": "x" * 100_000}), "too_large"),
            (json.dumps({"type": "offer", "sdp": "v=0\r\nthis is not sdp"}), "offer_rejected"),
        ]
        for raw, code in bad:
            before = len(client.messages)
            await client.send(raw if isinstance(raw, str) else raw.decode())
            msg = await client.wait_for("error", after=before)
            assert msg["code"] == code
        assert client.ws is not None
        await client.ws.send_bytes(b"\x00\x01")
        await client.wait_for("error", code="binary")
        await client.send({"type": "ping", "t": 1})
        await client.wait_for("pong")
        frames = await frames_from(client.self_view, 3)  # type: ignore[arg-type]
        assert frames and frames[0].shape == (480, 640, 3)
        async with aiohttp.ClientSession() as http, http.get(server.url + "/internal/metrics") as resp:
            body = await resp.text()
        assert 'samhandling_media_feedback_total{event="keyframe"}' in body  # the relay's feedback counters
    finally:
        await client.close()


def block_detail(bgr: np.ndarray) -> float:
    import cv2

    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F)).mean())


async def test_participants_join_and_leave_mid_call_and_everything_is_cleaned_up(server: LiveServer) -> None:
    links = await links_for(server, ["bruker", "leverandor"])
    source = clip_frames()[:45]
    a = await host_client(server.url, links["host"], ArrayVideoTrack(source))
    b = CallClient(links["bruker"], ArrayVideoTrack(source))
    c = CallClient(links["leverandor"], ArrayVideoTrack(source))
    relay = server.app[RELAY]
    try:
        await a.connect()
        await a.enter()
        await b.connect()
        await b.enter(host=a)
        await a.confirm_roster()
        slot = await a.wait_for("slot", participant=b.pid)
        received = await frames_from(a.slot_video[slot["slot"]], 5)
        assert all(f.shape == (480, 640, 3) for f in received)

        await c.connect()
        await c.enter(host=a)
        await a.wait_for("participant-joined")
        c_slots = [m for m in c.messages if m["type"] == "slot"]
        assert len(c_slots) == 2  # c sees a and b
        assert len(relay) == 3

        await b.close()
        await a.wait_for("participant-left", participant=b.messages[0]["participant"])
        await c.wait_for("participant-left")
        for _ in range(50):
            if len(relay) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(relay) == 2
    finally:
        for client in (a, b, c):
            await client.close()
    for _ in range(50):
        if len(relay) == 0:
            break
        await asyncio.sleep(0.1)
    assert len(relay) == 0


async def test_a_link_is_used_on_one_device_at_a_time(server: LiveServer) -> None:
    links = await links_for(server, ["bruker"])
    first = CallClient(links["bruker"], None)
    other_device = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        await first.connect()
        async with other_device.get(links["bruker"]) as resp:
            assert resp.status == 409
            assert "annen enhet" in (await resp.text()).lower() or "en annen" in (await resp.text()).lower()
        async with other_device.get(links["bruker"] + "/ws") as resp:
            assert resp.status == 409
        # The same device may come back (a reload): the new connection replaces the old one.
        again = CallClient(links["bruker"], None, session=first.session)
        again.close_session = False
        await again.connect()
        ended = await first.wait_for("ended")
        assert ended["reason"] == "replaced"
        await again.close()
    finally:
        await first.close()
        await other_device.close()


async def test_a_resume_keeps_the_participant_only_while_the_server_still_has_it(server: LiveServer) -> None:
    """The page resumes on a new socket (``?resume=<participant>``) before it closes the old one, which may only
    have been slow: then the participant stays, and the old socket's close makes no one leave. Had the old socket
    closed first, the server would have let the participant go, and the resume gets a new one."""
    links = await links_for(server, ["bruker"])
    host = await host_client(server.url, links["host"], None)
    user = CallClient(links["bruker"], None)
    ws_url = links["bruker"].replace("http", "ws", 1) + "/ws"
    try:
        await host.open_signalling()
        await host.enter()
        await user.open_signalling()
        await user.enter(host=host)
        pid, old = user.pid, user.ws
        assert old is not None
        before = len(host.messages)
        async with user.session.ws_connect(f"{ws_url}?resume={pid}") as resumed:
            assert (await resumed.receive_json(timeout=10))["participant"] == pid
            await old.close()  # the page closes the old socket once the new one is welcomed
            await resumed.send_json({"type": "ping", "t": 1})
            while (await resumed.receive_json(timeout=10))["type"] != "pong":
                pass
            assert not [m for m in host.messages[before:] if m["type"] == "participant-left"]
            room = next(iter(server.app[LIVE].meetings.values())).room
            assert room.participants[pid].in_call
        await host.wait_for("participant-left", after=before, participant=pid)  # it closed without resuming
        async with user.session.ws_connect(f"{ws_url}?resume={pid}") as late:
            assert (await late.receive_json(timeout=10))["participant"] != pid  # too late: a new participant
    finally:
        await user.close()
        await host.close()


async def test_logs_carry_no_join_token_and_no_sdp(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    links = await links_for(server, ["bruker"])
    client = CallClient(links["bruker"], ArrayVideoTrack(clip_frames()[:15]))
    try:
        await client.connect()
        await client.send({"type": "offer", "sdp": "v=0\r\ncanary-sdp-7f3a"})
        await client.wait_for("error")
    finally:
        await client.close()
    text = "\n".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if r.name.split(".")[0] in {"web", "session", "privacy", "aiohttp"}
    )
    token = links["bruker"].rsplit("/", 1)[1]
    assert token not in text
    assert "canary-sdp-7f3a" not in text


async def test_metrics_and_health(server: LiveServer, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        for path, expected in (("/internal/isalive", 200), ("/internal/isready", 200)):
            async with http.get(server.url + path) as resp:
                assert resp.status == expected
        async with http.get(server.url + "/internal/metrics") as resp:
            body = await resp.text()
        assert "samhandling_peer_connections" in body and "samhandling_video_frames" in body
