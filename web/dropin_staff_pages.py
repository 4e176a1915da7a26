"""The technicians' side of the drop-in: the waiting list, "Ta neste", and the department's opening exceptions.

Only staff holding the department's right at the centre see the queue (technician for the technical
department, adviser for the others). "Ta neste" takes the longest-waiting caller, makes a meeting, hands the
caller their join link through their next poll and sends the technician to the host link; if the meeting cannot
be made, the caller keeps their place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import Any

from aiohttp import web

from privacy.records.errors import PrivacyRecordError
from privacy.records.validators import validate_free_text
from privacy.user_text import Message, Text, said_by
from session.access.permissions import StaffAction
from session.access.staff_roles import StaffRole
from session.departments import Department
from session.planning.errors import OpeningHoursInvalid
from session.planning.opening_hours import REASON_MAX, DayException, Period
from session.planning.plan import OSLO
from session.roles import Role
from web.dropin_pages import MEETING_KIND, address_of, centre_name, closed_text, day_text, opening_hours
from web.i18n import role_label, translate
from web.keys import CLOCK, DROPIN, LINKS, SETTINGS
from web.rendering import lang_of, refused, render
from web.staff_auth import StaffUser, form_of, staff_of, staff_route
from web.staff_meeting import csrf_of


async def _technician(request: web.Request, user: StaffUser) -> tuple[Department, int, Role]:
    """The department, the centre and the caller's role in a drop-in call; 403 for staff of other centres."""
    department, centre_id = address_of(request)
    await centre_name(request, centre_id)
    needed = StaffRole.TECHNICIAN if department is Department.TEKNISK else StaffRole.ADVISER
    if not await request.app[DROPIN].may_take(user.id, centre_id, needed):
        raise refused(request, web.HTTPForbidden, "err.web.queue_forbidden")
    return department, centre_id, Role.TEKNIKER if department is Department.TEKNISK else Role.RADGIVER


