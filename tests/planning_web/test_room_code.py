"""The fallback address: room code + PIN lead to a join link; wrong PINs lock the code for a while."""

from __future__ import annotations

import aiohttp

from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, staff_client
from tests.planning_web.support import plan_meeting


async def enter(client: aiohttp.ClientSession, server: LiveServer, code: str, pin: str, role: str) -> tuple[int, str]:
    data = {"code": code, "pin": pin, "role": role}
    async with client.post(f"{server.url}/rom", data=data, allow_redirects=False) as resp:
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


async def test_wrong_pins_lock_the_code_until_the_lockout_has_passed(clocked: LiveServer, clock: FakeClock) -> None:
    staff = await staff_client(clocked)
    try:
        invitations = await plan_meeting(staff, clocked)
    finally:
        await staff.close()
    wrong = f"{(int(invitations.pin) + 1) % 10000:04d}"
    async with aiohttp.ClientSession() as guest:
        for _ in range(4):
            status, page = await enter(guest, clocked, invitations.code, wrong, "bruker")
            assert status == 403 and "stemmer ikke" in page
        status, page = await enter(guest, clocked, invitations.code, wrong, "bruker")
        assert status == 429 and "for mange ganger" in page
        status, page = await enter(guest, clocked, invitations.code, invitations.pin, "bruker")
        assert status == 429, "the right PIN is refused too while the code is locked"
        status, page = await enter(guest, clocked, "0000 0000", "1234", "bruker")
        assert status == 403 and "stemmer ikke" in page  # unknown codes look like wrong PINs
        clock.advance(minutes=16)
        status, location = await enter(guest, clocked, invitations.code, invitations.pin, "bruker")
        assert status == 303 and location.startswith("/j/")


async def test_many_failures_from_one_client_are_slowed_down(clocked: LiveServer) -> None:
    async with aiohttp.ClientSession() as guest:
        statuses = [(await enter(guest, clocked, f"1234 56{n:02d}", "0000", "bruker"))[0] for n in range(11)]
    assert statuses[:10] == [403] * 10 and statuses[10] == 429
