"""Isolation: the only way staff-facing code reads meetings, invitations and audit entries.

Everything is scoped to ``org_scope`` (meetings) or ``audit_scope`` (audit trail) of the caller. An object of
another organisation comes back as None or an empty list, never as an error that says it exists: the web layer
answers None with 404, never 403.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, false, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.records.ledgers import AuditLog, AuditView
from session.access.organisations import audit_scope, org_scope
from session.access.revocation import session_is_current
from session.meetings import Invitation, Meeting
from session.roles import Role
from session.tables import invitations, meetings

MAX_LIST = 200


def meetings_in_scope(scope: frozenset[int]) -> ColumnElement[bool]:
    """A WHERE clause on ``meetings`` for the given scope, for queries that join meetings (e.g. recordings)."""
    if not scope:
        return false()
    ids = sorted(scope)
    return or_(meetings.c.organisation_id.in_(ids), meetings.c.centre_id.in_(ids))


def _meeting(row: Row[Any]) -> Meeting:
    return Meeting(row.id, row.organisation_id, row.centre_id, row.topic, row.kind, row.created_by, row.status)


async def meetings_visible_to(
    conn: AsyncConnection, staff_id: int, *, limit: int = 50, status: str | None = None
) -> list[Meeting]:
    """The newest meetings of the caller's organisations (or where their centre takes part)."""
    scope = await org_scope(conn, staff_id)
    query = select(meetings).where(meetings_in_scope(scope))
    if status is not None:
        query = query.where(meetings.c.status == status)
    query = query.order_by(meetings.c.created_at.desc(), meetings.c.id).limit(max(1, min(limit, MAX_LIST)))
    return [_meeting(row) for row in (await conn.execute(query)).all()]


async def get_meeting_for(conn: AsyncConnection, staff_id: int, meeting_id: str) -> Meeting | None:
    """The meeting if the caller may see it; None for unknown ids and other organisations' meetings alike."""
    if not meeting_id or len(meeting_id) > 32:
        return None
    scope = await org_scope(conn, staff_id)
    query = select(meetings).where(meetings.c.id == meeting_id, meetings_in_scope(scope))
    row = (await conn.execute(query)).first()
    return None if row is None else _meeting(row)


async def get_invitation_for(
    conn: AsyncConnection, staff_id: int, invitation_id: int
) -> tuple[Meeting, Invitation] | None:
    """An invitation (join link) and its meeting if the caller may see the meeting; None otherwise."""
    row = (await conn.execute(select(invitations).where(invitations.c.id == invitation_id))).first()
    if row is None:
        return None
    meeting = await get_meeting_for(conn, staff_id, row.meeting_id)
    if meeting is None:
        return None
    invitation = Invitation(row.id, row.meeting_id, Role(row.role), bool(row.host), row.staff_id, row.expires_at)
    return meeting, invitation


async def audit_entries_for(
    conn: AsyncConnection,
    audit: AuditLog,
    staff_id: int,
    *,
    meeting_id: str | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[AuditView]:
    """Audit entries a compliance officer may read: those of their own organisation(s) only.

    Staff without the compliance-officer role get an empty list. ``org_ids=None`` (every organisation) is never
    passed from here.
    """
    scope = await audit_scope(conn, staff_id)
    if not scope:
        return []
    return await audit.entries(org_ids=scope, meeting_id=meeting_id, after_seq=after_seq, limit=limit, conn=conn)


async def get_audit_entry_for(conn: AsyncConnection, audit: AuditLog, staff_id: int, seq: int) -> AuditView | None:
    """One audit entry if it belongs to the caller's audit scope; None otherwise (404 at the edge)."""
    if seq < 1:
        return None
    found = await audit_entries_for(conn, audit, staff_id, after_seq=seq - 1, limit=1)
    return found[0] if found and found[0].seq == seq else None


async def staff_link_usable(
    conn: AsyncConnection, invitation: Invitation, staff_id: int | None, generation: int | None
) -> bool:
    """Whether a join link may be used by this caller: a citizen's link (no staff id) by whoever holds it; a
    link issued to a staff member only with that person's current session, and only while their rights still
    cover the meeting. Without this a host link would outlive the removal of the host's right."""
    if invitation.staff_id is None:
        return True
    if staff_id != invitation.staff_id or generation is None:
        return False
    if not await session_is_current(conn, staff_id, generation):
        return False
    return await get_meeting_for(conn, staff_id, invitation.meeting_id) is not None
