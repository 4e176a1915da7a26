"""``samhandling serve --workers 2``: one address, two worker processes, each room in exactly one of them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.live_server import RemoteServer, create_meeting, csrf_of, free_port, staff_client
from tests.session.attempt_store_checks import stored_bytes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def worker_participants(http: aiohttp.ClientSession, url: str) -> list[int]:
    counts = []
    for worker in (0, 1):
        async with http.get(f"{url}/internal/metrics?worker={worker}") as resp:
            text = await resp.text()
        match = re.search(r"^samhandling_participants (\S+)$", text, re.M)
        counts.append(int(float(match.group(1))) if match else 0)
    return counts


async def test_rooms_are_pinned_to_one_worker_spread_over_both_and_drained_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "SAMHANDLING_DATA_DIR": str(tmp_path / "var"),
        "SAMHANDLING_ICE_LOOPBACK": "true",
        "SAMHANDLING_DEV_MODE": "true",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "serve", "--demo", "--workers", "2", "--host", "127.0.0.1",
        "--port", str(port), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(1200):
                try:
                    async with http.get(url + "/internal/isready") as resp:
                        if resp.status == 200 and 0 not in await _ready_workers(http, url):
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            server = RemoteServer(url)
            staff = await staff_client(server)
            guest = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            try:
                first = await create_meeting(staff, server, ["bruker"])
                for client, link in ((staff, first["host"]), (guest, first["bruker"])):
                    async with client.get(link) as page:
                        assert page.status == 200
                    ws = await client.ws_connect(link.replace("http", "ws", 1) + "/ws")
                    assert (await ws.receive_json(timeout=10))["type"] == "welcome"
                    sockets.append(ws)
                assert sorted(await worker_participants(http, url)) == [0, 2]  # both in one worker
                rooms = 1
                while min(counts := await worker_participants(http, url)) == 0 and rooms < 20:
                    links = await create_meeting(staff, server, ["bruker"])  # a random id: hashed to either worker
                    async with staff.get(links["host"]) as page:
                        assert page.status == 200
                    ws = await staff.ws_connect(links["host"].replace("http", "ws", 1) + "/ws")
                    assert (await ws.receive_json(timeout=10))["type"] == "welcome"
                    sockets.append(ws)
                    rooms += 1
                assert sum(counts) == rooms + 1 and min(counts) > 0, counts  # 2^-18 that 19 rooms hash alike

                proc.send_signal(signal.SIGTERM)
                seen = []
                async for msg in sockets[1]:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        seen.append(json.loads(msg.data))
                assert {"type": "ended", "reason": "server_shutdown"} in seen
            finally:
                await staff.close()
                await guest.close()
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _ready_workers(http: aiohttp.ClientSession, url: str) -> list[int]:
    """1 for each worker whose metrics answer (it is up), else 0."""
    states = []
    for worker in (0, 1):
        async with http.get(f"{url}/internal/metrics?worker={worker}") as resp:
            states.append(1 if resp.status == 200 else 0)
    return states


async def test_failed_code_guesses_count_in_every_worker(tmp_path: Path) -> None:
    """The front sends ``/kode`` round the workers, so six wrong codes are three in each: only counts kept in the
    shared database make the seventh try wait (a per-process count would still have free failures in both)."""
    port = free_port()
    env = os.environ | {"SAMHANDLING_DATA_DIR": str(tmp_path / "var"), "SAMHANDLING_DEV_MODE": "true"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "serve", "--demo", "--workers", "2", "--host", "127.0.0.1",
        "--port", str(port), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(1200):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(url + "/internal/isready") as resp:
                        if resp.status == 200 and sum(await _ready_workers(http, url)) == 2:
                            break
                await asyncio.sleep(0.1)
        server = RemoteServer(url)
        staff = await staff_client(server)
        try:
            async with staff.get(f"{url}/staff") as resp:
                csrf = csrf_of(await resp.text())
            form = aiohttp.FormData({"csrf": csrf, "topic": "Hodestøtte", "kind": "bolig", "roles": "bruker"})
            async with staff.post(f"{url}/staff/meetings", data=form) as resp:
                code = re.search(r'data-code="(\d{12})"', await resp.text())
            assert code
        finally:
            await staff.close()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
            wrong = f"{(int(code.group(1)) + 1) % 10**12:012d}"
            pages = []
            for _ in range(6):  # five free failures; the sixth makes the next try wait 2 s
                async with phone.post(f"{url}/kode", data={"code": wrong}) as resp:
                    assert resp.status == 400
                    pages.append(await resp.text())
            async with phone.post(f"{url}/kode", data={"code": code.group(1)}, allow_redirects=False) as resp:
                assert resp.status == 400, "the right code waits too, whichever worker gets it"
                assert await resp.text() == pages[-1], "waiting gets exactly the answer a wrong code gets"
            await asyncio.sleep(2.2)
            async with phone.post(f"{url}/kode", data={"code": code.group(1)}, allow_redirects=False) as resp:
                assert resp.status == 303 and resp.headers["Location"].startswith("/j/")
        stored = stored_bytes(tmp_path / "var", "*.db*")
        assert b"attempt_failures" in stored and b"127.0.0.1" not in stored, "no client address in the database"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
