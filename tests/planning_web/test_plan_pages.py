"""Planning a meeting over real HTTP: invitations read back as iCalendar, changes, cancellation, refusals."""

from __future__ import annotations

import html
import re
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from session.planning.invitation_ics import parse_ics, parse_ics_datetime
from session.planning.tables import meeting_plans, room_codes
from session.tables import meetings
from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, staff_client
from tests.planning.identity_numbers import D_NUMMER, FODSELSNUMMER, INVALID
from tests.planning_web.support import (
    csrf,
    download_ics,
    form_data,
    plan_fields,
    plan_meeting,
    post_plan,
    read_invitations,
)
from web.keys import ENGINE


async def counts(server: LiveServer) -> tuple[int, int, int]:
    async with server.app[ENGINE].connect() as conn:
        return tuple(  # type: ignore[return-value]
            [
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (meetings, meeting_plans, room_codes)
            ]
        )


def event_of(text: str) -> tuple[str, Any]:
    calendar = parse_ics(text)
    (event,) = calendar.children("VEVENT")
    return calendar.get("METHOD").value, event


async def test_a_plan_gives_an_invitation_per_role_that_reads_back(clocked: LiveServer) -> None:
    client = await staff_client(clocked)
    try:
        invitations = await plan_meeting(client, clocked)
        assert set(invitations.tokens) == {"host", "bruker", "radgiver", "husbanken"}  # formidler plans, so hosts
        content_type, text = await download_ics(client, clocked, invitations, "bruker")
        assert content_type == "text/calendar; charset=utf-8; method=REQUEST"
        method, event = event_of(text)
        assert method == "REQUEST"
        assert event.get("UID").value == f"samhandling-{invitations.meeting_id}@127.0.0.1"
        assert event.get("SEQUENCE").value == "0"
        assert parse_ics_datetime(event.get("DTSTART")).isoformat() == "2025-11-25T09:00:00+00:00"
        description = event.get("DESCRIPTION").text
        token = invitations.tokens["bruker"]
        assert f"/j/{token}" in description and f"/j/{token}/sjekk" in description
        assert f"{invitations.code[:4]} {invitations.code[4:]}" in description and invitations.pin in description
        assert f"{clocked.url}/rom" in description
        assert event.get("URL").value == f"{clocked.url}/j/{token}"
        assert f"PIN {invitations.pin}" in invitations.texts["bruker"]
        async with client.get(f"{clocked.url}/j/{token}") as resp:
            assert resp.status == 200
        async with client.get(f"{clocked.url}/j/{token}/sjekk") as resp:
            assert resp.status == 200
    finally:
        await client.close()


async def test_a_change_sends_a_higher_sequence_and_retires_old_links_and_code(clocked: LiveServer) -> None:
    client = await staff_client(clocked)
    try:
        first = await plan_meeting(client, clocked)
        status, page = await post_plan(
            client,
            clocked,
            plan_fields(starts_at="2025-11-26T13:00", ends_at="2025-11-26T14:30"),
            path=f"/staff/meetings/{first.meeting_id}/plan",
        )
        assert status == 200, page
        second = read_invitations(page)
        assert second.meeting_id == first.meeting_id and second.code != first.code
        _, text = await download_ics(client, clocked, second, "radgiver")
        method, event = event_of(text)
        assert method == "REQUEST" and event.get("SEQUENCE").value == "1"
        assert event.get("UID").value == f"samhandling-{first.meeting_id}@127.0.0.1"
        assert parse_ics_datetime(event.get("DTEND")).isoformat() == "2025-11-26T13:30:00+00:00"
        async with client.get(f"{clocked.url}/j/{first.tokens['bruker']}") as resp:
            assert resp.status == 410  # revoked
        async with client.get(f"{clocked.url}/j/{second.tokens['bruker']}") as resp:
            assert resp.status == 200
        data = {"code": first.code, "pin": first.pin, "role": "bruker"}
        async with client.post(f"{clocked.url}/rom", data=data, allow_redirects=False) as resp:
            assert resp.status == 403  # the old code is gone
    finally:
        await client.close()


async def test_cancelling_sends_method_cancel_and_closes_every_way_in(clocked: LiveServer) -> None:
    client = await staff_client(clocked)
    try:
        invitations = await plan_meeting(client, clocked)
        base = f"{clocked.url}/staff/meetings/{invitations.meeting_id}"
        token = await csrf(client, clocked, f"/staff/meetings/{invitations.meeting_id}/avlys")
        async with client.post(f"{base}/avlys", data={"csrf": token}) as resp:
            page = await resp.text()
            assert resp.status == 200 and "avlysning.ics" in page
        async with client.get(f"{base}/avlysning.ics") as resp:
            assert resp.headers["Content-Type"] == "text/calendar; charset=utf-8; method=CANCEL"
            method, event = event_of(await resp.text())
        assert method == "CANCEL" and event.get("STATUS").value == "CANCELLED"
        assert event.get("SEQUENCE").value == "1"
        assert event.get("UID").value == f"samhandling-{invitations.meeting_id}@127.0.0.1"
        assert "/j/" not in event.get("DESCRIPTION").text
        async with client.get(f"{clocked.url}/j/{invitations.tokens['bruker']}") as resp:
            assert resp.status == 410
        data = {"code": invitations.code, "pin": invitations.pin, "role": "bruker"}
        async with client.post(f"{clocked.url}/rom", data=data, allow_redirects=False) as resp:
            assert resp.status == 410
        async with client.get(f"{base}/plan") as resp:
            assert resp.status == 410
        async with client.post(f"{base}/avlys", data={"csrf": token}) as resp:
            assert resp.status == 400 and "allerede avlyst" in await resp.text()
        _, page = await post_plan(client, clocked, plan_fields(), path=f"/staff/meetings/{invitations.meeting_id}/plan")
        assert "avlyst" in page
    finally:
        await client.close()


