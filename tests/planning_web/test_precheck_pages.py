"""The pre-call check's page and its throughput endpoint, behind the invitation link."""

from __future__ import annotations

import aiohttp

from tests.live_server import LiveServer, staff_client
from tests.planning_web.support import plan_meeting


async def test_the_check_page_and_its_bounded_data_endpoint(clocked: LiveServer) -> None:
    staff = await staff_client(clocked)
    try:
        invitations = await plan_meeting(staff, clocked)
    finally:
        await staff.close()
    base = f"{clocked.url}/j/{invitations.tokens['bruker']}/sjekk"
    async with aiohttp.ClientSession() as guest:
        async with guest.get(base) as resp:
            page = await resp.text()
            assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        assert 'src="/static/precheck.js"' in page and "?mode=check" in page and 'role="status"' in page
        assert "samhandling_device" in resp.headers.get("Set-Cookie", "")
        async with guest.get(f"{base}/data?size=300000") as resp:
            body = await resp.read()
            assert resp.status == 200 and len(body) == 300_000
            assert resp.headers["Content-Type"] == "application/octet-stream"
        assert len(set(body[:4096])) > 200  # random, so no compression can flatter the link
        for size in ("0", "3000000", "mange"):
            async with guest.get(f"{base}/data?size={size}") as resp:
                assert resp.status == 400, size
        async with guest.post(f"{base}/data", data=b"\x01" * 700_000) as resp:
            assert resp.status == 200 and (await resp.json()) == {"bytes": 700_000}
        async with guest.post(f"{base}/data", data=b"\x01" * (1024 * 1024 + 1)) as resp:
            assert resp.status == 413
        async with guest.get(f"{clocked.url}/j/ikke-en-lenke/sjekk/data") as resp:
            assert resp.status == 403
        async with guest.get(f"{clocked.url}/j/ikke-en-lenke/sjekk", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 403 and "Lenken er ikke gyldig" in await resp.text()
