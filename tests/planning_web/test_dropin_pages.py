"""The drop-in over real HTTP with an injected clock: opening hours and their edges, the queue, taking the next."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, staff_client
from tests.planning.identity_numbers import FODSELSNUMMER
from tests.planning_web.support import CENTRE, DEMO_TECHNICIAN, csrf

PUBLIC = f"/teknisk/{CENTRE}"
STAFF = f"/staff/dropin/teknisk/{CENTRE}"


def oslo(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Wall-clock time in Oslo during winter time (UTC+1)."""
    return datetime(year, month, day, hour - 1, minute, tzinfo=UTC)


async def landing(server: LiveServer, lang: str = "nb") -> str:
    async with aiohttp.ClientSession() as anonymous, anonymous.get(f"{server.url}{PUBLIC}?lang={lang}") as resp:
        assert resp.status == 200
        return await resp.text()


async def join(client: aiohttp.ClientSession, server: LiveServer, role: str) -> tuple[int, str]:
    async with client.post(f"{server.url}{PUBLIC}/ko", data={"role": role}, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location") or await resp.text()


async def poll(client: aiohttp.ClientSession, server: LiveServer, ticket_path: str) -> tuple[int, dict[str, Any]]:
    async with client.post(f"{server.url}{ticket_path}/status") as resp:
        return resp.status, await resp.json()


async def test_opening_hours_follow_the_clock_holidays_and_exceptions(clocked: LiveServer, clock: FakeClock) -> None:
    page = await landing(clocked)
    assert 'id="open-state"' in page and "15.30" in page and 'name="role"' in page
    clock.now = oslo(2025, 11, 24, 15, 29)
    assert 'id="open-state"' in await landing(clocked)
    clock.now = oslo(2025, 11, 24, 15, 30)
    page = await landing(clocked)
    assert 'id="closed-state"' in page and 'name="role"' not in page
    assert "Teknisk avdeling åpner tirsdag 25. november kl. 08.00." in page
    assert 'id="contact"' in page and "telefontiden" in page
    assert "opens Tuesday 25 November at 08.00" in await landing(clocked, "en")
    assert "Teknisk avdeling opnar tysdag 25. november kl. 08.00." in await landing(clocked, "nn")
    async with aiohttp.ClientSession() as caller:
        status, _ = await join(caller, clocked, "bruker")
        assert status == 409
    clock.now = oslo(2025, 11, 29, 11)  # Saturday
    assert "åpner mandag 1. desember kl. 08.00" in await landing(clocked)
    clock.now = oslo(2025, 12, 24, 10)  # Christmas Eve, then two holidays and a weekend
    page = await landing(clocked)
    assert "er stengt i dag (julaften). Avdelingen åpner mandag 29. desember kl. 08.00." in page
    clock.now = oslo(2025, 11, 24, 7, 59)
    assert "åpner i dag kl. 08.00" in await landing(clocked)
    clock.now = oslo(2025, 11, 24, 8)
    assert 'id="open-state"' in await landing(clocked)

    technician = await staff_client(clocked, DEMO_TECHNICIAN)
    try:
        token = await csrf(technician, clocked, STAFF)
        for day, opens, closes, reason in (
            ("2025-11-25", "", "", "Personalmøte"),
            ("2025-11-26", "09:00", "12:00", "Kurs"),
        ):
            data = {"csrf": token, "day": day, "opens": opens, "closes": closes, "reason": reason}
            async with technician.post(f"{clocked.url}{STAFF}/avvik", data=data) as resp:
                assert resp.status == 200 and "Avviket er lagret" in await resp.text()
    finally:
        await technician.close()
    clock.now = oslo(2025, 11, 24, 16)
    assert "åpner onsdag 26. november kl. 09.00" in await landing(clocked)
    clock.now = oslo(2025, 11, 25, 10)
    assert "er stengt i dag (Personalmøte). Avdelingen åpner onsdag 26. november kl. 09.00." in await landing(clocked)
    clock.now = oslo(2025, 11, 26, 11, 59)
    assert 'id="open-state"' in await landing(clocked)
    clock.now = oslo(2025, 11, 26, 12)
    assert "åpner torsdag 27. november kl. 08.00" in await landing(clocked)


async def test_exceptions_are_checked_before_they_are_stored(clocked: LiveServer) -> None:
    technician = await staff_client(clocked, DEMO_TECHNICIAN)
    try:
        token = await csrf(technician, clocked, STAFF)
        for fields, message in (
            ({"day": "2025-11-25", "opens": "10:00", "closes": "", "reason": ""}, "både åpner og stenger"),
            ({"day": "2025-11-25", "opens": "12:00", "closes": "10:00", "reason": ""}, "etter åpningstiden"),
            ({"day": "", "opens": "", "closes": "", "reason": ""}, "Velg en dato"),
            ({"day": "2025-11-25", "opens": "", "closes": "", "reason": f"Syk {FODSELSNUMMER}"}, "fødselsnummer"),
        ):
            async with technician.post(f"{clocked.url}{STAFF}/avvik", data={"csrf": token, **fields}) as resp:
                page = await resp.text()
                assert resp.status == 400 and message in page, fields
                assert FODSELSNUMMER not in page
        async with technician.get(f"{clocked.url}{STAFF}") as resp:
            assert "Ingen avvik" in await resp.text()
    finally:
        await technician.close()


async def test_callers_wait_in_order_and_the_technician_takes_the_next(clocked: LiveServer) -> None:
    first, second = aiohttp.ClientSession(), aiohttp.ClientSession()
    technician = await staff_client(clocked, DEMO_TECHNICIAN)
    formidler = await staff_client(clocked)
    try:
        status, first_path = await join(first, clocked, "bruker")
        assert status == 303 and first_path.startswith(f"{PUBLIC}/ko/")
        _, second_path = await join(second, clocked, "leverandor")
        async with first.get(f"{clocked.url}{first_path}") as resp:
            page = await resp.text()
            assert "Du er nummer 1 i køen. Forventet ventetid: omtrent 10 minutter." in page
        status, body = await poll(second, clocked, second_path)
        assert status == 200 and body["position"] == 2 and "omtrent 20 minutter" in body["text"]
        status, _ = await join(first, clocked, "tekniker")
        assert status == 400  # callers choose among the caller roles only

        async with formidler.get(f"{clocked.url}{STAFF}") as resp:
            assert resp.status == 403
        async with technician.get(f"{clocked.url}{STAFF}/ko.json") as resp:
            listed = await resp.json()
        assert [(w["position"], w["role"]) for w in listed["waiting"]] == [(1, "Bruker"), (2, "Leverandør")]
        token = await csrf(technician, clocked, STAFF)
        async with technician.post(f"{clocked.url}{STAFF}/neste", data={"csrf": token}, allow_redirects=False) as resp:
            assert resp.status == 303
            host_link = resp.headers["Location"]
        assert host_link.startswith("/j/") and ".tekniker." in host_link

        status, body = await poll(first, clocked, first_path)
        assert body["state"] == "called" and body["destination"].startswith("/j/")
        async with first.get(f"{clocked.url}{body['destination']}") as resp:
            assert resp.status == 200 and "Bruker" in await resp.text()
        status, body = await poll(second, clocked, second_path)
        assert body["position"] == 1

        async with second.post(f"{clocked.url}{second_path}/forlat", allow_redirects=False) as resp:
            assert resp.status == 303
        status, body = await poll(second, clocked, second_path)
        assert status == 410 and body["state"] == "gone"
        async with technician.post(f"{clocked.url}{STAFF}/neste", data={"csrf": token}) as resp:
            assert resp.status == 200 and "Ingen venter" in await resp.text()
        async with technician.get(f"{clocked.url}{STAFF}") as resp:
            page = await resp.text()
        assert re.search(r'href="/staff/meetings/[0-9a-f]+/reparasjon"', page)  # the drop-in call, to document
    finally:
        for session in (first, second, technician, formidler):
            await session.close()


async def test_a_caller_who_stops_polling_loses_the_place(clocked: LiveServer, clock: FakeClock) -> None:
    async with aiohttp.ClientSession() as gone, aiohttp.ClientSession() as staying:
        _, gone_path = await join(gone, clocked, "parorende")
        _, staying_path = await join(staying, clocked, "formidler")
        clock.advance(seconds=100)
        assert (await poll(staying, clocked, staying_path))[1]["position"] == 2
        clock.advance(seconds=60)  # 160 s without a poll: longer than a background tab's slowest timer
        status, body = await poll(staying, clocked, staying_path)
        assert body["position"] == 1
        status, body = await poll(gone, clocked, gone_path)
        assert status == 410 and "ikke lenger i køen" in body["text"]
        async with gone.get(f"{clocked.url}{gone_path}") as resp:
            assert "Still deg i kø på nytt" in await resp.text()


async def test_unknown_centres_and_departments_are_not_found(clocked: LiveServer) -> None:
    async with aiohttp.ClientSession() as anonymous:
        for path in ("/teknisk/999", "/teknisk/1", "/vaktmester/3"):
            async with anonymous.get(f"{clocked.url}{path}") as resp:
                assert resp.status == 404, path
        async with anonymous.get(f"{clocked.url}/bolig/{CENTRE}") as resp:
            assert resp.status == 200 and "Boligavdelingen" in await resp.text()
