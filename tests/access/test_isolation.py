"""Isolation: staff of municipality A get nothing of B's (meetings, links, audit entries): None or empty."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.audit_record import Actor, ActorKind, AuditRecord
from privacy.records.ledgers import AuditLog
from session.access.isolation import (
    audit_entries_for,
    get_audit_entry_for,
    get_invitation_for,
    get_meeting_for,
    meetings_visible_to,
)
from session.meetings import create_meeting
from session.roles import Role
from tests.access.fakes import FixedClock, World
from tests.access.invitation_rows import issue_invitation


async def _meeting(engine: AsyncEngine, clock: FixedClock, org: int, by: int, centre: int | None = None) -> str:
    async with engine.begin() as conn:
        meeting = await create_meeting(
            conn,
            organisation_id=org,
            centre_id=centre,
            topic="Rullestol",
            kind="mobilitet",
            created_by=by,
            now=clock.now(),
        )
    clock.advance(1)
    return meeting.id


async def test_meetings_are_scoped_to_the_callers_organisations(
    engine: AsyncEngine, clock: FixedClock, world: World
) -> None:
    a = await _meeting(engine, clock, world.unit_a, world.formidler_a)
    a_with_centre = await _meeting(engine, clock, world.unit_a, world.formidler_a, centre=world.centre)
    b = await _meeting(engine, clock, world.unit_b, world.formidler_b)
    async with engine.begin() as conn:
        await issue_invitation(conn, meeting_id=b, role=Role.BRUKER, now=clock.now(), ttl=timedelta(hours=1))
        await issue_invitation(conn, meeting_id=a, role=Role.BRUKER, now=clock.now(), ttl=timedelta(hours=1))
    async with engine.connect() as conn:
        assert [m.id for m in await meetings_visible_to(conn, world.formidler_a)] == [a_with_centre, a]
        assert [m.id for m in await meetings_visible_to(conn, world.manager_a)] == [a_with_centre, a]
        assert [m.id for m in await meetings_visible_to(conn, world.formidler_b)] == [b]
        assert [m.id for m in await meetings_visible_to(conn, world.technician)] == [a_with_centre]
        assert await meetings_visible_to(conn, world.newcomer_a) == []
        assert await meetings_visible_to(conn, world.formidler_a, status="ended") == []

        assert await get_meeting_for(conn, world.formidler_a, b) is None
        assert await get_meeting_for(conn, world.manager_a, b) is None
        assert await get_meeting_for(conn, world.formidler_a, "no-such-meeting") is None
        assert await get_meeting_for(conn, world.formidler_a, "x" * 500) is None
        found = await get_meeting_for(conn, world.formidler_b, b)
        assert found is not None and found.organisation_id == world.unit_b

        assert await get_invitation_for(conn, world.formidler_a, 1) is None  # B's link
        mine = await get_invitation_for(conn, world.formidler_a, 2)
        assert mine is not None and mine[0].id == a and mine[1].role is Role.BRUKER
        assert await get_invitation_for(conn, world.formidler_a, 99) is None


async def test_compliance_officers_read_their_own_organisations_trail_only(
    engine: AsyncEngine, audit: AuditLog, world: World
) -> None:
    actor = Actor(ActorKind.SYSTEM, "test")
    await audit.append(AuditRecord("pause", actor, (world.muni_a, world.unit_a), "meetinga"))
    b_entry = await audit.append(AuditRecord("pause", actor, (world.muni_b, world.unit_b), "meetingb"))
    await audit.append(AuditRecord("pause", actor, (world.unit_a, world.centre), "meetingc"))
    async with engine.connect() as conn:
        seen_a = await audit_entries_for(conn, audit, world.compliance_a)
        assert [v.record.meeting_id for v in seen_a] == ["meetinga", "meetingc"]
        assert [v.record.meeting_id for v in await audit_entries_for(conn, audit, world.compliance_b)] == ["meetingb"]
        assert await audit_entries_for(conn, audit, world.compliance_a, meeting_id="meetingb") == []
        # Other roles, even the access manager of A, read no audit trail here.
        assert await audit_entries_for(conn, audit, world.manager_a) == []
        assert await audit_entries_for(conn, audit, world.formidler_a) == []
        assert await get_audit_entry_for(conn, audit, world.compliance_a, b_entry.seq) is None
        assert await get_audit_entry_for(conn, audit, world.compliance_a, 0) is None
        own = await get_audit_entry_for(conn, audit, world.compliance_b, b_entry.seq)
        assert own is not None and own.record.meeting_id == "meetingb"
