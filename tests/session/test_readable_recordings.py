"""Recordings people can read (topic, reason, both organisations, local times) and destructive actions that
ask first on a page that says what will happen (delete a recording now, remove a right)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.aiortc_client import ArrayVideoTrack, CallClient, host_client
from tests.live_server import LiveServer, create_meeting, csrf_of, server_settings, staff_client, start_server
from tests.media import clip_frames
from web.keys import RECORDINGS

pytestmark = pytest.mark.timeout(120)
LOCAL = re.compile(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}")


async def test_the_list_reads_plainly_and_deleting_asks_first(tmp_path: Path) -> None:
    server = await start_server(server_settings(tmp_path / "data"))
    kari = await staff_client(server, 1)
    nina = await staff_client(server, 7)  # another municipality
    try:
        links = await create_meeting(kari, server, ["bruker"], topic="Tilpasning av rullestol")
        host = await host_client(server.url, links["host"], ArrayVideoTrack(clip_frames()[:20]))
        user = CallClient(links["bruker"], ArrayVideoTrack(clip_frames()[:20]))
        await host.connect()
        await host.enter()
        await user.connect()
        await user.enter(host=host)
        await host.confirm_roster()
        await host.consent_for(user, ["video", "audio", "recording"])
        await host.send({"type": "record-start", "reason": "Dokumentere sittestillingen", "deadline_days": 7})
        await user.wait_for("recording", on=True)
        await asyncio.sleep(1.0)
        await host.send({"type": "record-stop"})
        await user.wait_for("recording", on=False)
        await host.close()
        await user.close()
        (entry,) = await server.app[RECORDINGS].compliance_view(None)
        rid = entry.recording.id

        async with kari.get(f"{server.url}/staff/recordings") as resp:
            listing = await resp.text()
        row = listing[listing.index(f'data-recording="{rid}"') :].split("</tr>")[0]
        assert "Tilpasning av rullestol" in row and "Dokumentere sittestillingen" in row
        # Both ends are parties: the municipal unit and the hjelpemiddelsentral.
        assert "<td>Eksempel kommune, ergoterapitjenesten; NAV Hjelpemiddelsentral Eksempel</td>" in row, row
        assert len(LOCAL.findall(row)) >= 2 and "Europe/Oslo" in listing

        async with kari.get(f"{server.url}/staff/recordings/{rid}") as resp:
            page = await resp.text()
        assert (
            f'href="/staff/recordings/{rid}/delete"' in page
            and 'action="/staff/recordings/' + rid + '/delete"' not in page
        )
        async with nina.get(f"{server.url}/staff/recordings/{rid}/delete") as resp:
            assert resp.status == 404
        async with kari.get(f"{server.url}/staff/recordings/{rid}/delete") as resp:
            confirm = await resp.text()
        assert resp.status == 200 and "Slette opptaket nå?" in confirm and "kan ikke angres" in confirm
        assert "Tilpasning av rullestol" in confirm
        (entry,) = await server.app[RECORDINGS].compliance_view(None)
        assert entry.recording.state == "ready"  # looking at the question deletes nothing
        async with kari.post(f"{server.url}/staff/recordings/{rid}/delete", data={"csrf": csrf_of(confirm)}) as resp:
            assert resp.status == 200
        (entry,) = await server.app[RECORDINGS].compliance_view(None)
        assert entry.recording.state == "deleted"
    finally:
        await kari.close()
        await nina.close()
        await server.stop()


async def test_removing_a_right_asks_first_and_says_what_happens(server: LiveServer) -> None:
    tor = await staff_client(server, 2)
    try:
        async with tor.get(f"{server.url}/staff/access") as resp:
            page = await resp.text()
        assert 'href="/staff/access/revoke?staff_id=1&amp;org=2"' in page
        async with tor.get(f"{server.url}/staff/access/revoke?staff_id=1&org=2") as resp:
            confirm = await resp.text()
        assert resp.status == 200 and "Kari Ergo" in confirm and "Eksempel kommune, ergoterapitjenesten" in confirm
        assert "avsluttet med en gang" in confirm and "logget ut på alle enheter" in confirm
        async with tor.get(f"{server.url}/staff/access/revoke?staff_id=7&org=5") as resp:
            assert resp.status == 404  # not someone this access manager manages
        async with tor.get(f"{server.url}/staff/access/revoke?staff_id=x") as resp:
            assert resp.status == 400
        async with tor.post(
            f"{server.url}/staff/access/revoke", data={"csrf": csrf_of(confirm), "staff_id": "1", "org": "2"}
        ) as resp:
            assert resp.status == 200
            assert "Kari Ergo" not in await resp.text()
    finally:
        await tor.close()
