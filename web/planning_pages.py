"""Planning a meeting, its invitations (.ics and plain text), changes and cancellation (issue 7).

A plan is validated whole (``parse_plan``) before anything is written; the meeting, its plan, its join links
and its room code are then written in one transaction, so nothing is saved halfway. Join links and the PIN are
stored hashed, so the invitations are shown once, on the page that made them; a calendar file is produced from
what that page posts back, after the link has been checked against the meeting. A change re-issues links and
room code with a higher SEQUENCE and revokes the old links; a cancellation needs neither.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from privacy.user_text import Message
from session.access.permissions import StaffAction
from session.errors import SessionError
from session.meetings import MEETING_KINDS, Meeting
from session.planning.errors import PlanningError
from session.planning.invitation_ics import (
    InvitationDetails,
    cancellation_ics,
    cancellation_text,
    invitation_ics,
    invitation_text,
    meeting_uid,
)
from session.planning.plan import OSLO, ParticipantKind, parse_plan
from session.planning.room_code import RoomCredentials, normalize_pin, normalize_room_code
from session.planning.service import Issued
from session.planning.store import StoredPlan
from session.roles import Role
from web import journal_pages, precheck_pages, room_code_pages
from web.i18n import message_of, role_label, voice
from web.keys import CLOCK, PLANNING, SETTINGS
from web.rendering import lang_of, refused, render
from web.room_code_pages import ROOM_PATH
from web.staff_auth import StaffUser, form_of, staff_of, staff_route
from web.staff_meeting import csrf_of, form_lists, staff_meeting, when_text

ICS_HEADERS = {
    "Content-Type": "text/calendar; charset=utf-8; method=REQUEST",
    "Content-Disposition": 'attachment; filename="samhandling-invitasjon.ics"',
}
# --- invitations ---------------------------------------------------------------------------------------------


def _domain(base_url: str) -> str:
    host = urlsplit(base_url).hostname or ""
    return host if host and all(ch.isalnum() or ch in ".-_" for ch in host) else "samhandling.local"


def details_for(
    request: web.Request,
    meeting_id: str,
    stored: StoredPlan,
    token: str | None,
    credentials: RoomCredentials | None,
) -> InvitationDetails:
    base = request.app[SETTINGS].base_url
    return InvitationDetails(
        uid=meeting_uid(meeting_id, _domain(base)),
        sequence=stored.sequence,
        plan=stored.plan,
        join_url=f"{base}/j/{token}" if token else None,
        credentials=credentials,
        fallback_address=f"{base}{ROOM_PATH}",
        precheck_url=f"{base}/j/{token}/sjekk" if token else None,
    )


def _invitations_page(
    request: web.Request, user: StaffUser, meeting: Meeting, stored: StoredPlan, issued: Issued
) -> web.Response:
    entries = []
    for way in issued.ways_in:
        details = details_for(request, meeting.id, stored, way.token, issued.credentials)
        entries.append(
            {
                "participant": way.participant,
                "role_label": role_label(lang_of(request), way.role),
                "link": details.join_url,
                "precheck": details.precheck_url,
                "token": way.token,
                "text": invitation_text(details, voice=voice(lang_of(request))),
            }
        )
    return render(
        request,
        "plan_invitations.html",
        user=user,
        csrf=csrf_of(request, user),
        meeting=meeting,
        when=when_text(stored.plan),
        sequence=issued.sequence,
        credentials=issued.credentials,
        room_address=f"{request.app[SETTINGS].base_url}{ROOM_PATH}",
        entries=entries,
        without_link=issued.without_link,
    )


# --- the plan form -------------------------------------------------------------------------------------------


def _values(form: Mapping[str, str | Sequence[str]]) -> dict[str, Any]:
    """Form values for the template: single fields as text, participants as a list, line lists joined."""

    def items(key: str) -> list[str]:
        value = form.get(key, ())
        return [value] if isinstance(value, str) else list(value)

    def first(key: str) -> str:
        found = items(key)
        return found[0] if found else ""

    return {
        **{key: first(key) for key in ("kind", "starts_at", "ends_at", "topic", "filming", "camera_operator")},
        "participants": items("participants"),
        "drawings": "\n".join(items("drawings")),
        "serial_numbers": "\n".join(items("serial_numbers")),
    }


def _default_values(now: datetime, host_role: Role | None) -> dict[str, Any]:
    day = (now.astimezone(OSLO) + timedelta(days=1)).date()
    start = datetime.combine(day, time(10))
    role = (host_role or Role.FORMIDLER).value
    return _values(
        {
            "kind": "bolig",
            "starts_at": start.isoformat(timespec="minutes"),
            "ends_at": (start + timedelta(hours=1)).isoformat(timespec="minutes"),
            "camera_operator": role,
            "participants": [role, Role.BRUKER.value],
        }
    )


async def _plan_page(
    request: web.Request,
    user: StaffUser,
    values: dict[str, Any],
    *,
    problems: Mapping[str, Message] | None = None,
    meeting: Meeting | None = None,
    status: int = 200,
) -> web.Response:
    lang = lang_of(request)
    forms = None if meeting is not None else await request.app[PLANNING].forms(user.id, user.organisation_id)
    return render(
        request,
        "plan.html",
        status=status,
        user=user,
        csrf=csrf_of(request, user),
        values=values,
        problems=dict(problems or {}),
        kinds=MEETING_KINDS,
        roles=[(r.value, role_label(lang, r)) for r in Role],
        participant_kinds=[p.value for p in ParticipantKind],
        meeting=meeting,
        meetings=forms.meetings if forms else [],
        municipalities=forms.municipalities if forms else [],
    )


@staff_route(StaffAction.PLAN_MEETING)
async def plan_form(request: web.Request) -> web.Response:
    user = staff_of(request)
    host_role = await request.app[PLANNING].call_role(user.id)
    return await _plan_page(request, user, _default_values(request.app[CLOCK](), host_role))


@staff_route(StaffAction.PLAN_MEETING)
async def plan_create(request: web.Request) -> web.Response:
    user = staff_of(request)
    form = await form_lists(request)
    now = request.app[CLOCK]()
    try:
        plan = parse_plan(form, now=now)
    except PlanningError as exc:
        return await _plan_page(request, user, _values(form), problems=exc.problems, status=400)
    host_role = await request.app[PLANNING].planner_role(user.id, user.organisation_id)
    if host_role is None:
        problem = {"meeting": "Du har ikke rett til å planlegge møter for enheten din ennå."}
        return await _plan_page(request, user, _values(form), problems=problem, status=403)
    choice = form.get("municipality", [""])[0]
    try:
        meeting, issued = await request.app[PLANNING].create(
            staff_id=user.id,
            organisation_id=user.organisation_id,
            municipality=int(choice) if choice.isdecimal() else None,
            plan=plan,
            host_role=host_role,
        )
    except SessionError as exc:
        return await _plan_page(
            request, user, _values(form), problems={"meeting": message_of(exc, lang_of(request))}, status=400
        )
    return _invitations_page(request, user, meeting, StoredPlan(plan, issued.sequence, None), issued)


@staff_route(StaffAction.PLAN_MEETING)
async def plan_edit_form(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    stored = await request.app[PLANNING].plan(meeting.id)
    host_role = await request.app[PLANNING].call_role(user.id)
    if stored is None:  # a meeting made without a plan gets one now
        values = _default_values(request.app[CLOCK](), host_role) | {"topic": meeting.topic, "kind": meeting.kind}
    elif stored.cancelled_at is not None:
        raise refused(request, web.HTTPGone, "err.plan.cancelled")
    else:
        values = _values(stored.plan.to_form())
    return await _plan_page(request, user, values, meeting=meeting)


@staff_route(StaffAction.PLAN_MEETING)
async def plan_update(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    form = await form_lists(request)
    now = request.app[CLOCK]()
    try:
        plan = parse_plan(form, now=now)
    except PlanningError as exc:
        return await _plan_page(request, user, _values(form), problems=exc.problems, meeting=meeting, status=400)
    host_role = await request.app[PLANNING].call_role(user.id)
    if host_role is None:
        problem = {"meeting": "Du har ikke rett til å endre møter."}
        return await _plan_page(request, user, _values(form), problems=problem, meeting=meeting, status=403)
    try:
        issued = await request.app[PLANNING].change(
            staff_id=user.id, meeting_id=meeting.id, plan=plan, host_role=host_role
        )
    except SessionError as exc:
        problems = exc.problems if isinstance(exc, PlanningError) else {"meeting": message_of(exc, lang_of(request))}
        return await _plan_page(request, user, _values(form), problems=problems, meeting=meeting, status=400)
    return _invitations_page(request, user, meeting, StoredPlan(plan, issued.sequence, None), issued)


@staff_route(StaffAction.PLAN_MEETING)
async def invitation_download(request: web.Request) -> web.Response:
    """The .ics of one invitation shown on the page that made it; the link must belong to this meeting."""
    user, form = staff_of(request), form_of(request)
    meeting = await staff_meeting(request, user)
    code, pin = normalize_room_code(form.get("code", "")), normalize_pin(form.get("pin", ""))
    if code is None or pin is None:
        raise refused(request, web.HTTPBadRequest, "err.web.room_code_missing")
    now, token = request.app[CLOCK](), form.get("token", "")
    stored = await request.app[PLANNING].invitation_plan(meeting.id, token, code)
    if stored is None:
        raise refused(request, web.HTTPBadRequest, "err.web.invitation_other_meeting")
    if stored.cancelled_at is not None:
        raise refused(request, web.HTTPGone, "err.web.meeting_cancelled")
    details = details_for(request, meeting.id, stored, token, RoomCredentials(code, pin))
    body = invitation_ics(details, dtstamp=now, voice=voice(lang_of(request))).encode()
    return web.Response(body=body, headers=ICS_HEADERS)


# --- cancelling ----------------------------------------------------------------------------------------------


@staff_route(StaffAction.CANCEL_MEETING)
async def cancel_form(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    stored = await request.app[PLANNING].plan(meeting.id)
    return render(
        request,
        "plan_cancel.html",
        user=user,
        csrf=csrf_of(request, user),
        meeting=meeting,
        stored=stored,
        when=when_text(stored.plan) if stored else "",
        text=_cancellation_text(request, meeting.id, stored),
        done=False,
        error=None,
    )


@staff_route(StaffAction.CANCEL_MEETING)
async def cancel(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    error: Message | None = None
    try:
        await request.app[PLANNING].cancel(staff_id=user.id, meeting_id=meeting.id)
    except PlanningError as exc:
        error = exc.message
    stored = await request.app[PLANNING].plan(meeting.id)
    return render(
        request,
        "plan_cancel.html",
        status=400 if error else 200,
        user=user,
        csrf=csrf_of(request, user),
        meeting=meeting,
        stored=stored,
        when=when_text(stored.plan) if stored else "",
        text=_cancellation_text(request, meeting.id, stored),
        done=error is None,
        error=error,
    )


def _cancellation_text(request: web.Request, meeting_id: str, stored: StoredPlan | None) -> str:
    """The cancellation to copy into an e-mail, in the language of the staff member who sends it."""
    if stored is None:
        return ""
    return cancellation_text(details_for(request, meeting_id, stored, None, None), voice=voice(lang_of(request)))


@staff_route(StaffAction.CANCEL_MEETING)
async def cancellation_download(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    stored = await request.app[PLANNING].plan(meeting.id)
    if stored is None or stored.cancelled_at is None:
        raise refused(request, web.HTTPNotFound, "err.web.meeting_not_cancelled")
    details = details_for(request, meeting.id, stored, None, None)
    body = cancellation_ics(details, dtstamp=request.app[CLOCK](), voice=voice(lang_of(request))).encode()
    headers = {
        "Content-Type": "text/calendar; charset=utf-8; method=CANCEL",
        "Content-Disposition": 'attachment; filename="samhandling-avlysning.ics"',
    }
    return web.Response(body=body, headers=headers)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/planlegg", plan_form)
    app.router.add_post("/staff/planlegg", plan_create)
    app.router.add_get("/staff/meetings/{meeting_id}/plan", plan_edit_form)
    app.router.add_post("/staff/meetings/{meeting_id}/plan", plan_update)
    app.router.add_post("/staff/meetings/{meeting_id}/invitasjon.ics", invitation_download)
    app.router.add_get("/staff/meetings/{meeting_id}/avlys", cancel_form)
    app.router.add_post("/staff/meetings/{meeting_id}/avlys", cancel)
    app.router.add_get("/staff/meetings/{meeting_id}/avlysning.ics", cancellation_download)
    room_code_pages.setup_routes(app)
    precheck_pages.setup_routes(app)
    journal_pages.setup_routes(app)
