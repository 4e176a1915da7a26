"""Planning a meeting, its invitations (.ics and plain text), changes and cancellation (issue 7).

A plan is validated whole (``parse_plan``) before anything is written; the meeting, its plan, its join links
and its room code are then written in one transaction, so nothing is saved halfway. Join links and the PIN are
stored hashed, so the invitations are shown once, on the page that made them; a calendar file is produced from
what that page posts back, after the link has been checked against the meeting. A change re-issues links and
room code with a higher SEQUENCE and revokes the old links; a cancellation needs neither.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.user_text import Text
from session.access.isolation import meetings_visible_to
from session.access.link_tokens import token_hash
from session.access.meeting_parties import municipalities_served, parties_for
from session.access.organisations import can_create_meetings
from session.access.permissions import StaffAction
from session.errors import MeetingInvalid, SessionError
from session.meetings import MEETING_KINDS, Meeting, create_meeting
from session.planning.errors import PlanningError
from session.planning.invitation_ics import (
    InvitationDetails,
    cancellation_ics,
    cancellation_text,
    invitation_ics,
    invitation_text,
    meeting_uid,
)
from session.planning.plan import OSLO, MeetingPlan, ParticipantKind, parse_plan
from session.planning.room_code import RoomCredentials, normalize_pin, normalize_room_code
from session.planning.store import (
    StoredPlan,
    cancel_plan,
    issue_room_code,
    load_plan,
    save_plan,
)
from session.planning.tables import room_codes
from session.roles import LABELS, Role
from session.tables import invitations
from web import journal_pages, precheck_pages, room_code_pages
from web.app import CLOCK, ENGINE, LINKS, SETTINGS
from web.i18n import message_of, voice
from web.pages import StaffUser, check_csrf, lang_of, render, require
from web.room_code_pages import LINK_GRACE, MIN_LINK_TTL, ROOM_PATH, room_pepper
from web.staff_meeting import csrf_of, form_lists, join_role, meeting_role_of, staff_meeting, when_text

ICS_HEADERS = {
    "Content-Type": "text/calendar; charset=utf-8; method=REQUEST",
    "Content-Disposition": 'attachment; filename="samhandling-invitasjon.ics"',
}
# --- invitations ---------------------------------------------------------------------------------------------


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


def link_ttl(plan: MeetingPlan, now: datetime) -> timedelta:
    return max(plan.ends_at + LINK_GRACE - now, MIN_LINK_TTL)


async def _new_room_code(
    request: web.Request, conn: AsyncConnection, meeting_id: str, plan: MeetingPlan
) -> RoomCredentials:
    """A new room code + PIN for the meeting, inside the caller's transaction (it replaces any earlier one)."""
    now = request.app[CLOCK]()
    expires_at = now + link_ttl(plan, now)
    return await issue_room_code(conn, meeting_id, now=now, expires_at=expires_at, pepper=room_pepper(request.app))


async def _revoke_links(request: web.Request, meeting_id: str, user: StaffUser) -> None:
    """Every link of the meeting stops working (a change or a cancellation); each revocation is audited."""
    async with request.app[ENGINE].connect() as conn:
        rows = await conn.execute(
            select(invitations.c.id).where(invitations.c.meeting_id == meeting_id, invitations.c.revoked_at.is_(None))
        )
        ids = list(rows.scalars().all())
    for invitation_id in ids:
        await request.app[LINKS].revoke(actor_staff_id=user.id, invitation_id=invitation_id)


async def _issue_links(
    request: web.Request, meeting_id: str, plan: MeetingPlan, user: StaffUser, host_role: Role
) -> tuple[tuple[WayIn, ...], tuple[str, ...]]:
    """The planner's host link and one link per planned participant (Husbanken has no call role yet)."""
    links, ttl = request.app[LINKS], link_ttl(plan, request.app[CLOCK]())
    host = await links.issue(actor_staff_id=user.id, meeting_id=meeting_id, role=host_role, ttl=ttl, host=True)
    ways_in = [WayIn("host", host_role, host.token)]
    without: list[str] = []
    for kind in plan.participants:
        role = join_role(kind)
        if role is None:
            without.append(kind.value)
        elif kind.value != host_role.value:  # the planner is that participant; their host link covers it
            issued = await links.issue(actor_staff_id=user.id, meeting_id=meeting_id, role=role, ttl=ttl)
            ways_in.append(WayIn(kind.value, role, issued.token))
    return tuple(ways_in), tuple(without)


