"""Planning a meeting as one service that owns its transactions: the plan, the meeting, its room code and its
join links are written here, so the web handlers only parse forms and render pages.

A new plan writes the meeting, the plan and the room code in one transaction and then issues the links (each
link is audited on its own, by :class:`session.access.invitation_links.InvitationLinks`); a change writes the new plan
and room code, revokes the old links and issues new ones; a cancellation ends the plan and revokes the links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from privacy.records.ledgers import Clock
from privacy.user_text import Text
from session.access.invitation_links import InvitationLinks
from session.access.isolation import get_meeting_for, meetings_visible_to
from session.access.link_tokens import token_hash
from session.access.meeting_parties import municipalities_served, parties_for
from session.access.organisations import can_create_meetings, staff_roles_of
from session.access.permissions import call_role_for
from session.errors import MeetingInvalid
from session.meetings import Meeting, create_meeting, get_meeting
from session.planning.plan import MeetingPlan, ParticipantKind
from session.planning.room_code import RoomCredentials
from session.planning.store import (
    RoomCodeOutcome,
    StoredPlan,
    cancel_plan,
    check_room_code,
    issue_room_code,
    load_plan,
    save_plan,
)
from session.planning.tables import room_codes
from session.roles import Role
from session.tables import invitations

LINK_GRACE = timedelta(hours=2)
"""Links and the room code stay valid this long after the planned end (meetings run over)."""
MIN_LINK_TTL = timedelta(minutes=30)


def link_ttl(plan: MeetingPlan, now: datetime) -> timedelta:
    return max(plan.ends_at + LINK_GRACE - now, MIN_LINK_TTL)


def join_role(kind: ParticipantKind) -> Role | None:
    """The role a planned participant joins the call in (a centre department's people join as advisers)."""
    try:
        return Role(kind.value)
    except ValueError:
        pass
    if kind is ParticipantKind.TEKNISK:
        return Role.TEKNIKER
    return Role.RADGIVER  # the centre's other departments are advisers in the call


@dataclass(frozen=True, slots=True)
class WayIn:
    """One invitation as shown once: who it is for and the token of its join link."""

    participant: str
    """A ParticipantKind value, or "host" for the planner's own link."""
    role: Role
    token: str


@dataclass(frozen=True, slots=True)
class Issued:
    sequence: int
    credentials: RoomCredentials
    ways_in: tuple[WayIn, ...]
    without_link: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoomEntry:
    """A room code and PIN checked: the outcome, and for a role the plan invited, what to issue a link for."""

    outcome: RoomCodeOutcome
    meeting_id: str | None = None
    planner_id: int | None = None
    """The link is issued in the planner's name: it stops working with their rights."""
    ttl: timedelta | None = None


@dataclass(frozen=True, slots=True)
class PlanForms:
    """What the plan form offers a staff member: their newest meetings and the municipalities they serve."""

    meetings: list[Meeting]
    municipalities: list[tuple[int, str]]


class PlanningService:
    """Plans, changes and cancels meetings; every method opens and closes its own connection or transaction."""

    def __init__(self, engine: AsyncEngine, links: InvitationLinks, clock: Clock, *, pepper: bytes) -> None:
        self._engine = engine
        self._links = links
        self._clock = clock
        self._pepper = pepper
        """Mixed into every PIN hash; kept outside the database (see ``session/planning/room_code.py``)."""

    async def meeting_for(self, staff_id: int, meeting_id: str) -> Meeting | None:
        """The meeting if the caller may see it; None for unknown and other organisations' alike."""
        async with self._engine.connect() as conn:
            return await get_meeting_for(conn, staff_id, meeting_id)

    async def meeting(self, meeting_id: str) -> Meeting | None:
        """Any meeting by id, for a holder of one of its links (the link was checked already)."""
        async with self._engine.connect() as conn:
            return await get_meeting(conn, meeting_id)

    async def visible_meetings(self, staff_id: int) -> list[Meeting]:
        async with self._engine.connect() as conn:
            return await meetings_visible_to(conn, staff_id)

    async def municipalities_served(self, organisation_id: int) -> list[tuple[int, str]]:
        async with self._engine.connect() as conn:
            return await municipalities_served(conn, organisation_id)

    async def create_unplanned(
        self, *, staff_id: int, organisation_id: int, municipality: int | None, topic: str, kind: str
    ) -> Meeting:
        """A meeting made on the spot, without a plan (one transaction). Raises SessionError."""
        async with self._engine.begin() as conn:
            if not await can_create_meetings(conn, organisation_id):
                raise MeetingInvalid(Text("err.meeting.unit_closed"))
            parties = await parties_for(conn, organisation_id, municipality)
            if not await can_create_meetings(conn, parties.municipal_id):
                raise MeetingInvalid(Text("err.meeting.party_closed"))
            return await create_meeting(
                conn,
                organisation_id=parties.municipal_id,
                centre_id=parties.centre_id,
                topic=topic,
                kind=kind,
                created_by=staff_id,
                now=self._clock.now(),
            )

    async def call_role(self, staff_id: int) -> Role | None:
        """The call role of a staff member (formidler, adviser or technician); None for other rights."""
        async with self._engine.connect() as conn:
            return call_role_for(frozenset(role for role, _ in await staff_roles_of(conn, staff_id)))

    async def planner_role(self, staff_id: int, organisation_id: int) -> Role | None:
        """The host role of a staff member who may plan for their unit now; None when they may not."""
        async with self._engine.connect() as conn:
            role = call_role_for(frozenset(r for r, _ in await staff_roles_of(conn, staff_id)))
            allowed = role is not None and await can_create_meetings(conn, organisation_id)
        return role if allowed else None

    async def forms(self, staff_id: int, organisation_id: int) -> PlanForms:
        async with self._engine.connect() as conn:
            mine = await meetings_visible_to(conn, staff_id, limit=20)
            served = await municipalities_served(conn, organisation_id)
        return PlanForms(mine, served)

    async def plan(self, meeting_id: str) -> StoredPlan | None:
        async with self._engine.connect() as conn:
            return await load_plan(conn, meeting_id)

    async def create(
        self, *, staff_id: int, organisation_id: int, municipality: int | None, plan: MeetingPlan, host_role: Role
    ) -> tuple[Meeting, Issued]:
        """A new meeting with its plan and room code (one transaction), then its links. Raises SessionError."""
        now = self._clock.now()
        async with self._engine.begin() as conn:
            parties = await parties_for(conn, organisation_id, municipality)
            if not await can_create_meetings(conn, parties.municipal_id):
                raise MeetingInvalid(Text("err.meeting.party_closed"))
            meeting = await create_meeting(
                conn,
                organisation_id=parties.municipal_id,
                centre_id=parties.centre_id,
                topic=plan.topic,
                kind=plan.kind,
                created_by=staff_id,
                now=now,
            )
            sequence = await save_plan(conn, meeting.id, plan, now=now)
            credentials = await issue_room_code(
                conn, meeting.id, now=now, expires_at=now + link_ttl(plan, now), pepper=self._pepper
            )
        ways_in, without = await self._issue_links(staff_id, meeting.id, plan, host_role)
        return meeting, Issued(sequence, credentials, ways_in, without)

    async def change(self, *, staff_id: int, meeting_id: str, plan: MeetingPlan, host_role: Role) -> Issued:
        """The new plan and room code (one transaction); the old links revoked, new ones issued."""
        now = self._clock.now()
        async with self._engine.begin() as conn:
            sequence = await save_plan(conn, meeting_id, plan, now=now)
            credentials = await issue_room_code(
                conn, meeting_id, now=now, expires_at=now + link_ttl(plan, now), pepper=self._pepper
            )
        await self._revoke_links(staff_id, meeting_id)  # the old links; the old room code is already replaced
        ways_in, without = await self._issue_links(staff_id, meeting_id, plan, host_role)
        return Issued(sequence, credentials, ways_in, without)

    async def cancel(self, *, staff_id: int, meeting_id: str) -> None:
        """Ends the plan and its room code, then every link. Raises PlanningError (already cancelled, no plan)."""
        async with self._engine.begin() as conn:
            await cancel_plan(conn, meeting_id, now=self._clock.now())
        await self._revoke_links(staff_id, meeting_id)

    async def invitation_plan(self, meeting_id: str, token: str, code: str) -> StoredPlan | None:
        """The meeting's plan if ``token`` is a live link of this meeting and ``code`` its current room code."""
        async with self._engine.connect() as conn:
            link = (
                await conn.execute(
                    select(invitations.c.meeting_id).where(
                        invitations.c.token_hash == token_hash(token), invitations.c.revoked_at.is_(None)
                    )
                )
            ).first()
            stored = await load_plan(conn, meeting_id)
            current = (
                await conn.execute(select(room_codes.c.code).where(room_codes.c.meeting_id == meeting_id))
            ).first()
        if link is None or link.meeting_id != meeting_id or current is None or current.code != code:
            return None
        return stored

    async def room_entry(self, code: str, pin: str, role: Role) -> RoomEntry:
        """Checks a room code and PIN (the failure count is committed when refusing, too) and whether the plan
        invited ``role``."""
        now = self._clock.now()
        async with self._engine.begin() as conn:
            result = await check_room_code(conn, code, pin, now=now, pepper=self._pepper)
            if result.outcome is RoomCodeOutcome.OK and result.meeting_id is not None:
                stored = await load_plan(conn, result.meeting_id)
                planner = await get_meeting(conn, result.meeting_id)
                invited = stored is not None and role in {join_role(p) for p in stored.plan.participants}
                if stored is not None and planner is not None and invited:
                    ttl = link_ttl(stored.plan, now)
                    return RoomEntry(result.outcome, result.meeting_id, planner.created_by, ttl)
        return RoomEntry(result.outcome)

    async def _revoke_links(self, staff_id: int, meeting_id: str) -> None:
        """Every link of the meeting stops working (a change or a cancellation); each revocation is audited."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(invitations.c.id).where(
                    invitations.c.meeting_id == meeting_id, invitations.c.revoked_at.is_(None)
                )
            )
            ids = list(rows.scalars().all())
        for invitation_id in ids:
            await self._links.revoke(actor_staff_id=staff_id, invitation_id=invitation_id)

    async def _issue_links(
        self, staff_id: int, meeting_id: str, plan: MeetingPlan, host_role: Role
    ) -> tuple[tuple[WayIn, ...], tuple[str, ...]]:
        """The planner's host link and one link per planned participant (Husbanken has no call role yet)."""
        links, ttl = self._links, link_ttl(plan, self._clock.now())
        host = await links.issue(actor_staff_id=staff_id, meeting_id=meeting_id, role=host_role, ttl=ttl, host=True)
        ways_in = [WayIn("host", host_role, host.token)]
        without: list[str] = []
        for kind in plan.participants:
            role = join_role(kind)
            if role is None:
                without.append(kind.value)
            elif kind.value != host_role.value:  # the planner is that participant; their host link covers it
                issued = await links.issue(actor_staff_id=staff_id, meeting_id=meeting_id, role=role, ttl=ttl)
                ways_in.append(WayIn(kind.value, role, issued.token))
        return tuple(ways_in), tuple(without)
