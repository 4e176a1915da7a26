"""What the staff pages of issue 7 share: the posted form as lists, the meeting in the path (scoped to the
caller), the staff member's role in a call, and the call role of a planned participant."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from session.access.isolation import get_meeting_for
from session.access.organisations import staff_roles_of
from session.access.permissions import call_role_for
from session.meetings import Meeting
from session.planning.nb_format import format_span
from session.planning.plan import OSLO, MeetingPlan, ParticipantKind
from session.roles import Role
from web.app import ENGINE, SIGNER
from web.pages import StaffUser


def join_role(kind: ParticipantKind) -> Role | None:
    """The role a planned participant joins the call in (a centre department's people join as advisers)."""
    try:
        return Role(kind.value)
    except ValueError:
        pass
    if kind is ParticipantKind.TEKNISK:
        return Role.TEKNIKER
    return Role.RADGIVER  # the centre's other departments are advisers in the call


async def form_lists(request: web.Request) -> dict[str, list[str]]:
    """The posted form as the domain parsers read it: every key with all its text values."""
    form = await request.post()
    return {key: [v for v in form.getall(key) if isinstance(v, str)] for key in set(form.keys())}


async def meeting_role_of(conn: AsyncConnection, staff_id: int) -> Role | None:
    """The call role of a staff member (formidler, adviser or technician); None for other rights."""
    return call_role_for(frozenset(role for role, _ in await staff_roles_of(conn, staff_id)))


async def staff_meeting(request: web.Request, user: StaffUser) -> Meeting:
    """The meeting in the path if the caller may see it; 404 for unknown and other organisations' alike."""
    async with request.app[ENGINE].connect() as conn:
        meeting = await get_meeting_for(conn, user.id, request.match_info["meeting_id"])
    if meeting is None:
        raise web.HTTPNotFound(text="Fant ikke møtet.")
    return meeting


def csrf_of(request: web.Request, user: StaffUser) -> str:
    return request.app[SIGNER].csrf_token(user.session)


def when_text(plan: MeetingPlan) -> str:
    return format_span(plan.starts_at, plan.ends_at, OSLO)
