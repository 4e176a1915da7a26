"""Repair diagnosis and the journal summary over real HTTP: roles from the audit trail, consents from the ledger."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta

import aiohttp
from sqlalchemy import func, select

from privacy.records.audit_record import Actor, ActorKind, AuditRecord, DetailValue
from privacy.records.consent import ConsentForm, ConsentGiven, Giver, Recorder, RecorderKind, Scope
from session.planning.tables import meeting_summaries, repair_diagnoses
from session.tables import invitations as links_table
from tests.fake_clock import FakeClock
from tests.live_server import LiveServer, staff_client
from tests.planning.identity_numbers import FODSELSNUMMER
from tests.planning_web.support import csrf, form_data, plan_meeting
from web.keys import ENGINE, RECORDS


async def rows(server: LiveServer, table: object) -> int:
    async with server.app[ENGINE].connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_a_repair_diagnosis_is_checked_and_kept(clocked: LiveServer) -> None:
    client = await staff_client(clocked)
    try:
        invitations = await plan_meeting(client, clocked, kind="reparasjon", serial_numbers="RS-2044-17")
        url = f"{clocked.url}/staff/meetings/{invitations.meeting_id}/reparasjon"
        async with client.get(url) as resp:
            page = await resp.text()
            assert resp.status == 200 and 'value="RS-2044-17"' in page
        token = await csrf(client, clocked, f"/staff/meetings/{invitations.meeting_id}/reparasjon")
        fields: dict[str, str | list[str]] = {
            "serial_number": "RS-2044-17",
            "fault_description": f"Motoren stopper. Bruker {FODSELSNUMMER}",
            "decision": "flytt",
            "next_step": "Send delen",
            "part_number": ["M-100", "", "", ""],
            "part_description": ["Motor", "", "", ""],
            "part_quantity": ["1", "", "", ""],
        }
        async with client.post(url, data=form_data(token, fields)) as resp:
            page = await resp.text()
            assert resp.status == 400
        assert 'id="fault_description-error"' in page and 'id="decision-error"' in page
        assert await rows(clocked, repair_diagnoses) == 0
        fields["fault_description"] = "Motoren stopper ved full last."
        fields["decision"] = "send_inn"
        async with client.post(url, data=form_data(token, fields)) as resp:
            page = await resp.text()
            assert resp.status == 200 and "Diagnosen er lagret" in page
        assert "Sendes inn til hjelpemiddelsentralen" in page and "M-100" in page
    finally:
        await client.close()


async def test_the_summary_takes_roles_and_consents_from_the_records_and_exports(
    clocked: LiveServer, clock: FakeClock
) -> None:
    client = await staff_client(clocked)
    try:
        invitations = await plan_meeting(client, clocked)
        meeting_id = invitations.meeting_id
        audit = clocked.app[RECORDS].audit
        role = Actor(ActorKind.ROLE, "formidler")
        entries: list[tuple[str, dict[str, DetailValue]]] = [
            ("roster.change", {"change": "added", "role": "parorende"}),
            ("roster.change", {"change": "added", "role": "tolk"}),
            ("roster.change", {"change": "removed", "role": "tolk"}),
            ("roster.confirmed", {"roles": ["bruker", "formidler", "radgiver", "parorende"]}),
            ("lobby.admit", {"participant_role": "tekniker"}),
        ]
        for action, details in entries:
            await audit.append(AuditRecord(action, role, (2,), meeting_id, details))
        async with clocked.app[ENGINE].connect() as conn:
            user_link = (
                await conn.execute(
                    select(links_table.c.id).where(
                        links_table.c.meeting_id == meeting_id, links_table.c.role == "bruker"
                    )
                )
            ).scalar_one()
        clock.advance(hours=26)  # now Tuesday 12.00 in Oslo: the meeting (10.00-11.00) is over
        given = ConsentGiven(
            consent_id="c-1",
            meeting_id=meeting_id,
            subject_ref=f"link-{user_link}",
            giver=Giver.RELATIVE,
            form=ConsentForm.ORAL,
            scopes=frozenset({Scope.VIDEO, Scope.AUDIO}),
            purpose="Vise badet",
            given_at=clock.now - timedelta(hours=1, minutes=45),
            recorded_by=Recorder(RecorderKind.STAFF, "staff-1"),
        )
        await clocked.app[RECORDS].record_consent(given, org_ids=(2,), actor=Actor(ActorKind.STAFF, "staff-1"))

        url = f"{clocked.url}/staff/meetings/{meeting_id}/sammendrag"
        async with client.get(url) as resp:
            page = await resp.text()
        for name, count in (("on_bruker", 1), ("on_formidler", 1), ("on_radgiver", 1), ("on_tekniker", 1)):
            assert re.search(rf'name="{name}"[^>]*value="{count}"', page), name
        assert re.search(r'name="off_parorende"[^>]*value="1"', page)
        assert re.search(r'name="off_tolk"[^>]*value="0"', page)
        assert "Vise badet" in page and "muntlig" in page and "Pårørende" in page

        token = await csrf(client, clocked, f"/staff/meetings/{meeting_id}/sammendrag")
        presence = {"on_bruker": "1", "on_formidler": "1", "on_radgiver": "1", "on_tekniker": "1", "off_parorende": "1"}
        bad = {"topic": "Tilgjengelighet på bad", "outcome": f"Avtalt for {FODSELSNUMMER}", "next_contact": "Ring"}
        async with client.post(url, data={"csrf": token, **presence, **bad}) as resp:
            assert resp.status == 400 and 'id="outcome-error"' in await resp.text()
        assert await rows(clocked, meeting_summaries) == 0
        good = {
            **bad,
            "outcome": "Terskel fjernes, dusjsone tilpasses.",
            "next_contact": "Formidler ringer om to uker.",
        }
        good["next_contact_on"] = "2025-12-09"
        async with client.post(url, data={"csrf": token, **presence, **good}, allow_redirects=False) as resp:
            assert resp.status == 303
        async with client.get(url) as resp:
            assert "Sammendraget er bekreftet" in await resp.text()
        async with client.get(f"{url}.json") as resp:
            assert resp.headers["Content-Disposition"].startswith("attachment")
            document = json.loads(await resp.text())
        assert {"role": "parorende", "on_camera": False, "count": 1} in document["present"]
        assert {"role": "tekniker", "on_camera": True, "count": 1} in document["present"]
        assert document["consents"][0]["subject_role"] == "bruker" and document["consents"][0]["giver"] == "relative"
        assert document["equipment"] == ["SN-88123"] and document["next_contact_on"] == "2025-12-09"
        assert document["ends_at"] == "2025-11-25T10:00:00Z" and document["confirmed_by_role"] == "formidler"
        async with client.get(f"{url}.html") as resp:
            printable, csp = await resp.text(), resp.headers["Content-Security-Policy"]
        style = re.search(r"<style>(.*?)</style>", printable, re.DOTALL)
        assert style and "Sammendrag av samhandlingsmøte" in printable
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
        async with client.post(url, data={"csrf": token, **presence, **good}) as resp:
            assert resp.status == 409 and "allerede bekreftet" in await resp.text()
    finally:
        await client.close()


async def test_a_summary_waits_for_the_meeting_and_needs_someone_present(clocked: LiveServer) -> None:
    client = await staff_client(clocked)
    try:
        invitations = await plan_meeting(client, clocked)
        url = f"{clocked.url}/staff/meetings/{invitations.meeting_id}/sammendrag"
        token = await csrf(client, clocked, f"/staff/meetings/{invitations.meeting_id}/sammendrag")
        data = {"csrf": token, "topic": "Bad", "outcome": "Ok", "next_contact": "Ingen", "on_bruker": "x"}
        async with client.post(url, data=data) as resp:
            page = await resp.text()
        assert resp.status == 400 and "når møtet har begynt" in page and 'id="present-error"' in page
        async with client.get(f"{url}.json") as resp:
            assert resp.status == 404
    finally:
        await client.close()


async def test_other_organisations_cannot_reach_the_journal_pages(clocked: LiveServer) -> None:
    client = await staff_client(clocked)
    other = await staff_client(clocked, 7)  # another municipality (the centre is a party and sees it)
    try:
        invitations = await plan_meeting(client, clocked)
        for suffix in ("reparasjon", "sammendrag", "sammendrag.json", "sammendrag.html"):
            async with other.get(f"{clocked.url}/staff/meetings/{invitations.meeting_id}/{suffix}") as resp:
                assert resp.status == 404, suffix
        async with aiohttp.ClientSession() as anonymous:
            url = f"{clocked.url}/staff/meetings/{invitations.meeting_id}/sammendrag"
            async with anonymous.get(url, allow_redirects=False) as resp:
                assert resp.status == 302
    finally:
        await client.close()
        await other.close()
