"""Both ends are parties: every meeting names the municipal side and the hjelpemiddelsentral."""

from __future__ import annotations

import re

from session.access.meeting_parties import meeting_parties
from tests.live_server import LiveServer, create_meeting, csrf_of, staff_client
from web.keys import ENGINE


async def test_a_municipal_meeting_names_the_centre_and_the_centre_sees_it(server: LiveServer) -> None:
    kari, rita, nina = [await staff_client(server, n) for n in (1, 3, 7)]
    try:
        await create_meeting(kari, server, ["bruker"], topic="Ny hodestøtte")
        async with rita.get(f"{server.url}/staff") as resp:
            page = await resp.text()
        assert "Ny hodestøtte" in page  # the centre's adviser sees the meeting and can join it with their login
        meeting_id = re.search(r"/staff/meetings/([0-9a-f]+)/bli-med", page)
        assert meeting_id
        async with server.app[ENGINE].connect() as conn:
            assert await meeting_parties(conn, meeting_id.group(1)) == (2, 3)  # the unit and the centre
        async with nina.get(f"{server.url}/staff") as resp:
            assert "Ny hodestøtte" not in await resp.text()  # another municipality is not a party
    finally:
        for client in (kari, rita, nina):
            await client.close()


async def test_centre_staff_choose_a_municipality_they_serve(server: LiveServer) -> None:
    rita = await staff_client(server, 3)
    try:
        async with rita.get(f"{server.url}/staff") as resp:
            page = await resp.text()
        assert 'name="municipality"' in page and "Eksempel kommune" in page
        base = {"csrf": csrf_of(page), "topic": "Styring av rullestol", "kind": "bolig", "roles": "bruker"}
        async with rita.post(f"{server.url}/staff/meetings", data=base) as resp:
            assert resp.status == 400 and "Velg kommunen" in await resp.text()
        async with rita.post(f"{server.url}/staff/meetings", data=base | {"municipality": "4"}) as resp:
            assert resp.status == 400  # the centre's own department is not a municipality it serves
        async with rita.post(f"{server.url}/staff/meetings", data=base | {"municipality": "2"}) as resp:
            assert resp.status == 200 and 'data-role="host"' in await resp.text()
    finally:
        await rita.close()


async def test_a_topic_with_an_identity_number_is_refused_on_the_quick_form(server: LiveServer) -> None:
    kari = await staff_client(server, 1)
    try:
        async with kari.get(f"{server.url}/staff") as resp:
            csrf = csrf_of(await resp.text())
        for topic in ("Hodestøtte 24051234533", "Sak 01.01.99 12345"):
            data = {"csrf": csrf, "topic": topic, "kind": "bolig", "roles": "bruker"}
            async with kari.post(f"{server.url}/staff/meetings", data=data) as resp:
                body = await resp.text()
                assert resp.status == 400 and "fødselsnummer" in body and "24051234533" not in body
    finally:
        await kari.close()
