"""What the staff pages of issue 7 share: the posted form as lists, the meeting in the path (scoped to the
caller) and the texts they print."""

from __future__ import annotations

from aiohttp import web

from session.meetings import Meeting
from session.planning.nb_format import format_span
from session.planning.plan import OSLO, MeetingPlan
from web.keys import PLANNING, SIGNER
from web.rendering import refused
from web.staff_auth import StaffUser


async def form_lists(request: web.Request) -> dict[str, list[str]]:
    """The posted form as the domain parsers read it: every key with all its text values."""
    form = await request.post()
    return {key: [v for v in form.getall(key) if isinstance(v, str)] for key in set(form.keys())}


async def staff_meeting(request: web.Request, user: StaffUser) -> Meeting:
    """The meeting in the path if the caller may see it; 404 for unknown and other organisations' alike."""
    meeting = await request.app[PLANNING].meeting_for(user.id, request.match_info["meeting_id"])
    if meeting is None:
        raise refused(request, web.HTTPNotFound, "err.link.meeting_not_found")
    return meeting


def csrf_of(request: web.Request, user: StaffUser) -> str:
    return request.app[SIGNER].csrf_token(user.session)


def when_text(plan: MeetingPlan) -> str:
    return format_span(plan.starts_at, plan.ends_at, OSLO)
