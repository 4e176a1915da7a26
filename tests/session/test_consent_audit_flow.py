"""Consent and audit through the real server with aiortc peers, then verified offline with the CLI."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
import sqlalchemy as sa

from privacy.keys import PUBLIC_KEY_FILE
from tests.aiortc_client import ArrayVideoTrack, CallClient, frames_from
from tests.live_server import LiveServer, create_meeting, staff_client
from tests.media import clip_frames
from web.app import ENGINE, RELAY
from web.cli import main

pytestmark = pytest.mark.timeout(90)


async def test_consent_opens_the_users_media_and_the_chain_verifies_offline(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await staff_client(server)
    links = await create_meeting(client, server, ["bruker"])
    await client.close()
    host = CallClient(links["host"], ArrayVideoTrack(clip_frames()[:30]))
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
        for bad in (
            {"scopes": ["teleport"]},
            {"scopes": ["face_visible"]},  # no time limit
            {"purpose": "   "},
            {"participant": host.pid},  # consent is about the user
        ):
            before = len(host.messages)
            msg = {"type": "consent", "participant": user.pid, "giver": "user", "form": "oral"}
            msg |= {"scopes": ["video"], "purpose": "Posisjonering"} | bad
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
