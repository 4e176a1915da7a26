"""Two nodes, one PostgreSQL, HAProxy in front (deploy/haproxy.cfg), all real processes on loopback.

Proves what a multi-node deployment promises: a meeting's participants land on one node and see each other,
meetings spread over the nodes, a right removed on one node ends a call on the other within a second, the drop-in
line is one line, the signed chains stay whole under concurrent appends from both nodes, SIGTERM drains a node
(its calls are told and rejoin on the other), a SIGKILLed node's participants rejoin elsewhere within ten seconds
and its recording becomes ``broken`` and stays deletable with a certificate, and a database restart is reported
as not-ready and recovered from without help. The tests share one cluster and run in this order.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import text

from tests.aiortc_client import ArrayVideoTrack, CallClient, frames_from, host_client
from tests.cluster.support import REPO, Cluster, Node, http_status, wait_until
from tests.live_server import RemoteServer, create_meeting, csrf_of, staff_client
from tests.media import clip_frames
from web.database import create_engine

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

KARI, TOR, TECHNICIAN, NINA = 1, 2, 4, 7
CENTRE = 3


async def links_for(url: str, staff_id: int, roles: list[str]) -> dict[str, str]:
    client = await staff_client(RemoteServer(url), staff_id)
    try:
        return await create_meeting(client, RemoteServer(url), roles)
    finally:
        await client.close()


async def call_of_two(cluster: Cluster, links: dict[str, str], staff_id: int = NINA) -> tuple[CallClient, CallClient]:
    """The host and the user of a meeting, both through HAProxy, entered and with the roster confirmed."""
    host = await host_client(cluster.url, links["host"], ArrayVideoTrack(clip_frames()[:30]), staff_id=staff_id)
    user = CallClient(links["bruker"], ArrayVideoTrack(clip_frames()[:30]))
    await host.connect()
    await host.enter()
    await user.connect()
    await user.enter(host=host)
    await host.confirm_roster()
    return host, user


async def holder(cluster: Cluster) -> Node:
    """The one node with participants connected (tests keep one meeting live at a time)."""
    found: list[Node] = []

    def one() -> bool:
        found[:] = [n for n in cluster.nodes.values() if n.participants() > 0]
        return len(found) == 1

    await asyncio.to_thread(wait_until, one, 10, "exactly one node holding the meeting")
    return found[0]


async def restart(cluster: Cluster, node: Node) -> None:
    node.start()
    await asyncio.to_thread(node.wait_ready)
    await asyncio.to_thread(cluster.wait_for_servers, {node.name: "UP"})


def audit_verify(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "web.cli", "audit", "verify", "--db", cluster.pg.url,
               "--public-key", str(cluster.public_key)]  # fmt: skip
    env = cluster.nodes["a"].env
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


async def test_a_meetings_participants_land_on_one_node_and_see_each_other(cluster: Cluster) -> None:
    links = await links_for(cluster.url, NINA, ["bruker"])
    host, user = await call_of_two(cluster, links)
    try:
        slot = await host.wait_for("slot", participant=user.pid)
        assert all(f.shape == (480, 640, 3) for f in await frames_from(host.slot_video[slot["slot"]], 3))
        slot = await user.wait_for("slot", participant=host.pid)
        assert all(f.shape == (480, 640, 3) for f in await frames_from(user.slot_video[slot["slot"]], 3))
        counts = sorted(node.participants() for node in cluster.nodes.values())
        assert counts == [0, 2]
    finally:
        await host.close()
        await user.close()


async def test_meetings_spread_over_both_nodes(cluster: Cluster) -> None:
    """New meetings are placed by the hash of their random id: with both nodes up, both get some. Meetings are
    opened until both have one, at most sixteen (2^-15 that a fair hash puts sixteen on one side)."""
    await asyncio.to_thread(cluster.wait_for_servers, {"a": "UP", "b": "UP"})
    nina = await staff_client(RemoteServer(cluster.url), NINA)
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    counts: dict[str, int] = {}
    try:
        while len(sockets) < 16 and not (counts and min(counts.values()) > 0):
            links = await create_meeting(nina, RemoteServer(cluster.url), ["bruker"])
            async with nina.get(links["host"]) as page:
                assert page.status == 200
            ws = await nina.ws_connect(links["host"].replace("http", "ws", 1) + "/ws")
            assert (await ws.receive_json(timeout=10))["type"] == "welcome"
            sockets.append(ws)
            counts = {name: node.participants() for name, node in cluster.nodes.items()}
        assert sum(counts.values()) == len(sockets) and min(counts.values()) > 0, (counts, cluster.server_states())
    finally:
        for ws in sockets:
            await ws.close()
        await nina.close()


async def test_the_dropin_line_is_one_line_across_nodes(cluster: Cluster) -> None:
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    public, staff = f"/teknisk/{CENTRE}", f"/staff/dropin/teknisk/{CENTRE}"
    technician = await staff_client(RemoteServer(cluster.url), TECHNICIAN)
    first, second = aiohttp.ClientSession(), aiohttp.ClientSession()
    try:
        async with technician.get(f"{a.url}{staff}") as resp:
            token = csrf_of(await resp.text())
        today = datetime.now(ZoneInfo("Europe/Oslo")).date().isoformat()
        opening = {"csrf": token, "day": today, "opens": "00:00", "closes": "23:59", "reason": "Klyngetest"}
        async with technician.post(f"{a.url}{staff}/avvik", data=opening, allow_redirects=False) as resp:
            assert resp.status == 303  # open all day today, whatever the time of the test run
        async with first.post(f"{a.url}{public}/ko", data={"role": "bruker"}, allow_redirects=False) as resp:
            assert resp.status == 303
            first_path = resp.headers["Location"]
        async with second.post(f"{b.url}{public}/ko", data={"role": "leverandor"}, allow_redirects=False) as resp:
            assert resp.status == 303
            second_path = resp.headers["Location"]
        async with technician.get(f"{b.url}{staff}/ko.json") as resp:
            listed = await resp.json()
        assert [(w["position"], w["role"]) for w in listed["waiting"]] == [(1, "Bruker"), (2, "Leverandør")]
        async with technician.post(f"{b.url}{staff}/neste", data={"csrf": token}, allow_redirects=False) as resp:
            assert resp.status == 303
        async with first.post(f"{a.url}{first_path}/status") as resp:
            body = await resp.json()
        assert body["state"] == "called" and body["destination"].startswith("/j/")
        async with second.post(f"{a.url}{second_path}/status") as resp:
            assert (await resp.json())["position"] == 1
    finally:
        for session in (technician, first, second):
            await session.close()


async def test_signed_chains_verify_after_concurrent_appends_from_both_nodes(cluster: Cluster) -> None:
    nina = await staff_client(RemoteServer(cluster.url), NINA)
    calls: list[CallClient] = []
    try:
        # Audit entries: meetings and links created on both nodes at once.
        nodes = [RemoteServer(node.url) for node in cluster.nodes.values()]
        creations = [create_meeting(nina, node, ["bruker"]) for node in nodes for _ in range(5)]
        made = await asyncio.gather(*creations)
        # Consent entries: one live meeting on each node (joined straight on the node), consents given at once.
        pairs = []
        for node, links in zip(cluster.nodes.values(), made[::5], strict=True):
            direct = {role: link.replace(cluster.url, node.url) for role, link in links.items()}
            host = CallClient(direct["host"], None, session=nina)  # logged in through HAProxy
            user = CallClient(direct["bruker"], None)
            calls += [host, user]
            await host.connect()
            await host.enter()
            await user.connect()
            await user.enter(host=host)
            pairs.append((host, user))
        for _ in range(3):
            await asyncio.gather(*(host.consent_for(user, ["video", "audio"]) for host, user in pairs))
        result = await asyncio.to_thread(audit_verify, cluster)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "consent: gyldig" in result.stdout and "audit: gyldig" in result.stdout, result.stdout
    finally:
        for call in calls:
            await call.close()
        await nina.close()


async def test_a_right_removed_on_one_node_ends_a_call_on_the_other_within_a_second(cluster: Cluster) -> None:
    kari = await staff_client(RemoteServer(cluster.url), KARI)
    tor = await staff_client(RemoteServer(cluster.url), TOR)
    links = await create_meeting(kari, RemoteServer(cluster.url), ["bruker"])
    host = await host_client(cluster.url, links["host"], None, staff_id=KARI)
    try:
        await host.connect()
        await host.enter()
        other = cluster.other((await holder(cluster)).name)
        async with tor.get(f"{other.url}/staff/access/revoke?staff_id={KARI}&org=2") as resp:
            page = await resp.text()  # the confirmation page holds the form
        async with tor.post(
            f"{other.url}/staff/access/revoke", data={"csrf": csrf_of(page), "staff_id": str(KARI), "org": "2"}
        ) as resp:
            assert resp.status == 200
            removed = time.monotonic()  # the removal is committed when the other node answers
        ended = await host.wait_for("ended", timeout=3)
        assert ended["reason"] == "access_revoked"
        assert time.monotonic() - removed < 1.0
    finally:
        await host.close()
        await kari.close()
        await tor.close()


async def test_sigterm_drains_a_node_and_its_calls_rejoin_on_the_other(cluster: Cluster) -> None:
    links = await links_for(cluster.url, NINA, ["bruker"])
    host, user = await call_of_two(cluster, links)
    rejoined: CallClient | None = None
    try:
        draining = await holder(cluster)
        draining.signal(signal.SIGTERM)
        for call in (host, user):
            ended = await call.wait_for("ended", timeout=15)
            assert ended["reason"] == "server_shutdown"  # the page says «Møtet avsluttes på denne serveren»
        assert await asyncio.to_thread(draining.wait_exit) == 0
        assert http_status(cluster.url + "/internal/isready") == 200
        user.close_session = False
        started = time.monotonic()
        rejoined = CallClient(links["bruker"], None, session=user.session)  # same device, same link
        await rejoined.connect()
        assert time.monotonic() - started < 10
        assert cluster.other(draining.name).participants() == 1
    finally:
        for call in [c for c in (host, user, rejoined) if c is not None]:
            await call.close()
        await user.session.close()
    await restart(cluster, draining)


async def test_a_live_meeting_stays_on_its_node_when_the_other_node_comes_back(cluster: Cluster) -> None:
    """Meetings opened while node b was away live on node a. When b is back, consistent hashing alone would send
    about half of their later participants to b, splitting each of those meetings in two; HAProxy's stick table
    keeps every participant of a live meeting on the node that holds it."""
    away = cluster.nodes["b"]
    away.signal(signal.SIGTERM)
    assert await asyncio.to_thread(away.wait_exit) == 0
    await asyncio.to_thread(cluster.wait_for_servers, {"b": "DOWN"})
    staff = await staff_client(RemoteServer(cluster.url), NINA)
    guest = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def join(client: aiohttp.ClientSession, link: str) -> None:
        async with client.get(link) as page:
            assert page.status == 200
        ws = await client.ws_connect(link.replace("http", "ws", 1) + "/ws")
        assert (await ws.receive_json(timeout=10))["type"] == "welcome"
        sockets.append(ws)

    try:
        meetings = [await create_meeting(staff, RemoteServer(cluster.url), ["bruker"]) for _ in range(8)]
        for links in meetings:
            await join(staff, links["host"])
        assert cluster.nodes["a"].participants() == 8
        await restart(cluster, away)
        for links in meetings:  # 2^-8 that all eight would hash to a anyway
            await join(guest, links["bruker"])
        assert (cluster.nodes["a"].participants(), away.participants()) == (16, 0)
    finally:
        for ws in sockets:
            await ws.close()
        await staff.close()
        await guest.close()
    nodes = list(cluster.nodes.values())
    await asyncio.to_thread(wait_until, lambda: all(n.participants() == 0 for n in nodes), 10, "the meetings closed")


async def recording_state(cluster: Cluster, recording_id: str) -> str:
    engine = create_engine(cluster.pg.url)
    try:
        async with engine.connect() as conn:
            query = text("SELECT state FROM recordings WHERE id = :id")
            return str((await conn.execute(query, {"id": recording_id})).scalar())
    finally:
        await engine.dispose()


async def active_recording(cluster: Cluster) -> str:
    engine = create_engine(cluster.pg.url)
    try:
        async with engine.connect() as conn:
            (rid,) = (await conn.execute(text("SELECT id FROM recordings WHERE state = 'recording'"))).scalars()
            return str(rid)
    finally:
        await engine.dispose()


async def test_sigkill_mid_call_participants_rejoin_elsewhere_and_the_recording_is_broken_but_deletable(
    cluster: Cluster,
) -> None:
    links = await links_for(cluster.url, NINA, ["bruker"])
    host, user = await call_of_two(cluster, links)
    rejoined: CallClient | None = None
    nina = await staff_client(RemoteServer(cluster.url), NINA)
    try:
        await host.consent_for(user, ["video", "audio", "recording"])
        await host.send({"type": "record-start", "reason": "Dokumentere tilpasningen", "deadline_days": 7})
        try:
            await user.wait_for("recording", on=True, timeout=30)  # the recorder starts slowly on a busy machine
        except TimeoutError:
            errors = [m for m in host.messages if m["type"] == "error"]
            raise AssertionError(f"recording did not start: {errors}") from None
        recording_id = await active_recording(cluster)
        killed = await holder(cluster)
        await asyncio.sleep(1.5)  # a few sealed chunks
        killed.signal(signal.SIGKILL)
        started = time.monotonic()
        killed.wait_exit()
        user.close_session = False
        rejoined = CallClient(links["bruker"], None, session=user.session)
        while True:  # a participant's page reconnects when the link is opened again
            try:
                await rejoined.connect()
                break
            except (AssertionError, aiohttp.ClientError, TimeoutError):
                await rejoined.close()
                assert time.monotonic() - started < 10
                await asyncio.sleep(0.5)
                rejoined = CallClient(links["bruker"], None, session=user.session)
        assert time.monotonic() - started < 10
        assert cluster.other(killed.name).participants() == 1

        async def broken() -> bool:
            return await recording_state(cluster, recording_id) == "broken"

        deadline = time.monotonic() + 20
        while not await broken():
            assert time.monotonic() < deadline, "the dead node's recording was not marked broken"
            await asyncio.sleep(0.5)
        async with nina.get(f"{cluster.url}/staff/recordings/{recording_id}/delete") as resp:
            page = await resp.text()  # deleting asks first; the confirmation page holds the form
            assert resp.status == 200
        async with nina.post(
            f"{cluster.url}/staff/recordings/{recording_id}/delete", data={"csrf": csrf_of(page)}
        ) as resp:
            assert resp.status == 200
        async with nina.get(f"{cluster.url}/staff/recordings/{recording_id}/certificate") as resp:
            assert resp.status == 200 and recording_id in await resp.text()
        assert await recording_state(cluster, recording_id) == "deleted"
        result = await asyncio.to_thread(audit_verify, cluster)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        for call in [c for c in (host, user, rejoined) if c is not None]:
            await call.close()
        await user.session.close()
        await nina.close()
    await restart(cluster, killed)


async def test_a_database_restart_is_reported_not_ready_and_recovered_from(cluster: Cluster) -> None:
    a = cluster.nodes["a"]
    await asyncio.to_thread(cluster.pg.stop)
    try:
        await asyncio.to_thread(wait_until, lambda: http_status(a.url + "/internal/isready", 5) == 503, 15, "503")
    finally:
        await asyncio.to_thread(cluster.pg.start)
    for node in cluster.nodes.values():
        await asyncio.to_thread(
            wait_until, lambda n=node: http_status(n.url + "/internal/isready", 5) == 200, 30, "ready again"
        )
    links = await links_for(cluster.url, NINA, ["bruker"])  # pages that write to the database work again
    assert "bruker" in links