async def test_an_identity_number_in_any_free_text_is_refused_and_nothing_is_stored(clocked: LiveServer) -> None:
    client = await staff_client(clocked)
    try:
        before = await counts(clocked)
        cases = {
            "topic": ("Tema", f"Bad til {FODSELSNUMMER}"),
            "filming": ("Hva skal filmes", f"Terskelen\nbruker {FODSELSNUMMER[:6]} {FODSELSNUMMER[6:]}"),
            "drawings": ("Tegninger og bilder", f"Plan\nTegning {D_NUMMER}"),
            "serial_numbers": ("Serienummer", D_NUMMER),
        }
        for field, (label, value) in cases.items():
            status, page = await post_plan(client, clocked, plan_fields(**{field: value}))
            assert status == 400, field
            assert "fødselsnummer" in page
            error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.DOTALL)
            assert error and f"«{label}»" in error.group(1), field
            assert not re.search(r"\d{6}", error.group(1))  # the message never repeats the number
            assert re.search(rf'aria-describedby="[^"]*{field}-error"', page)
        assert await counts(clocked) == before
        status, _ = await post_plan(client, clocked, plan_fields(topic=f"Bad, sak {INVALID['ugyldig_dato']}"))
        assert status == 200  # eleven digits that do not start with a date are a case number, not a person
    finally:
        await client.close()


async def test_bad_plans_are_refused_field_by_field(clocked: LiveServer, clock: FakeClock) -> None:
    client = await staff_client(clocked)
    try:
        before = await counts(clocked)
        status, page = await post_plan(
            client,
            clocked,
            plan_fields(
                starts_at="2025-11-20T10:00",
                ends_at="2025-11-20T09:00",
                participants=["formidler", "sjef"],
                serial_numbers="SN-1\x07",
                kind="reparasjon",
            ),
        )
        assert status == 400
        for field in ("starts_at", "ends_at", "participants", "serial_numbers"):
            assert f'id="{field}-error"' in page, field
        assert 'aria-invalid="true"' in page and 'class="error-summary" role="alert"' in page
        assert "fortiden" in page and "etter starttiden" in page and "Ukjent deltakerrolle" in page
        assert "kontrolltegn" in page
        assert 'value="2025-11-20T10:00"' in page  # what was typed is kept
        status, page = await post_plan(
            client, clocked, plan_fields(camera_operator="bruker", participants=["formidler"])
        )
        assert status == 400 and 'id="camera_operator-error"' in page
        assert await counts(clocked) == before
        token = await csrf(client, clocked)
        async with client.post(f"{clocked.url}/staff/planlegg", data=form_data("x" + token, plan_fields())) as resp:
            assert resp.status == 403
    finally:
        await client.close()


async def test_plan_pages_need_a_login_and_stay_within_the_organisation(clocked: LiveServer) -> None:
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{clocked.url}/staff/planlegg", allow_redirects=False) as resp,
    ):
        assert resp.status == 302
    client = await staff_client(clocked)
    other = await staff_client(clocked, 7)  # another municipality; the centre is a party and may see it
    try:
        invitations = await plan_meeting(client, clocked)
        async with other.get(f"{clocked.url}/staff/meetings/{invitations.meeting_id}/plan") as resp:
            assert resp.status == 404
        async with other.get(f"{clocked.url}/staff/meetings/{invitations.meeting_id}/avlys") as resp:
            assert resp.status == 404
    finally:
        await client.close()
        await other.close()


@pytest.mark.parametrize(
    ("lang", "expected", "not_expected"),
    [
        ("en", ["in the past", "after the start time", "«Topic» seems to contain a national identity number"], []),
        ("nn", ["i fortida", "etter starttida", "«Tema» ser ut til å innehalde eit fødselsnummer"], ["ikke"]),
    ],
)
async def test_refusals_on_the_plan_form_are_said_in_the_readers_language(
    clocked: LiveServer, lang: str, expected: list[str], not_expected: list[str]
) -> None:
    client = await staff_client(clocked)
    try:
        async with client.get(f"{clocked.url}/staff?lang={lang}") as resp:
            assert resp.status == 200
        fields = plan_fields(starts_at="2025-11-20T10:00", ends_at="2025-11-20T09:00", topic=f"Bad til {FODSELSNUMMER}")
        status, page = await post_plan(client, clocked, fields)
        assert status == 400
        errors = " ".join(re.findall(r'<p class="field-error"[^>]*>(.*?)</p>', page, re.DOTALL))
        for words in expected:
            assert words in html.unescape(errors), (words, errors)
        for words in not_expected:
            assert not re.search(rf"\b{words}\b", errors), errors
        assert "err." not in errors and "field." not in errors  # no catalogue key printed as it is
    finally:
        await client.close()
