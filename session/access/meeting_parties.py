"""Both ends of a meeting: the municipality (or its unit) and the hjelpemiddelsentral that serves it.

The routine asks both organisations to ensure that a recording is deleted, so a meeting is never one-sided:
whoever creates it, the municipal side and the centre are both named. A municipality names its centre when the
centre registers it (``organisations.serving_centre_id``); centre staff choose the municipality or unit a meeting
is with. Drop-in calls to the technical department are the exception: the caller is anonymous, so only the
centre is known.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.user_text import Text
from session.access.organisations import org_path
from session.access.staff_roles import OrgKind
from session.errors import MeetingInvalid
from session.tables import meetings, organisations

MUNICIPAL = frozenset({OrgKind.MUNICIPALITY, OrgKind.MUNICIPALITY_UNIT})
CENTRE_SIDE = frozenset({OrgKind.CENTRE, OrgKind.CENTRE_DEPARTMENT})


@dataclass(frozen=True, slots=True)
class Parties:
    municipal_id: int
    """The municipality or unit the meeting is about (``meetings.organisation_id``)."""
    centre_id: int
    """The hjelpemiddelsentral (``meetings.centre_id``)."""


async def serving_centre(conn: AsyncConnection, org_id: int) -> int | None:
    """The centre serving the municipality that ``org_id`` (a municipality or one of its units) belongs to."""
    path = await org_path(conn, org_id)
    root = next((o for o in reversed(path) if o.kind is OrgKind.MUNICIPALITY), None)
    if root is None:
        return None
    query = select(organisations.c.serving_centre_id).where(organisations.c.id == root.id)
    return (await conn.execute(query)).scalar_one_or_none()


async def centre_of(conn: AsyncConnection, org_id: int) -> int | None:
    """The centre itself for a centre or one of its departments."""
    path = await org_path(conn, org_id)
    return next((o.id for o in reversed(path) if o.kind is OrgKind.CENTRE), None)


async def parties_for(conn: AsyncConnection, creator_org: int, municipal_choice: int | None) -> Parties:
    """The two parties of a new meeting made by someone of ``creator_org``.

    Municipal staff make meetings for their own unit, with their municipality's centre. Centre staff name the
    municipality or unit (it must be one their centre serves).
    """
    path = await org_path(conn, creator_org)
    if not path:
        raise MeetingInvalid(Text("err.meeting.no_org"))
    kind = path[0].kind
    if kind in MUNICIPAL:
        centre = await serving_centre(conn, creator_org)
        if centre is None:
            raise MeetingInvalid(Text("err.meeting.no_centre"))
        return Parties(creator_org, centre)
    if kind in CENTRE_SIDE:
        centre = await centre_of(conn, creator_org)
        if municipal_choice is None:
            raise MeetingInvalid(Text("err.meeting.choose_party"))
        if centre is None or await serving_centre(conn, municipal_choice) != centre:
            raise MeetingInvalid(Text("err.meeting.party_not_served"))
        return Parties(municipal_choice, centre)
    raise MeetingInvalid(Text("err.meeting.org_cannot_plan"))


async def municipalities_served(conn: AsyncConnection, creator_org: int) -> list[tuple[int, str]]:
    """(id, name) of the enabled municipalities and units a centre serves, for the centre's meeting forms."""
    centre = await centre_of(conn, creator_org)
    if centre is None:
        return []
    roots = select(organisations.c.id).where(
        organisations.c.serving_centre_id == centre, organisations.c.kind == OrgKind.MUNICIPALITY.value
    )
    query = (
        select(organisations.c.id, organisations.c.name)
        .where(organisations.c.enabled, (organisations.c.id.in_(roots)) | (organisations.c.parent_id.in_(roots)))
        .order_by(organisations.c.name)
    )
    return [(int(r.id), str(r.name)) for r in (await conn.execute(query)).all()]


async def meeting_parties(conn: AsyncConnection, meeting_id: str) -> tuple[int, ...]:
    """The organisations that must each confirm a recording's deletion: the municipal side and the centre."""
    row = (
        await conn.execute(select(meetings.c.organisation_id, meetings.c.centre_id).where(meetings.c.id == meeting_id))
    ).first()
    if row is None:
        return ()
    return tuple(sorted({o for o in (row.organisation_id, row.centre_id) if o is not None}))
