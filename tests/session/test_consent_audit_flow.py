"""Consent and audit through the real server with aiortc peers, then verified offline with the CLI."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from privacy.records.keys import PUBLIC_KEY_FILE
from session.meeting import consent_flow
from tests.aiortc_client import ArrayVideoTrack, CallClient, frames_from, host_client
from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, create_meeting, server_settings, staff_client, start_server
from tests.media import clip_frames
from web.cli import main
from web.keys import ENGINE, LIVE, RECORDINGS, RECORDS, RELAY

pytestmark = pytest.mark.timeout(90)


async def test_consent_opens_the_users_media_and_the_chain_verifies_offline(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await staff_client(server)
    links = await create_meeting(client, server, ["bruker"])
    await client.close()
    host = await host_client(server.url, links["host"], ArrayVideoTrack(clip_frames()[:30]))
    user = CallClient(links["bruker"], ArrayVideoTrack(clip_frames()[:30]))
    try:
        await host.connect()
        await host.enter()
        await user.connect()
        await user.enter(host=host)
        await host.confirm_roster()
        privacy = server.app[RELAY].privacy_track(user.pid)
        assert privacy is not None and privacy.gate == "consent"

        # Bad consent input: refused with a reason, nothing recorded.
        bad_inputs: list[dict[str, object]] = [
            {"scopes": ["teleport"]},
            {"scopes": ["face_visible"]},  # no time limit
            {"purpose": "   "},
            {"purpose": "Tilpasning av stol for Ola"},  # free text as the purpose: chosen from the list only
            {"note": "styringssystem 01019912368"},  # an identity number, check digits wrong or not
            {"participant": host.pid},  # consent is about the user
        ]
        for bad in bad_inputs:
            before = len(host.messages)
            msg: dict[str, object] = {"type": "consent", "participant": user.pid, "giver": "user", "form": "oral"}
            msg |= {"scopes": ["video"], "purpose": "posisjonering"} | bad
            await host.send(msg)
            err = await host.wait_for("error", after=before)
            assert err["message"]
        before = len(user.messages)
        await user.send({"type": "consent-withdraw", "participant": user.pid, "consent_id": "never-given"})
        await user.wait_for("error", after=before)
        async with server.app[ENGINE].connect() as conn:
            rows = (await conn.execute(sa.text("SELECT count(*) FROM privacy_consent_ledger"))).scalar_one()
        assert rows == 0, "a refused consent was recorded"

        recorded = await host.consent_for(user, ["video", "audio"])
        assert privacy.gate == "open"
        slot = (await host.wait_for("slot", participant=user.pid))["slot"]
        assert len(await frames_from(host.slot_video[slot], 3)) == 3

        before = len(host.messages)
        await host.send({"type": "consent-withdraw", "participant": user.pid, "consent_id": recorded["consent_id"]})
        await host.wait_for("consent", after=before, participant=user.pid, scopes=[])
        assert privacy.gate == "consent"
    finally:
        await host.close()
        await user.close()
    await asyncio.sleep(0.2)

    key = server.settings.data_dir / "keys" / PUBLIC_KEY_FILE
    db = server.settings.database_url
    assert await asyncio.to_thread(main, ["audit", "verify", "--db", db, "--public-key", str(key)]) == 0
    capsys.readouterr()

    path = server.settings.data_dir / "samhandling.db"
    with sqlite3.connect(path) as conn:
        seq, payload = conn.execute(
            "SELECT seq, payload FROM privacy_audit_log ORDER BY seq LIMIT 1 OFFSET 1"
        ).fetchone()
        conn.execute(
            "UPDATE privacy_audit_log SET payload = ? WHERE seq = ?", (payload.replace("bruker", "tekniker"), seq)
        )
    assert await asyncio.to_thread(main, ["audit", "verify", "--db", db, "--public-key", str(key)]) == 1
    out = capsys.readouterr()
    assert f"seq={seq}" in out.out + out.err


async def test_face_visible_reverts_to_anonymized_when_its_time_is_up(tmp_path: Path) -> None:
    clock = FakeClock()
    server = await start_server(server_settings(tmp_path / "data"), clock=clock)
    client = await staff_client(server)
    links = await create_meeting(client, server, ["bruker"])
    await client.close()
    host, user = await host_client(server.url, links["host"], None), CallClient(links["bruker"], None)
    try:
        await host.connect()
        await host.enter()
        await user.connect()
        await user.enter(host=host)
        await host.confirm_roster()
        await host.consent_for(user, ["video", "audio", "face_visible"], face_visible_minutes=5)
        privacy = server.app[RELAY].privacy_track(user.pid)
        assert privacy is not None and privacy.gate == "face_visible"

        meeting = next(iter(server.app[LIVE].meetings.values()))
        timer = meeting.timers[f"link-{meeting.room.participants[user.pid].invitation_id}"]
        assert 290 < timer.when() - asyncio.get_running_loop().time() <= 300  # fires at the end of the limit

        assert privacy.face_visible_until == clock() + timedelta(minutes=5) and privacy.gate_now() == "face_visible"
        clock.advance(minutes=5, seconds=1)
        assert privacy.gate_now() == "open"  # the gate holds its end itself: anonymized before any timer fires
        subject = meeting.room.participants[user.pid]
        live = server.app[LIVE]
        await live.carry_out(meeting, await consent_flow.refresh(live.services, meeting, subject))
        assert privacy.gate == "open"  # anonymized again, video consent still holds
        actions = [v.record.action for v in await server.app[RECORDS].audit.entries(org_ids=None)]
        assert actions.index("face_visible.start") < actions.index("face_visible.end")
    finally:
        await host.close()
        await user.close()
        await server.stop()


async def test_withdrawing_consent_to_recording_stops_and_deletes_the_recording(server: LiveServer) -> None:
    client = await staff_client(server)
    links = await create_meeting(client, server, ["bruker"])
    await client.close()
    host = await host_client(server.url, links["host"], ArrayVideoTrack(clip_frames()[:30]))
    user = CallClient(links["bruker"], ArrayVideoTrack(clip_frames()[:30]))
    try:
        await host.connect()
        await host.enter()
        await user.connect()
        await user.enter(host=host)
        await host.confirm_roster()
        consent = await host.consent_for(user, ["video", "audio", "recording"])
        await host.send({"type": "record-start", "reason": "Dokumentere tilpasningen", "deadline_days": 7})
        await user.wait_for("recording", on=True)
        await asyncio.sleep(1.5)
        before = len(user.messages)
        await user.send({"type": "consent-withdraw", "participant": user.pid, "consent_id": consent["consent_id"]})
        await user.wait_for("recording", after=before, on=False)
        (entry,) = await server.app[RECORDINGS].compliance_view(None)
        assert entry.recording.state == "deleted" and entry.certificate is not None
        assert not [p for p in (server.settings.data_dir / "recordings").rglob("*") if p.is_file()]
    finally:
        await host.close()
        await user.close()
