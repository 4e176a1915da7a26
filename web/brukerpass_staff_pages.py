"""The centre's side of Brukerpass (``/staff/brukerpass``): issue a holder's code, withdraw it, and agree a time
for the meetings holders ask for.

A code is shown once, when it is issued (to print or read out); only its keyed hash is stored. Agreeing a time
creates the meeting in the centre's name with the staff member as its creator; the holder joins it from their
own page as the citizen, the staff member from their meeting list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from privacy.user_text import Text
from session.access.brukerpass import BrukerpassError, check_reference, new_code
from session.access.errors import AccessRefused
from session.access.permissions import StaffAction
from session.planning.plan import OSLO
from web.dropin_pages import MEETING_KIND
from web.i18n import translate
from web.keys import BRUKERPASS, CLOCK, SIGNER
from web.record_details import local_minutes
from web.rendering import lang_of, refused, render
from web.staff_auth import StaffUser, form_of, staff_of, staff_route

BASE = "/staff/brukerpass"
LATEST = timedelta(days=180)
"""How far ahead a meeting can be agreed."""


def centre_of(user: StaffUser) -> int:
    """The centre whose holders this staff member serves: their own centre, or the centre of their department."""
    if user.organisation_kind == "centre":
        return user.organisation_id
    if user.organisation_kind == "centre_department" and user.organisation_parent is not None:
        return user.organisation_parent
    raise AccessRefused(Text("err.web.brukerpass_centre_only"), reason="not_centre")  # 403, said by the middleware


async def page(
    request: web.Request, *, status: int = 200, issued: tuple[str, str] | None = None,
    error: BrukerpassError | None = None,
) -> web.Response:  # fmt: skip
    user = staff_of(request)
    centre_id, lang, now = centre_of(user), lang_of(request), request.app[CLOCK]()
    holders, requests = await request.app[BRUKERPASS].overview(centre_id)
    return render(
        request,
        "brukerpass_staff.html",
        status=status,
        user=user,
        csrf=request.app[SIGNER].csrf_token(user.session),
        issued=issued,
        error=error,
        holders=[
            {
                "id": h.id,
                "reference": h.reference,
                "issued": local_minutes(h.issued_at, lang),
                "expires": local_minutes(h.expires_at, lang),
                "state": "bp.state.revoked"
                if h.revoked_at
                else ("bp.state.valid" if h.valid(now) else "bp.state.expired"),
                "active": h.valid(now),
                "linked": h.linked,
            }
            for h in holders
        ],
        requests=[
            {
                "id": r.id,
                "reference": r.reference,
                "department": translate(lang, f"dropin.dept.{r.department.value}"),
                "topic": r.topic,
                "serial": r.serial_number or "",
                "wish": r.wish,
                "asked": local_minutes(r.created_at, lang),
                "agreed": local_minutes(r.starts_at, lang) if r.starts_at else "",
            }
            for r in requests
        ],
    )


@staff_route(StaffAction.MANAGE_BRUKERPASS)
async def overview(request: web.Request) -> web.Response:
    return await page(request)


@staff_route(StaffAction.MANAGE_BRUKERPASS)
async def issue(request: web.Request) -> web.Response:
    user, form = staff_of(request), form_of(request)
    try:
        reference = check_reference(form.get("reference", "")[:200])
    except BrukerpassError as exc:
        return await page(request, status=400, error=exc)
    code = new_code()
    await request.app[BRUKERPASS].issue(staff_id=user.id, centre_id=centre_of(user), reference=reference, code=code)
    return await page(request, issued=(reference, code))


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@staff_route(StaffAction.MANAGE_BRUKERPASS)
async def confirm_revoke(request: web.Request) -> web.Response:
    """Withdrawing a code removes a right: a page says what happens and asks once more."""
    user = staff_of(request)
    holder_id = _id(request)
    holder = next((h for h in await request.app[BRUKERPASS].holders(centre_of(user)) if h.id == holder_id), None)
    if holder is None:
        raise refused(request, web.HTTPNotFound, "err.web.brukerpass_not_found")
    return render(
        request,
        "confirm.html",
        user=user,
        title_key="bp.revoke.title",
        facts=[("bp.reference", holder.reference), ("bp.issued", local_minutes(holder.issued_at, lang_of(request)))],
        consequences=["bp.revoke.code", "bp.revoke.login", "bp.revoke.calls", "confirm.final"],
        action=f"{BASE}/{holder.id}/trekk-tilbake",
        hidden={},
        submit_key="bp.revoke.submit",
        back=BASE,
        csrf=request.app[SIGNER].csrf_token(user.session),
    )


@staff_route(StaffAction.MANAGE_BRUKERPASS)
async def revoke(request: web.Request) -> web.Response:
    user = staff_of(request)
    done = await request.app[BRUKERPASS].revoke(staff_id=user.id, centre_id=centre_of(user), holder_id=_id(request))
    if not done:
        raise refused(request, web.HTTPNotFound, "err.web.brukerpass_not_found")
    raise web.HTTPSeeOther(BASE)


@staff_route(StaffAction.MANAGE_BRUKERPASS)
async def agree_time(request: web.Request) -> web.Response:
    """Creates the meeting a holder asked for at the agreed time; the holder sees it on their page."""
    user, form = staff_of(request), form_of(request)
    request_id, centre_id, now = _id(request), centre_of(user), request.app[CLOCK]()
    try:
        # Typed in Oslo time; stored in UTC (SQLite keeps no offset).
        starts = datetime.fromisoformat(form.get("starts", "")[:32]).replace(tzinfo=OSLO).astimezone(UTC)
    except ValueError:
        return await page(request, status=400, error=BrukerpassError("bp.error.starts", f"starts-{request_id}"))
    if not now - timedelta(minutes=5) <= starts <= now + LATEST:
        return await page(request, status=400, error=BrukerpassError("bp.error.starts", f"starts-{request_id}"))
    agreed = await request.app[BRUKERPASS].agree_time(
        staff_id=user.id,
        organisation_id=user.organisation_id,
        centre_id=centre_id,
        request_id=request_id,
        starts=starts,
        meeting_of=lambda department: (translate("nb", f"dropin.topic.{department.value}"), MEETING_KIND[department]),
    )
    if not agreed:
        raise refused(request, web.HTTPNotFound, "err.access.request_not_found")
    raise web.HTTPSeeOther(BASE)


@staff_route(StaffAction.MANAGE_BRUKERPASS)
async def close(request: web.Request) -> web.Response:
    user = staff_of(request)
    done = await request.app[BRUKERPASS].close(staff_id=user.id, centre_id=centre_of(user), request_id=_id(request))
    if not done:
        raise refused(request, web.HTTPNotFound, "err.access.request_not_found")
    raise web.HTTPSeeOther(BASE)


def setup_routes(app: web.Application) -> None:
    app.router.add_get(BASE, overview)
    app.router.add_post(BASE, issue)
    app.router.add_get(BASE + "/{id:[0-9]{1,9}}/trekk-tilbake", confirm_revoke)
    app.router.add_post(BASE + "/{id:[0-9]{1,9}}/trekk-tilbake", revoke)
    app.router.add_post(BASE + "/foresporsel/{id:[0-9]{1,9}}/avtal", agree_time)
    app.router.add_post(BASE + "/foresporsel/{id:[0-9]{1,9}}/lukk", close)
