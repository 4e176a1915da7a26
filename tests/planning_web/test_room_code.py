"""The fallback address: room code + PIN lead to a join link; guessing is slowed, nobody is locked out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from session.cluster_tables import attempt_failures
from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, server_settings, staff_client, start_server
from tests.planning_web.support import plan_meeting
from web import app as app_module
from web.client_address import parse_trusted_proxies
from web.keys import ENGINE


async def enter(
    client: aiohttp.ClientSession,
    server: LiveServer,
    code: str,
    pin: str,
    role: str,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    data = {"code": code, "pin": pin, "role": role}
    async with client.post(f"{server.url}/rom", data=data, allow_redirects=False, headers=headers) as resp:
        return resp.status, resp.headers.get("Location") or await resp.text()


async def test_room_code_and_pin_lead_to_a_link_for_an_invited_role(clocked: LiveServer) -> None:
    staff = await staff_client(clocked)
    try:
        invitations = await plan_meeting(staff, clocked)
    finally:
        await staff.close()
    async with aiohttp.ClientSession() as guest:
        async with guest.get(f"{clocked.url}/rom") as resp:
            page = await resp.text()
            assert resp.status == 200 and 'for="code"' in page and 'for="pin"' in page
        spaced = f"{invitations.code[:4]} {invitations.code[4:]}"
        status, location = await enter(guest, clocked, spaced, invitations.pin, "bruker")
        assert status == 303 and location.startswith("/j/")
        async with guest.get(f"{clocked.url}{location}") as resp:
            assert resp.status == 200 and "Bruker" in await resp.text()
        status, page = await enter(guest, clocked, invitations.code, invitations.pin, "leverandor")
        assert status == 400 and "ikke invitert" in page
        status, page = await enter(guest, clocked, invitations.code, invitations.pin, "sjef")
        assert status == 400 and "Velg hvem du er" in page


async def test_wrong_pins_slow_the_code_down_and_waiting_looks_like_wrong(
    clocked: LiveServer, clock: FakeClock
) -> None:
    staff = await staff_client(clocked)
    try:
        invitations = await plan_meeting(staff, clocked)
    finally:
        await staff.close()
    wrong = f"{(int(invitations.pin) + 1) % 10**6:06d}"
    async with aiohttp.ClientSession() as guest:
        pages = []
        for _ in range(6):  # five typing mistakes are free; the sixth makes the next try wait
            status, page = await enter(guest, clocked, invitations.code, wrong, "bruker")
            assert status == 403 and "stemmer ikke" in page
            pages.append(page)
        status, page = await enter(guest, clocked, invitations.code, invitations.pin, "bruker")
        assert status == 403 and page == pages[-1], "waiting gets exactly the answer a wrong PIN gets"
        status, page = await enter(guest, clocked, "0000 0000", "123456", "bruker")
        assert status == 403 and "stemmer ikke" in page  # unknown codes look like wrong PINs
        clock.advance(minutes=1)
        status, location = await enter(guest, clocked, invitations.code, invitations.pin, "bruker")
        assert status == 303 and location.startswith("/j/")


async def test_a_guesser_behind_the_proxy_cannot_lock_out_the_citizen(tmp_path: Path, clock: FakeClock) -> None:
    """Behind the TLS proxy every request comes from one address: limits follow the forwarded client address,
    and nothing a stranger does locks out someone else."""
    server = await start_server(
        server_settings(tmp_path / "data", trusted_proxies=parse_trusted_proxies("127.0.0.1")), clock=clock
    )
    try:
        staff = await staff_client(server)
        try:
            invitations = await plan_meeting(staff, server)
        finally:
            await staff.close()
        async with aiohttp.ClientSession() as guesser:
            for n in range(40):
                spoof = {"X-Forwarded-For": f"10.{n}.0.1, 203.0.113.5"}  # a client cannot choose its own key
                status, _ = await enter(guesser, server, f"1234 56{n:02d}", "000000", "bruker", headers=spoof)
                assert status == 403
        async with aiohttp.ClientSession() as citizen:
            status, location = await enter(
                citizen,
                server,
                invitations.code,
                invitations.pin,
                "bruker",
                headers={"X-Forwarded-For": "198.51.100.7"},
            )
            assert status == 303 and location.startswith("/j/")
        async with aiohttp.ClientSession() as guesser:
            status, _ = await enter(
                guesser, server, invitations.code, invitations.pin, "bruker", headers={"X-Forwarded-For": "203.0.113.5"}
            )
            assert status == 403, "the guesser itself waits, even with the right code"
    finally:
        await server.stop()


async def test_room_codes_never_hand_out_staff_roles(clocked: LiveServer) -> None:
    staff = await staff_client(clocked)
    try:
        invitations = await plan_meeting(staff, clocked)
    finally:
        await staff.close()
    async with aiohttp.ClientSession() as guest:
        async with guest.get(f"{clocked.url}/rom") as resp:
            page = await resp.text()
        assert 'value="bruker" selected' in page
        for role in ("formidler", "radgiver", "tekniker"):
            assert f'value="{role}"' not in page
            status, page = await enter(guest, clocked, invitations.code, invitations.pin, role)
            assert status == 400, role


async def test_two_servers_on_one_database_count_a_guessers_failures_together(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two app instances (two workers, or two nodes) share the database: wrong codes typed at either count against
    the one client, «wait» looks like «wrong» at both, and the quiet counts are swept away after a day."""
    monkeypatch.setattr(app_module, "ATTEMPT_SWEEP_S", 0.05)
    first = await start_server(server_settings(tmp_path / "data"), clock=clock)
    second = await start_server(server_settings(tmp_path / "data"), clock=clock)
    try:
        staff = await staff_client(first)
        try:
            invitations = await plan_meeting(staff, first)
        finally:
            await staff.close()
        async with aiohttp.ClientSession() as guest:
            pages = []
            for n in range(6):  # unknown codes (no room code's own count moves): three at each server
                status, page = await enter(guest, (first, second)[n % 2], f"9999 99{n:02d}", "123456", "bruker")
                assert status == 403 and "stemmer ikke" in page
                pages.append(page)
            for server in (first, second):
                status, page = await enter(guest, server, invitations.code, invitations.pin, "bruker")
                assert status == 403 and page == pages[-1], "the sixth failure makes the client wait at both"
            engine = first.app[ENGINE]
            async with engine.connect() as conn:
                rows = (await conn.execute(select(attempt_failures))).all()
            assert len(rows) == 1 and rows[0].failures == 6 and "127.0.0.1" not in rows[0].key_hash
            clock.advance(seconds=3)
            status, location = await enter(guest, second, invitations.code, invitations.pin, "bruker")
            assert status == 303 and location.startswith("/j/")
        clock.advance(hours=25)
        for _ in range(100):
            async with engine.connect() as conn:
                left = (await conn.execute(select(func.count()).select_from(attempt_failures))).scalar_one()
            if left == 0:
                break
            await asyncio.sleep(0.05)
        assert left == 0, "a client quiet for a day is forgotten by the servers' sweep"
    finally:
        await second.stop()
        await first.stop()
