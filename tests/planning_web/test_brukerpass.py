"""Brukerpass over real HTTP: the centre issues a code, the holder gets in with it (or with a linked ID-porten
login), calls the drop-in and asks for a meeting as the citizen, and a withdrawn pass stops working at once."""

from __future__ import annotations

import html
import re
import sqlite3
from datetime import timedelta

import aiohttp

from session.access.brukerpass import normalise_code
from session.planning.plan import OSLO
from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, csrf_of, oidc_login, staff_client
from tests.planning.identity_numbers import FODSELSNUMMER
from tests.planning_web.support import CENTRE, DEMO_TECHNICIAN
from web.i18n import translate

STAFF = "/staff/brukerpass"


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def db_text(server: LiveServer) -> str:
    """Every value in the database as text: what must never be there, is searched for here."""
    path = server.settings.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        return "\n".join(str(row) for t in tables for row in db.execute(f'select * from "{t}"'))


async def issue_code(staff: aiohttp.ClientSession, server: LiveServer, reference: str) -> str:
    async with staff.get(server.url + STAFF) as resp:
        assert resp.status == 200
        csrf = csrf_of(await resp.text())
    async with staff.post(server.url + STAFF, data={"csrf": csrf, "reference": reference}) as resp:
        page = await resp.text()
        assert resp.status == 200, page
    found = re.search(r'id="bp-code">([A-Z0-9-]+)<', page)
    assert found, page
    return found.group(1)


