"""A recording through its whole life over HTTP: export with custody, deletion, confirmation, isolation."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.aiortc_client import ArrayVideoTrack, CallClient, host_client
from tests.live_server import create_meeting, csrf_of, server_settings, staff_client, start_server
from tests.media import clip_frames
from web.keys import RECORDINGS

pytestmark = pytest.mark.timeout(120)


async def test_export_custody_deletion_confirmation_and_isolation(tmp_path: Path) -> None:
    server = await start_server(server_settings(tmp_path / "data", recordings_export=True))
    kari = await staff_client(server, 1)
    nina = await staff_client(server, 7)  # another municipality
    try:
        links = await create_meeting(kari, server, ["bruker"])
        host = await host_client(server.url, links["host"], ArrayVideoTrack(clip_frames()[:30]))
        user = CallClient(links["bruker"], ArrayVideoTrack(clip_frames()[:30]))
        await host.connect()
        await host.enter()
        await user.connect()
        await user.enter(host=host)
        await host.confirm_roster()
        before = len(host.messages)
        await host.send({"type": "record-start", "reason": "Uten samtykke"})
        assert (await host.wait_for("error", after=before))["code"] == "not_allowed"
        await host.consent_for(user, ["video", "audio", "recording"])
        await host.send({"type": "record-start", "reason": "Dokumentere tilpasningen", "deadline_days": 400})
        assert "90" in (await host.wait_for("error", code="deadline_too_late"))["message"]
        await host.send({"type": "record-start", "reason": "Dokumentere tilpasningen", "deadline_days": 7})
        await user.wait_for("recording", on=True)
        await asyncio.sleep(1.5)
        await host.send({"type": "record-stop"})
        await user.wait_for("recording", on=False)
        await host.close()
        await user.close()
        (entry,) = await server.app[RECORDINGS].compliance_view(None)
        rid = entry.recording.id

        async with nina.get(f"{server.url}/staff/recordings/{rid}/media") as resp:
            assert resp.status == 404  # another organisation's recording is unknown to them
        async with kari.get(f"{server.url}/staff/recordings/{rid}") as resp:
            page = await resp.text()
        async with kari.post(
            f"{server.url}/staff/recordings/{rid}/export", data={"csrf": csrf_of(page), "reason": ""}
        ) as resp:
            assert resp.status == 403  # an export needs a reason
        async with kari.post(
            f"{server.url}/staff/recordings/{rid}/export", data={"csrf": csrf_of(page), "reason": "Til saken"}
        ) as resp:
            assert resp.status == 200 and resp.headers["Content-Disposition"].startswith("attachment")
            assert (await resp.read())[:4] == b"\x1a\x45\xdf\xa3"  # the explicit export is a playable WebM
        async with kari.post(f"{server.url}/staff/recordings/{rid}/delete", data={"csrf": csrf_of(page)}) as resp:
            assert resp.status == 200
        async with kari.post(f"{server.url}/staff/recordings/{rid}/confirm", data={"csrf": csrf_of(page)}) as resp:
            assert resp.status == 409  # the exported copy is still held
        async with kari.get(f"{server.url}/staff/recordings/{rid}") as resp:
            page = await resp.text()
        custody = re.search(r"/staff/custody/([^/]+)/close", page)
        assert custody
        async with kari.post(f"{server.url}/staff/custody/{custody.group(1)}/close", data={"csrf": csrf_of(page)}):
            pass
        async with kari.post(f"{server.url}/staff/recordings/{rid}/confirm", data={"csrf": csrf_of(page)}) as resp:
            assert resp.status == 200
        (entry,) = await server.app[RECORDINGS].compliance_view(None)
        # Both ends are parties: the municipality's unit has confirmed, the hjelpemiddelsentral has not.
        assert entry.recording.org_ids == (2, 3)
        assert entry.recording.state == "deleted" and entry.missing_confirmations == (3,)
        tor = await staff_client(server, 2)  # the access manager grants rights; confirming is not theirs
        async with tor.post(f"{server.url}/staff/recordings/{rid}/confirm", data={"csrf": csrf_of(page)}) as resp:
            assert resp.status == 403
        await tor.close()
        rita = await staff_client(server, 3)  # the centre's adviser sees the recording and their duty
        async with rita.get(f"{server.url}/staff/recordings") as resp:
            assert rid in await resp.text()
        async with rita.get(f"{server.url}/staff/recordings/{rid}") as resp:
            csrf = csrf_of(await resp.text())
        async with rita.post(f"{server.url}/staff/recordings/{rid}/confirm", data={"csrf": csrf}) as resp:
            assert resp.status == 200
        await rita.close()
        (entry,) = await server.app[RECORDINGS].compliance_view(None)
        assert entry.recording.state == "closed" and entry.certificate
        async with kari.get(f"{server.url}/staff/recordings/{rid}/certificate") as resp:
            certificate = await resp.text()
        path = tmp_path / "certificate.json"
        path.write_text(certificate)
        from web.cli import main

        key = server.settings.data_dir / "keys" / "ledger-ed25519.pub.pem"
        assert await asyncio.to_thread(main, ["recordings", "verify", str(path), "--public-key", str(key)]) == 0
        path.write_text(certificate.replace(rid, rid[::-1]))
        assert await asyncio.to_thread(main, ["recordings", "verify", str(path), "--public-key", str(key)]) == 1
    finally:
        await kari.close()
        await nina.close()
        await server.stop()
