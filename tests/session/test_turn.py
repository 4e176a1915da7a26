"""TURN with time-limited credentials against a real coturn on 127.0.0.1 (``use-auth-secret``).

The server hands each browser a fresh credential in its ``config`` message and mints one for its own side;
with ``iceTransportPolicy: relay`` on both, media can only flow through coturn. An expired credential is
refused by coturn itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from session.media.turn_credentials import turn_credential
from tests.aiortc_client import ArrayVideoTrack, CallClient, frames_from, host_client
from tests.coturn import Coturn, needs_coturn
from tests.live_server import create_meeting, server_settings, staff_client, start_server
from tests.media import clip_frames
from web.settings import Secret

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120), needs_coturn]

DEV = {"SAMHANDLING_DEV_MODE": "true"}


def test_credentials_are_the_coturn_rest_scheme() -> None:
    username, password = turn_credential("s3cret", 3600, now=1_700_000_000.7, ident="abc")
    assert username == "1700003600:abc"
    assert password == base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()


async def allocate(coturn: Coturn, username: str, password: str) -> tuple[str, int]:
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol, ("127.0.0.1", coturn.port), username=username, password=password
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def test_coturn_accepts_a_fresh_credential_and_refuses_an_expired_one(coturn: Coturn) -> None:
    fresh = turn_credential(coturn.secret, 3600, now=time.time(), ident="t1")
    host, _port = await allocate(coturn, *fresh)
    assert host == "127.0.0.1"
    expired = turn_credential(coturn.secret, 3600, now=time.time() - 7200, ident="t1")
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, *expired)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401
    forged = (fresh[0], base64.b64encode(b"x" * 20).decode())
    with pytest.raises(stun.TransactionFailed):
        await allocate(coturn, *forged)


async def test_media_flows_through_turn_only_with_per_connection_credentials(coturn: Coturn, tmp_path: Path) -> None:
    settings = server_settings(
        tmp_path / "data",
        turn_urls=(coturn.url,),
        turn_secret=Secret(coturn.secret),
        turn_ttl_s=3600,
        ice_transport_policy="relay",
    )
    server = await start_server(settings)
    staff = await staff_client(server)
    client: CallClient | None = None
    try:
        links = await create_meeting(staff, server, ["bruker"])
        client = await host_client(server.url, links["host"], ArrayVideoTrack(clip_frames()[:30]))
        await client.connect()
        config = next(m for m in client.messages if m.get("type") == "config")
        assert config["iceTransportPolicy"] == "relay"
        (turn,) = [s for s in config["iceServers"] if s.get("username")]
        expiry, _ident = str(turn["username"]).split(":")
        assert 3500 < int(expiry) - time.time() <= 3600
        assert client.self_view is not None
        frames = await frames_from(client.self_view, 5)  # camera -> server -> back, both legs relayed by coturn
        assert len(frames) == 5
        assert client.pc is not None
        for sdp in (client.pc.localDescription.sdp, client.pc.remoteDescription.sdp):  # browser side, server side
            assert "typ relay" in sdp and "typ host" not in sdp and "typ srflx" not in sdp
        # Before a reconnection (hours later, perhaps) the browser asks for credentials minted now.
        await client.send({"type": "ice-refresh"})
        fresh = await client.wait_for("ice")
        (renewed,) = [s for s in fresh["iceServers"] if s.get("username")]
        assert renewed["username"] != turn["username"] and renewed["credential"] != turn["credential"]
        assert int(str(renewed["username"]).split(":")[0]) >= int(expiry)
        assert fresh["iceTransportPolicy"] == "relay"
    finally:
        if client is not None:
            await client.close()
        await staff.close()
        await server.stop()


def test_turn_settings_come_from_the_environment_and_the_secret_is_never_printed() -> None:
    from web.settings import SettingsError, load_settings

    env = {
        "SAMHANDLING_TURN_URLS": "turn:turn.example.no:3478?transport=udp, turns:turn.example.no:5349",
        "SAMHANDLING_TURN_SECRET": "canary-turn-secret",
        "SAMHANDLING_TURN_TTL_S": "7200",
        "SAMHANDLING_ICE_TRANSPORT_POLICY": "relay",
        **DEV,
    }
    settings = load_settings(env)
    assert settings.turn_urls == ("turn:turn.example.no:3478?transport=udp", "turns:turn.example.no:5349")
    assert "canary-turn-secret" not in repr(settings)
    (turn,) = settings.ice_servers_now(1_000_000.0)
    assert str(turn["username"]).startswith("1007200:") and turn["urls"] == list(settings.turn_urls)
    assert settings.ice_servers_now(1_000_000.0)[0]["username"] != turn["username"]  # one per connection
    assert load_settings(DEV).ice_servers_now(0.0) == []  # no TURN configured: nothing added
    with pytest.raises(SettingsError):
        load_settings({"SAMHANDLING_ICE_TRANSPORT_POLICY": "none", **DEV})