def _invitations_page(
    request: web.Request, user: StaffUser, meeting: Meeting, stored: StoredPlan, issued: Issued
) -> web.Response:
    entries = []
    for way in issued.ways_in:
        details = details_for(request, meeting.id, stored, way.token, issued.credentials)
        entries.append(
            {
                "participant": way.participant,
                "role_label": LABELS[lang_of(request)][way.role],
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
    problems: Mapping[str, str] | None = None,
    meeting: Meeting | None = None,
    status: int = 200,
) -> web.Response:
    lang = lang_of(request)
    async with request.app[ENGINE].connect() as conn:
        mine = [] if meeting is not None else await meetings_visible_to(conn, user.id, limit=20)
        served = [] if meeting is not None else await municipalities_served(conn, user.organisation_id)
    return render(
        request,
        "plan.html",
        status=status,
        user=user,
        csrf=csrf_of(request, user),
        values=values,
        problems=dict(problems or {}),
        kinds=MEETING_KINDS,
        roles=[(r.value, LABELS[lang][r]) for r in Role],
        participant_kinds=[p.value for p in ParticipantKind],
        meeting=meeting,
        meetings=mine,
        municipalities=served,
    )


async def plan_form(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.PLAN_MEETING)
    async with request.app[ENGINE].connect() as conn:
        host_role = await meeting_role_of(conn, user.id)
    return await _plan_page(request, user, _default_values(request.app[CLOCK](), host_role))


async def plan_create(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.PLAN_MEETING)
    await check_csrf(request, user)
    form = await form_lists(request)
    now = request.app[CLOCK]()
    try:
        plan = parse_plan(form, now=now)
    except PlanningError as exc:
        return await _plan_page(request, user, _values(form), problems=exc.problems, status=400)
    async with request.app[ENGINE].connect() as conn:
        host_role = await meeting_role_of(conn, user.id)
        allowed = host_role is not None and await can_create_meetings(conn, user.organisation_id)
    if host_role is None or not allowed:
        problem = {"meeting": "Du har ikke rett til å planlegge møter for enheten din ennå."}
        return await _plan_page(request, user, _values(form), problems=problem, status=403)
    try:
        async with request.app[ENGINE].begin() as conn:
            choice = form.get("municipality", [""])[0]
            parties = await parties_for(conn, user.organisation_id, int(choice) if choice.isdecimal() else None)
            if not await can_create_meetings(conn, parties.municipal_id):
                raise MeetingInvalid(Text("err.meeting.party_closed"))
            meeting = await create_meeting(
                conn,
                organisation_id=parties.municipal_id,
                centre_id=parties.centre_id,
                topic=plan.topic,
                kind=plan.kind,
                created_by=user.id,
                now=now,
            )
            sequence = await save_plan(conn, meeting.id, plan, now=now)
            credentials = await _new_room_code(request, conn, meeting.id, plan)
        ways_in, without = await _issue_links(request, meeting.id, plan, user, host_role)
    except SessionError as exc:
        return await _plan_page(
            request, user, _values(form), problems={"meeting": message_of(exc, lang_of(request))}, status=400
        )
    issued = Issued(sequence, credentials, ways_in, without)
    return _invitations_page(request, user, meeting, StoredPlan(plan, sequence, None), issued)


async def plan_edit_form(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.PLAN_MEETING)
    meeting = await staff_meeting(request, user)
    async with request.app[ENGINE].connect() as conn:
        stored = await load_plan(conn, meeting.id)
        host_role = await meeting_role_of(conn, user.id)
    if stored is None:  # a meeting made without a plan gets one now
        values = _default_values(request.app[CLOCK](), host_role) | {"topic": meeting.topic, "kind": meeting.kind}
    elif stored.cancelled_at is not None:
        raise web.HTTPGone(text="Møtet er avlyst og kan ikke endres. Planlegg et nytt møte.")
    else:
        values = _values(stored.plan.to_form())
    return await _plan_page(request, user, values, meeting=meeting)


async def plan_update(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.PLAN_MEETING)
    await check_csrf(request, user)
    meeting = await staff_meeting(request, user)
    form = await form_lists(request)
    now = request.app[CLOCK]()
    try:
        plan = parse_plan(form, now=now)
    except PlanningError as exc:
        return await _plan_page(request, user, _values(form), problems=exc.problems, meeting=meeting, status=400)
    async with request.app[ENGINE].connect() as conn:
        host_role = await meeting_role_of(conn, user.id)
    if host_role is None:
        problem = {"meeting": "Du har ikke rett til å endre møter."}
        return await _plan_page(request, user, _values(form), problems=problem, meeting=meeting, status=403)
    try:
        async with request.app[ENGINE].begin() as conn:
            sequence = await save_plan(conn, meeting.id, plan, now=now)
            credentials = await _new_room_code(request, conn, meeting.id, plan)
        await _revoke_links(request, meeting.id, user)  # the old links; the old room code is already replaced
        ways_in, without = await _issue_links(request, meeting.id, plan, user, host_role)
    except SessionError as exc:
        problems = exc.problems if isinstance(exc, PlanningError) else {"meeting": message_of(exc, lang_of(request))}
        return await _plan_page(request, user, _values(form), problems=problems, meeting=meeting, status=400)
    issued = Issued(sequence, credentials, ways_in, without)
    return _invitations_page(request, user, meeting, StoredPlan(plan, sequence, None), issued)


async def invitation_download(request: web.Request) -> web.Response:
    """The .ics of one invitation shown on the page that made it; the link must belong to this meeting."""
    user = await require(request, StaffAction.PLAN_MEETING)
    form = await check_csrf(request, user)
    meeting = await staff_meeting(request, user)
    code, pin = normalize_room_code(form.get("code", "")), normalize_pin(form.get("pin", ""))
    if code is None or pin is None:
        raise web.HTTPBadRequest(text="Romkoden eller PIN-koden mangler. Last ned fra siden med invitasjonene.")
    now, token = request.app[CLOCK](), form.get("token", "")
    async with request.app[ENGINE].connect() as conn:
        link = (
            await conn.execute(
                select(invitations.c.meeting_id).where(
                    invitations.c.token_hash == token_hash(token), invitations.c.revoked_at.is_(None)
                )
            )
        ).first()
        stored = await load_plan(conn, meeting.id)
        current = (await conn.execute(select(room_codes.c.code).where(room_codes.c.meeting_id == meeting.id))).first()
    if link is None or link.meeting_id != meeting.id or stored is None or current is None or current.code != code:
        raise web.HTTPBadRequest(text="Invitasjonen hører ikke til dette møtet. Last ned fra siden med invitasjonene.")
    if stored.cancelled_at is not None:
        raise web.HTTPGone(text="Møtet er avlyst.")
    details = details_for(request, meeting.id, stored, token, RoomCredentials(code, pin))
    body = invitation_ics(details, dtstamp=now, voice=voice(lang_of(request))).encode()
    return web.Response(body=body, headers=ICS_HEADERS)


# --- cancelling ----------------------------------------------------------------------------------------------


async def cancel_form(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.CANCEL_MEETING)
    meeting = await staff_meeting(request, user)
    async with request.app[ENGINE].connect() as conn:
        stored = await load_plan(conn, meeting.id)
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


async def cancel(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.CANCEL_MEETING)
    await check_csrf(request, user)
    meeting = await staff_meeting(request, user)
    now = request.app[CLOCK]()
    error: str | None = None
    try:
        async with request.app[ENGINE].begin() as conn:
            await cancel_plan(conn, meeting.id, now=now)
    except PlanningError as exc:
        error = exc.message
    else:
        await _revoke_links(request, meeting.id, user)
    async with request.app[ENGINE].connect() as conn:
        stored = await load_plan(conn, meeting.id)
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


async def cancellation_download(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.CANCEL_MEETING)
    meeting = await staff_meeting(request, user)
    async with request.app[ENGINE].connect() as conn:
        stored = await load_plan(conn, meeting.id)
    if stored is None or stored.cancelled_at is None:
        raise web.HTTPNotFound(text="Møtet er ikke avlyst.")
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