async def _waiting_rows(request: web.Request, centre_id: int, department: Department) -> list[dict[str, Any]]:
    lang, now = lang_of(request), request.app[CLOCK]().timestamp()
    async with request.app[DROPIN].line((centre_id, department)) as line:
        waiting = line.waiting(now)
    rows = []
    for caller, role in waiting:
        minutes = int(caller.waited_seconds // 60)
        rows.append(
            {
                "position": caller.position,
                "role": role_label(lang, role),
                "waited": translate(lang, "technician.waited").replace("{n}", str(minutes)),
            }
        )
    return rows


async def technician_page(
    request: web.Request,
    *,
    status: int = 200,
    message: str | None = None,
    problems: Mapping[str, Message] | None = None,
) -> web.Response:
    user = staff_of(request)
    department, centre_id, _ = await _technician(request, user)
    centre = await centre_name(request, centre_id)
    hours = await opening_hours(request, centre_id, department)
    now, lang = request.app[CLOCK](), lang_of(request)
    today = now.astimezone(OSLO).date()
    view = await request.app[DROPIN].technician_view(user.id, centre_id, department, MEETING_KIND[department], today)
    base = f"/staff/dropin/{department.value}/{centre_id}"
    closes = hours.closes_at(now)
    return render(
        request,
        "dropin_staff.html",
        status=status,
        user=user,
        csrf=csrf_of(request, user),
        centre=centre,
        department=department.value,
        waiting=await _waiting_rows(request, centre_id, department),
        open=closes is not None,
        closed_text="" if closes else closed_text(hours, now, lang),
        public_address=f"{request.app[SETTINGS].base_url}/{department.value}/{centre_id}",
        base=base,
        recent=view.recent,
        exceptions=[(day_text(e.day, lang), e) for e in view.exceptions],
        message=message or ("technician.exception.saved" if request.query.get("avvik") == "1" else None),
        problems=problems or {},
    )


@staff_route(StaffAction.TAKE_DROPIN)
async def technician_landing(request: web.Request) -> web.Response:
    return await technician_page(request)


@staff_route(StaffAction.TAKE_DROPIN)
async def queue_json(request: web.Request) -> web.Response:
    user = staff_of(request)
    department, centre_id, _ = await _technician(request, user)
    rows = await _waiting_rows(request, centre_id, department)
    return web.json_response({"count": len(rows), "waiting": rows})


@staff_route(StaffAction.TAKE_DROPIN)
async def take_next(request: web.Request) -> web.Response:
    """The longest-waiting caller into a new meeting: their link goes to their page, the host link to the
    technician. If the meeting cannot be made, the caller keeps their place."""
    user = staff_of(request)
    department, centre_id, host_role = await _technician(request, user)
    state, now, key = request.app[DROPIN], request.app[CLOCK](), (centre_id, department)
    async with state.line(key) as line:
        ticket = line.queue.take_next(now.timestamp())
        role = line.roles.get(ticket.id, Role.BRUKER) if ticket is not None else Role.BRUKER
    if ticket is None:
        return await technician_page(request, message="technician.none")
    ttl, links = state.options.call_ttl, request.app[LINKS]
    try:
        meeting = await state.create_call(
            organisation_id=user.organisation_id,
            centre_id=centre_id,
            topic=translate("nb", f"dropin.topic.{department.value}"),
            kind=MEETING_KIND[department],
            created_by=user.id,
            now=now,
        )
        host = await links.issue(actor_staff_id=user.id, meeting_id=meeting.id, role=host_role, ttl=ttl, host=True)
        guest = await links.issue(actor_staff_id=user.id, meeting_id=meeting.id, role=role, ttl=ttl)
    except BaseException:
        async with state.line(key) as line:
            line.queue.put_back(ticket.id)
        raise
    async with state.line(key) as line:
        line.queue.hand_over(ticket.id, f"/j/{guest.token}")
        line.roles.pop(ticket.id, None)
        line.took(user.id, now.timestamp())
    raise web.HTTPSeeOther(f"/j/{host.token}")


def _parse_clock(value: str) -> time | None:
    value = value.strip()
    if not value:
        return None
    parsed = time.fromisoformat(value)
    return parsed.replace(second=0, microsecond=0)


@staff_route(StaffAction.TAKE_DROPIN)
async def save_exception(request: web.Request) -> web.Response:
    """A day with other hours than usual (or closed), with a short reason such as "personalmøte"."""
    user, form = staff_of(request), form_of(request)
    department, centre_id, _ = await _technician(request, user)
    problems: dict[str, Message] = {}
    try:
        day = date.fromisoformat(form.get("day", "").strip())
    except ValueError:
        problems["day"] = Text("err.hours.choose_date")
    try:
        opens, closes = _parse_clock(form.get("opens", "")), _parse_clock(form.get("closes", ""))
    except ValueError:
        problems["hours"] = Text("err.hours.time_format")
        opens = closes = None
    if (opens is None) != (closes is None):
        problems["hours"] = Text("err.hours.both_or_none")
    try:
        reason = validate_free_text(Text("field.reason"), form.get("reason", ""), max_length=REASON_MAX, required=False)
    except PrivacyRecordError as exc:
        problems["reason"] = said_by(exc)
        reason = ""
    exception: DayException | None = None
    if not problems:
        try:
            periods = (Period(opens, closes),) if opens is not None and closes is not None else ()
            exception = DayException(day, periods, reason)
        except OpeningHoursInvalid as exc:
            problems[exc.field] = exc.message
    if exception is None:
        return await technician_page(request, status=400, problems=problems)
    await request.app[DROPIN].save_exception(centre_id, department, exception)
    raise web.HTTPSeeOther(f"/staff/dropin/{department.value}/{centre_id}?avvik=1")


def setup_routes(app: web.Application, base: str) -> None:
    app.router.add_get(base, technician_landing)
    app.router.add_get(base + "/ko.json", queue_json)
    app.router.add_post(base + "/neste", take_next)
    app.router.add_post(base + "/avvik", save_exception)
