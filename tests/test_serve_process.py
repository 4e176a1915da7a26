"""`samhandling serve` as an operator runs it: a real process that seeds, serves, and drains on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.live_server import RemoteServer, create_meeting, free_port, staff_client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_serve_prints_the_url_logs_json_and_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "SAMHANDLING_DATA_DIR": str(tmp_path / "var"),
        "SAMHANDLING_ICE_LOOPBACK": "true",
        "SAMHANDLING_DEV_MODE": "true",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "serve", "--demo", "--workers", "1", "--host", "127.0.0.1",
        "--port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert f"http://127.0.0.1:{port}/" in line
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(url + "/internal/isready") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            server = RemoteServer(url)
            client = await staff_client(server)
            links = await create_meeting(client, server, ["bruker"])
            async with client.get(links["host"]) as page:
                assert page.status == 200
            ws = await client.ws_connect(links["host"].replace("http", "ws", 1) + "/ws")
            assert (await ws.receive_json())["type"] == "welcome"
            proc.send_signal(signal.SIGTERM)
            seen = []
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    seen.append(json.loads(msg.data))
            assert {"type": "ended", "reason": "server_shutdown"} in seen
            await client.close()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert proc.stderr is not None
        logs = (await proc.stderr.read()).decode().splitlines()
        records = [json.loads(line) for line in logs if line.startswith("{")]
        assert records and all({"ts", "level", "msg"} <= set(r) for r in records)
        assert not any(links["host"].rsplit("/", 1)[1] in line for line in logs)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