async def enter(client: aiohttp.ClientSession, server: LiveServer, code: str) -> tuple[int, str]:
    async with client.post(f"{server.url}/brukerpass/kode", data={"code": code}, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location") or await resp.text()


async def home(client: aiohttp.ClientSession, server: LiveServer) -> tuple[str, str]:
    async with client.get(f"{server.url}/brukerpass/hjem") as resp:
        page = await resp.text()
        assert resp.status == 200 and str(resp.url).endswith("/brukerpass/hjem"), resp.url
    return page, csrf_of(page)


async def test_a_holder_gets_in_with_the_code_calls_and_asks_for_a_meeting(
    clocked: LiveServer, clock: FakeClock
) -> None:
    server = clocked
    staff = await staff_client(server, DEMO_TECHNICIAN)
    holder = jar()
    try:
        code = await issue_code(staff, server, "BP-2025-113")
        assert normalise_code(code) == code
        assert code not in db_text(server) and code.replace("-", "") not in db_text(server)  # only a keyed hash

        # Typed as people type: lower case, no dashes. Junk is refused before any lookup, a wrong code after one.
        assert (await enter(holder, server, "hei"))[0] == 400
        status, page = await enter(holder, server, "ABCD-EFGH-JKLM")
        assert status == 403 and html.escape(translate("nb", "bp.error.code")) in page
        assert await enter(holder, server, code.replace("-", "").lower()) == (303, "/brukerpass/hjem")
        page, csrf = await home(holder, server)
        assert "NAV Hjelpemiddelsentral Eksempel" in page and 'id="call-teknisk"' in page

        # Calling now puts the holder in the technical department's line as the citizen.
        async with holder.post(
            f"{server.url}/brukerpass/ring", data={"csrf": csrf, "department": "teknisk"}, allow_redirects=False
        ) as resp:
            assert resp.status == 303, await resp.text()
            wait_page = resp.headers["Location"]
        assert wait_page.startswith(f"/teknisk/{CENTRE}/ko/")
        async with staff.get(f"{server.url}/staff/dropin/teknisk/{CENTRE}/ko.json") as resp:
            queue = await resp.json()
        assert [row["role"] for row in queue["waiting"]] == ["Bruker"], queue

        # A meeting request with a fødselsnummer comes back with the message next to the field; nothing is kept.
        ask = {"csrf": csrf, "department": "teknisk", "topic": f"Rullestolen, {FODSELSNUMMER}", "serial": "SN-4471"}
        async with holder.post(f"{server.url}/brukerpass/mote", data=ask, allow_redirects=False) as resp:
            page = await resp.text()
            assert resp.status == 400
        assert 'id="err-topic"' in page and html.escape(translate("nb", "bp.error.identity")) in page
        assert "SN-4471" in page  # the rest of the form is kept for the holder to correct
        assert FODSELSNUMMER not in db_text(server)
        ask["topic"] = "Rullestolen trekker til venstre"
        async with holder.post(f"{server.url}/brukerpass/mote", data=ask, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/brukerpass/hjem?sendt=1"
        page, csrf = await home(holder, server)
        assert "Rullestolen trekker til venstre" in page and 'id="join-' not in page

        # The centre agrees a time; from a quarter of an hour before, the holder joins as the citizen.
        async with staff.get(server.url + STAFF) as resp:
            staff_page = await resp.text()
        assert (
            "Rullestolen trekker til venstre" in staff_page and "SN-4471" in staff_page and "BP-2025-113" in staff_page
        )
        request_id = re.search(r"/staff/brukerpass/foresporsel/(\d+)/avtal", staff_page)
        assert request_id
        starts = (clock.now + timedelta(hours=1)).astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")
        async with staff.post(
            f"{server.url}{STAFF}/foresporsel/{request_id.group(1)}/avtal",
            data={"csrf": csrf_of(staff_page), "starts": starts},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303, await resp.text()
        page, csrf = await home(holder, server)
        shown = page[page.find('id="bp-requests"') :][:600]
        assert "kl. 11.00" in shown and 'id="join-' not in page, shown  # 10.00 in Oslo now: too early to join
        join = f"{server.url}/brukerpass/mote/{request_id.group(1)}/bli-med"
        async with holder.post(join, data={"csrf": csrf}, allow_redirects=False) as resp:
            assert resp.status == 409
        clock.now += timedelta(minutes=50)
        page, csrf = await home(holder, server)
        assert f'id="join-{request_id.group(1)}"' in page
        async with holder.post(join, data={"csrf": csrf}, allow_redirects=False) as resp:
            assert resp.status == 303
            link = resp.headers["Location"]
        async with holder.get(server.url + link) as resp:
            call_page = await resp.text()
        assert (
            'data-role="bruker"' in call_page and 'data-calm="true"' in call_page and 'data-host="false"' in call_page
        )

        # A form without the session's token is refused.
        async with holder.post(f"{server.url}/brukerpass/mote", data={"topic": "x"}, allow_redirects=False) as resp:
            assert resp.status == 403
    finally:
        await staff.close()
        await holder.close()


async def test_a_withdrawn_pass_stops_working_at_once(clocked: LiveServer) -> None:
    server = clocked
    staff = await staff_client(server, DEMO_TECHNICIAN)
    holder = jar()
    try:
        code = await issue_code(staff, server, "BP-7")
        assert (await enter(holder, server, code))[0] == 303
        await home(holder, server)
        async with staff.get(server.url + STAFF) as resp:
            staff_page = await resp.text()
        holder_id = re.search(r'href="/staff/brukerpass/(\d+)/trekk-tilbake"', staff_page)
        assert holder_id
        async with staff.get(f"{server.url}{STAFF}/{holder_id.group(1)}/trekk-tilbake") as resp:
            confirm = await resp.text()
        assert html.escape(translate("nb", "bp.revoke.code")) in confirm  # says what will happen, asks once more
        async with staff.post(
            f"{server.url}{STAFF}/{holder_id.group(1)}/trekk-tilbake", data={"csrf": csrf_of(confirm)},
            allow_redirects=False,
        ) as resp:  # fmt: skip
            assert resp.status == 303
        async with holder.get(f"{server.url}/brukerpass/hjem", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/brukerpass"
        assert (await enter(holder, server, code))[0] == 403
        stored = db_text(server)  # both changes are in the audit chain
        assert "brukerpass.issue" in stored and "brukerpass.revoke" in stored
    finally:
        await staff.close()
        await holder.close()


async def test_an_id_porten_login_is_linked_once_with_the_code(clocked: LiveServer) -> None:
    server = clocked
    staff = await staff_client(server, 6)  # the centre's administrator issues passes too
    first, later = jar(), jar()
    try:
        code = await issue_code(staff, server, "BP-9")
        resp = await oidc_login(first, server.url, "demo-brukerpass", start="/auth/login?next=/brukerpass/inn")
        page = await resp.text()
        assert str(resp.url).endswith("/brukerpass/inn") and 'id="bp-linking"' in page  # no staff session
        async with first.get(f"{server.url}/staff", allow_redirects=False) as staff_resp:
            assert staff_resp.status in (302, 303)
        assert await enter(first, server, code) == (303, "/brukerpass/hjem")
        assert "demo-brukerpass" not in db_text(server)  # the login is kept as a keyed hash only
        resp = await oidc_login(later, server.url, "demo-brukerpass", start="/auth/login?next=/brukerpass/inn")
        assert str(resp.url).endswith("/brukerpass/hjem")  # linked: straight in, no code
        async with staff.get(server.url + STAFF) as resp:
            assert translate("nb", "bp.yes") in await resp.text()
    finally:
        for client in (staff, first, later):
            await client.close()


async def test_only_centre_staff_manage_passes(clocked: LiveServer) -> None:
    formidler = await staff_client(clocked, 1)
    try:
        async with formidler.get(clocked.url + STAFF) as resp:
            assert resp.status == 403
    finally:
        await formidler.close()


def test_code_forms() -> None:
    assert normalise_code(" abcd efgh jkmn ") == "ABCD-EFGH-JKMN"
    assert normalise_code("ABCD-EFGH-JKL0") is None  # 0, O, 1 and I are never in a code
    assert normalise_code("ABCD-EFGH") is None
