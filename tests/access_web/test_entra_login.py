"""Centre staff log in with Entra ID (a local provider that behaves like it) and get the roles their groups give."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from session.tables import staff, staff_roles
from tests.access.fake_providers import CLIENT_SECRET, FakeProvider
from tests.live_server import LiveServer, server_settings, start_server
from web.keys import ENGINE, RECORDS
from web.settings import Secret

pytestmark = pytest.mark.timeout(90)
CENTRE_ORG_NUMBER = "993000000"  # the demo centre


@pytest.fixture
async def entra_and_server(tmp_path: Path) -> AsyncIterator[tuple[FakeProvider, LiveServer]]:
    fake = await FakeProvider("entra", "samhandling-entra", ()).start()
    settings = server_settings(
        tmp_path / "data",
        entra_issuer=fake.issuer,
        entra_client_id="samhandling-entra",
        entra_client_secret=Secret(CLIENT_SECRET),
        entra_group_roles='{"g-advisers": "adviser", "g-tech": ["technician"]}',
        entra_centre_org_number=CENTRE_ORG_NUMBER,
    )
    fake.redirect_uris = (settings.entra_redirect_uri,)
    live = await start_server(settings)
    yield fake, live
    await live.stop()
    await fake.close()


async def roles_of(live: LiveServer, subject: str) -> set[str]:
    async with live.app[ENGINE].connect() as conn:
        query = select(staff_roles.c.role).join(staff, staff.c.id == staff_roles.c.staff_id)
        return set((await conn.execute(query.where(staff.c.subject == subject))).scalars())


async def test_groups_give_centre_roles_and_losing_them_ends_the_session(
    entra_and_server: tuple[FakeProvider, LiveServer],
) -> None:
    fake, live = entra_and_server
    fake.person = {"sub": "pairwise-1", "oid": "oid-1", "name": "Nora NAV", "groups": ["g-advisers", "g-other"]}
    subject = "entra:tenant-0000:oid-1"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(f"{live.url}/auth/entra/login") as response:
            assert response.status == 200 and response.url.path == "/staff", response.url
            assert "Nora NAV" in await response.text()
        assert await roles_of(live, subject) == {"adviser"}

        fake.person["groups"] = ["g-tech"]  # moved to the technical department in NAV's directory
        async with browser.get(f"{live.url}/auth/entra/login") as response:
            assert response.url.path == "/staff"
        assert await roles_of(live, subject) == {"technician"}

        fake.person["groups"] = []  # left the centre
        async with browser.get(f"{live.url}/auth/entra/login") as response:
            assert response.status == 403
            assert "ingen av gruppene dine gir en rolle" in await response.text()
        assert await roles_of(live, subject) == set()
        async with browser.get(f"{live.url}/staff", allow_redirects=False) as response:
            assert response.status in (302, 303, 401, 403)  # the earlier session ended with the roles

    entries = await live.app[RECORDS].audit.entries(org_ids=None, limit=1000)
    syncs = [e.record for e in entries if e.record.action == "access.directory_sync"]
    assert [(r.details["added"], r.details["removed"]) for r in syncs] == [
        ("adviser", ""),
        ("technician", "adviser"),
        ("", "technician"),
    ]
    assert all("Nora" not in str(r.details) and "oid-1" not in str(r.details) for r in syncs)


async def test_a_person_whose_groups_give_nothing_gets_no_account(
    entra_and_server: tuple[FakeProvider, LiveServer],
) -> None:
    fake, live = entra_and_server
    fake.person = {"sub": "pairwise-2", "oid": "oid-2", "name": "Ola Utenfor", "groups": ["g-other"]}
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
        browser.get(f"{live.url}/auth/entra/login") as response,
    ):
        assert response.status == 403
    async with live.app[ENGINE].connect() as conn:
        assert (
            await conn.execute(select(staff.c.id).where(staff.c.subject == "entra:tenant-0000:oid-2"))
        ).first() is None
