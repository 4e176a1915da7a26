"""The technical department's drop-in: a direct address per department, a queue, technicians take the next.

``/teknisk/<centre>`` (and ``/bolig``, ``/mobilitet``, ``/kommunikasjon``) is the department's video phone
hour. Callers pick their role and wait; the page polls its ticket (the poll is the heartbeat) and shows the
place in line and a rough wait. There is no account and no identity: a ticket is a random id, the role is all
that is kept beside it, one line per (centre, department) in the database (``session.planning.dropin_store``), so
any node serves any caller and technician and a restart costs nobody their place.
A technician's "Ta neste" creates a meeting, hands the caller their join link through the
next poll and sends the technician to the host link. Outside the opening hours the page says when the
department opens and how else to reach the centre.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from aiohttp import web

from session.departments import Department
from session.planning.dropin_queue import QueueStatus, TicketState
from session.planning.dropin_store import QueueKey
from session.planning.errors import QueueError, TicketUnknown
from session.planning.nb_format import format_clock, format_day, weekday_names
from session.planning.opening_hours import MIDNIGHT, OpeningHours
from session.planning.plan import OSLO
from session.roles import Role
from web.i18n import role_label, translate, voice
from web.keys import CLOCK, DROPIN
from web.rendering import lang_of, refused, render

DEPARTMENTS = "|".join(d.value for d in Department)
PUBLIC = f"/{{department:{DEPARTMENTS}}}/{{centre_id:[0-9]{{1,9}}}}"
"""A department's public address; the technicians' page is the same under ``/staff/dropin``."""
CALLER_ROLES = (Role.FORMIDLER, Role.BRUKER, Role.PARORENDE, Role.LEVERANDOR)
"""Who may call in; a caller picks one, and it becomes their role in the call."""
MEETING_KIND = {
    Department.TEKNISK: "reparasjon",
    Department.BOLIG: "bolig",
    Department.MOBILITET: "mobilitet",
    Department.KOMMUNIKASJON: "kommunikasjon",
}


# --- opening hours -------------------------------------------------------------------------------------------


async def centre_name(request: web.Request, centre_id: int) -> str:
    name = await request.app[DROPIN].centre_name(centre_id)
    if name is None:
        raise refused(request, web.HTTPNotFound, "err.web.centre_not_found")
    return name


def address_of(request: web.Request) -> tuple[Department, int]:
    return Department(request.match_info["department"]), int(request.match_info["centre_id"])


def _key(request: web.Request) -> QueueKey:
    department, centre_id = address_of(request)
    return centre_id, department


async def opening_hours(request: web.Request, centre_id: int, department: Department) -> OpeningHours:
    today = request.app[CLOCK]().astimezone(OSLO).date()
    return await request.app[DROPIN].opening_hours(centre_id, department, today)


def day_text(day: date, lang: str, *, year: bool = False) -> str:
    return format_day(day, year=year, locale=lang)


def closed_text(hours: OpeningHours, now: datetime, lang: str) -> str:
    """When the department opens next, in the page's language."""
    return hours.closed_message(now, voice(lang))


def week_lines(hours: OpeningHours, lang: str) -> list[tuple[str, str]]:
    names = weekday_names(lang)
    lines = []
    for weekday, name in enumerate(names):
        periods = hours.weekly.get(weekday, ())
        spans = ", ".join(
            f"{format_clock(p.opens)}–{'24.00' if p.closes == MIDNIGHT else format_clock(p.closes)}" for p in periods
        )
        lines.append((name.capitalize(), spans or translate(lang, "dropin.closed.day")))
    return lines


# --- callers -------------------------------------------------------------------------------------------------


