"""Access control through the real HTTP and WebSocket flows: login, isolation, delegation, revocation."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from tests.aiortc_client import CallClient, host_client
from tests.live_server import LiveServer, create_meeting, csrf_of, oidc_login, staff_client
from web.keys import RECORDS

pytestmark = pytest.mark.timeout(90)

KARI, TOR, PIA, NINA = 1, 2, 5, 7  # formidler and access manager and compliance officer of A; formidler of B


async def test_staff_of_one_municipality_get_404_for_everything_of_another(server: LiveServer) -> None:
    nina = await staff_client(server, NINA)
    kari = await staff_client(server, KARI)
    pia = await staff_client(server, PIA)
    try:
        links_b = await create_meeting(nina, server, ["bruker"], topic="Rullestol, Nabo kommune")
        meeting_b = re.search(r"/j/([0-9a-f]{16})\.", links_b["host"])
        assert meeting_b
        async with kari.get(f"{server.url}/staff") as resp:
            page = await resp.text()
            assert "Rullestol, Nabo kommune" not in page
            csrf = csrf_of(page)
        async with kari.post(
            f"{server.url}/staff/meetings/{meeting_b.group(1)}/links", data={"csrf": csrf, "role": "bruker"}
        ) as resp:
            assert resp.status == 404
        # Nina's own link is personal: Kari's session cannot use it, also not over the WebSocket.
        async with kari.get(links_b["host"]) as resp:
            assert resp.status == 200
        async with kari.get(links_b["host"] + "/ws") as resp:
            assert resp.status == 403
        # The compliance officer of A sees A's audit trail only.
        await create_meeting(kari, server, ["bruker"], topic="Hodestøtte, Eksempel kommune")
        async with pia.get(f"{server.url}/staff/audit") as resp:
            audit_page = await resp.text()
        seqs = {int(s) for s in re.findall(r'data-seq="(\d+)"', audit_page)}
        everything = await server.app[RECORDS].audit.entries(org_ids=None, limit=1000)
        of_b = {v.seq for v in everything if v.record.meeting_id == meeting_b.group(1)}
        assert of_b and seqs and not (seqs & of_b)
        async with kari.get(f"{server.url}/staff/audit") as resp:
            assert resp.status == 403  # not a compliance officer
    finally:
        for client in (nina, kari, pia):
            await client.close()


async def test_removing_a_right_ends_the_live_call_and_the_session_within_a_second(server: LiveServer) -> None:
    kari = await staff_client(server, KARI)
    tor = await staff_client(server, TOR)
    links = await create_meeting(kari, server, ["bruker"])
    host = await host_client(server.url, links["host"], None)
    try:
        await host.connect()
        await host.enter()
        async with tor.get(f"{server.url}/staff/access") as resp:
            page = await resp.text()
        assert "Kari Ergo" in page
        async with tor.get(f"{server.url}/staff/access/revoke?staff_id={KARI}&org=2") as resp:
            page = await resp.text()  # the confirmation page holds the form (and its CSRF token)
        # Outside the manager's own municipality: refused, audited, nothing changed.
        async with tor.post(
            f"{server.url}/staff/access/revoke", data={"csrf": csrf_of(page), "staff_id": str(NINA), "org": "5"}
        ) as resp:
            assert resp.status in (403, 404)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with tor.post(
            f"{server.url}/staff/access/revoke", data={"csrf": csrf_of(page), "staff_id": str(KARI), "org": "2"}
        ) as resp:
            assert resp.status == 200
        ended = await host.wait_for("ended", timeout=2)
        assert ended["reason"] == "access_revoked"
        assert loop.time() - started < 1.0
        async with kari.get(f"{server.url}/staff", allow_redirects=False) as resp:
            assert resp.status == 302  # the cookie stopped working too
        actions = [v.record.action for v in await server.app[RECORDS].audit.entries(org_ids=None, limit=1000)]
        assert "access.revoke" in actions and "access.refused" in actions
    finally:
        await host.close()
        for client in (kari, tor):
            await client.close()


async def test_a_person_without_rights_asks_and_the_access_manager_answers(server: LiveServer) -> None:
    tor = await staff_client(server, TOR)
    async with tor.get(f"{server.url}/staff/access/revoke?staff_id={KARI}&org=2") as resp:
        page = await resp.text()  # the confirmation page holds the form (and its CSRF token)
    async with tor.post(
        f"{server.url}/staff/access/revoke", data={"csrf": csrf_of(page), "staff_id": str(KARI), "org": "2"}
    ) as resp:
        assert resp.status == 200
    kari = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        resp = await oidc_login(kari, server.url, "demo-formidler")
        assert resp.url.path == "/access/request"  # logged in, but no right any more
        async with kari.post(
            f"{server.url}/access/request", data={"display_name": "Kari Ergo", "organisation_id": "2"}
        ) as resp:
            assert resp.status == 200
            assert "Venter på svar" in await resp.text()
        async with tor.get(f"{server.url}/staff/access") as resp:
            page = await resp.text()
        request_id = re.search(r'/staff/access/requests/(\d+)"', page)
        assert request_id
        async with tor.post(
            f"{server.url}/staff/access/requests/{request_id.group(1)}", data={"csrf": csrf_of(page), "approve": "1"}
        ) as resp:
            assert resp.status == 200
        resp = await oidc_login(kari, server.url, "demo-formidler")
        assert resp.url.path.startswith("/staff")
    finally:
        await kari.close()
        await tor.close()


async def test_login_callbacks_that_do_not_match_are_refused(server: LiveServer) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{server.url}/auth/callback?code=abc&state=forged") as resp:
            assert resp.status == 400
            assert "innlogging" in (await resp.text()).lower()
        # A real login started, then a callback with another state: refused, no session.
        async with client.get(f"{server.url}/auth/login", allow_redirects=False) as resp:
            assert resp.status == 302
        async with client.get(f"{server.url}/auth/callback?code=abc&state=other") as resp:
            assert resp.status == 400
        async with client.get(f"{server.url}/staff", allow_redirects=False) as resp:
            assert resp.status == 302


async def test_a_citizen_link_works_without_any_account(server: LiveServer) -> None:
    kari = await staff_client(server, KARI)
    links = await create_meeting(kari, server, ["parorende"])
    await kari.close()
    citizen = CallClient(links["parorende"], None)
    try:
        await citizen.connect()
        assert citizen.messages[0]["type"] == "welcome"
    finally:
        await citizen.close()


async def test_the_centre_opens_a_municipality_by_a_valid_organisation_number(server: LiveServer) -> None:
    admin = await staff_client(server, 6)
    kari = await staff_client(server, KARI)
    try:
        async with admin.get(f"{server.url}/staff/organisations") as resp:
            page = await resp.text()
        csrf = csrf_of(page)
        form = {"csrf": csrf, "org_number": "996 000 002", "name": "Ny kommune", "enabled": "1"}  # control digit off
        async with admin.post(f"{server.url}/staff/organisations", data=form) as resp:
            assert resp.status == 400
            assert "Ny kommune" not in (await resp.text()).split("<ul")[1]
        form["org_number"] = "996000001"
        async with admin.post(f"{server.url}/staff/organisations", data=form) as resp:
            assert resp.status == 200
            assert 'data-org="996000001"' in await resp.text()
        async with kari.get(f"{server.url}/staff/organisations") as resp:
            assert resp.status == 403  # only the centre's administrator
    finally:
        await admin.close()
        await kari.close()


async def test_the_host_withdraws_a_link_and_its_live_connection_ends(server: LiveServer) -> None:
    kari = await staff_client(server, KARI)
    try:
        links = await create_meeting(kari, server, [])
        meeting_id = re.search(r"/j/([0-9a-f]{16})\.", links["host"])
        assert meeting_id
        async with kari.get(f"{server.url}/staff") as resp:
            csrf = csrf_of(await resp.text())
        async with kari.post(
            f"{server.url}/staff/meetings/{meeting_id.group(1)}/links", data={"csrf": csrf, "role": "parorende"}
        ) as resp:
            page = await resp.text()
        link = re.search(r'<a href="([^"]+)" class="join-link">', page)
        invitation = re.search(r"/staff/invitations/(\d+)/revoke", page)
        assert link and invitation
        relative = CallClient(link.group(1), None)
        await relative.connect()
        async with kari.post(
            f"{server.url}/staff/invitations/{invitation.group(1)}/revoke", data={"csrf": csrf_of(page)}
        ) as resp:
            assert resp.status == 200
        ended = await relative.wait_for("ended", timeout=3)
        assert ended["reason"] == "link_revoked"
        await relative.close()
        async with aiohttp.ClientSession() as other, other.get(link.group(1)) as resp:
            assert resp.status == 410
    finally:
        await kari.close()


async def test_a_short_code_leads_to_the_link_once_and_binds_the_device(server: LiveServer) -> None:
    kari = await staff_client(server, KARI)
    try:
        async with kari.get(f"{server.url}/staff") as resp:
            csrf = csrf_of(await resp.text())
        form = aiohttp.FormData({"csrf": csrf, "topic": "Hodestøtte", "kind": "bolig", "roles": "bruker"})
        async with kari.post(f"{server.url}/staff/meetings", data=form) as resp:
            page = await resp.text()
        code = re.search(r'data-code="(\d{12})"', page)
        link = re.search(r'<a href="([^"]+)" class="join-link">', page)
        assert code and link
        assert f"{server.url}/kode" in page  # the prepared SMS text names the code entrance
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
            async with phone.post(f"{server.url}/kode", data={"code": "000000"}) as resp:
                assert resp.status == 400
            spoken = f"{code.group(1)[:3]} {code.group(1)[3:]}"  # read aloud in two groups
            async with phone.post(f"{server.url}/kode", data={"code": spoken}, allow_redirects=False) as resp:
                assert resp.status == 303 and resp.headers["Location"].startswith("/j/")
            async with phone.get(link.group(1)) as resp:
                assert resp.status == 200  # the same device as the code
            async with phone.post(f"{server.url}/kode", data={"code": code.group(1)}) as resp:
                assert resp.status == 400  # single use
        other = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with other, other.get(link.group(1)) as resp:
            assert resp.status == 409  # bound to the phone that used the code
    finally:
        await kari.close()