def _wait_text(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return ""
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return translate(lang, "dropin.wait.one")
    if minutes < 60:
        return translate(lang, "dropin.wait.minutes").replace("{n}", str(minutes))
    return translate(lang, "dropin.wait.hour")


def status_json(status: QueueStatus, lang: str) -> dict[str, Any]:
    if status.state is TicketState.CALLED:
        ready = status.destination is not None
        key = "dropin.called.ready" if ready else "dropin.called.wait"
        return {"state": "called", "text": translate(lang, key), "destination": status.destination}
    text = translate(lang, "dropin.position").replace("{n}", str(status.position))
    wait = _wait_text(status.expected_wait_seconds, lang)
    return {
        "state": "waiting",
        "position": status.position,
        "text": f"{text} {translate(lang, 'dropin.expected')}: {wait}.",
        "destination": None,
    }


async def caller_page(request: web.Request, *, status: int = 200, error: str | None = None) -> web.Response:
    department, centre_id = address_of(request)
    centre = await centre_name(request, centre_id)
    hours = await opening_hours(request, centre_id, department)
    now, lang = request.app[CLOCK](), lang_of(request)
    closes = hours.closes_at(now)
    contact = request.app[DROPIN].options.contact or translate(lang, "dropin.contact.default")
    return render(
        request,
        "dropin.html",
        status=status,
        centre=centre,
        department=department.value,
        open=closes is not None,
        closes=format_clock(closes) if closes else "",
        closed_text="" if closes else closed_text(hours, now, lang),
        week=week_lines(hours, lang),
        contact=contact,
        roles=[(r.value, role_label(lang, r)) for r in CALLER_ROLES],
        base=f"/{department.value}/{centre_id}",
        error=error,
    )


async def caller_landing(request: web.Request) -> web.Response:
    return await caller_page(request)


async def join_queue(request: web.Request) -> web.Response:
    department, centre_id = address_of(request)
    await centre_name(request, centre_id)
    form = await request.post()
    try:
        role = Role(str(form.get("role", "")))
        if role not in CALLER_ROLES:
            raise ValueError
    except ValueError:
        return await caller_page(request, status=400, error="dropin.error.role")
    now = request.app[CLOCK]()
    if not (await opening_hours(request, centre_id, department)).is_open(now):
        return await caller_page(request, status=409, error="dropin.error.closed")
    wait_page = await enqueue(request, (centre_id, department), role)
    if wait_page is None:
        return await caller_page(request, status=503, error="dropin.error.full")
    raise web.HTTPSeeOther(wait_page)


async def enqueue(request: web.Request, key: QueueKey, role: Role) -> str | None:
    """A new caller at the end of the line, in ``role``: the path of their wait page, or None when it is full.
    (Also the way in for Brukerpass holders, who call as the citizen.)"""
    now = request.app[CLOCK]().timestamp()
    try:
        async with request.app[DROPIN].line(key) as line:
            line.waiting(now)  # forgets the roles of callers who left
            ticket = line.queue.join(now)
            line.roles[ticket.ticket_id] = role
    except QueueError:
        return None
    centre_id, department = key
    return f"/{department.value}/{centre_id}/ko/{ticket.ticket_id}"


async def _heartbeat(request: web.Request) -> QueueStatus:
    await centre_name(request, _key(request)[0])  # a made-up centre gets a 404, never a queue row of its own
    async with request.app[DROPIN].line(_key(request)) as line:
        return line.queue.heartbeat(request.match_info["ticket"], request.app[CLOCK]().timestamp())


async def wait_page(request: web.Request) -> web.Response:
    department, centre_id = address_of(request)
    centre = await centre_name(request, centre_id)
    lang = lang_of(request)
    base = f"/{department.value}/{centre_id}"
    try:
        queue_status: dict[str, Any] = status_json(await _heartbeat(request), lang)
    except TicketUnknown:
        queue_status = {"state": "gone", "text": translate(lang, "dropin.gone"), "destination": None}
    return render(
        request,
        "dropin_wait.html",
        centre=centre,
        department=department.value,
        queue=queue_status,
        base=base,
        ticket_path=f"{base}/ko/{request.match_info['ticket']}",
    )


async def poll(request: web.Request) -> web.Response:
    """The caller's heartbeat: where they stand, or where to go once a technician has taken them."""
    try:
        return web.json_response(status_json(await _heartbeat(request), lang_of(request)))
    except TicketUnknown:
        return web.json_response(
            {"state": "gone", "text": translate(lang_of(request), "dropin.gone"), "destination": None}, status=410
        )


async def leave_queue(request: web.Request) -> web.Response:
    department, centre_id = address_of(request)
    ticket = request.match_info["ticket"]
    await centre_name(request, _key(request)[0])
    async with request.app[DROPIN].line(_key(request)) as line:
        line.queue.leave(ticket, request.app[CLOCK]().timestamp())
        line.roles.pop(ticket, None)
    raise web.HTTPSeeOther(f"/{department.value}/{centre_id}?forlatt=1")


def setup_routes(app: web.Application) -> None:
    public = PUBLIC
    ticket = public + "/ko/{ticket:[A-Za-z0-9_-]{1,64}}"
    app.router.add_get(public, caller_landing)
    app.router.add_post(public + "/ko", join_queue)
    app.router.add_get(ticket, wait_page)
    app.router.add_post(ticket + "/status", poll)
    app.router.add_post(ticket + "/forlat", leave_queue)
