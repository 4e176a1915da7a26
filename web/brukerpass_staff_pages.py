"""The centre's side of Brukerpass (``/staff/brukerpass``): issue a holder's code, withdraw it, and agree a time
for the meetings holders ask for.

A code is shown once, when it is issued (to print or read out); only its keyed hash is stored. Agreeing a time
creates the meeting in the centre's name with the staff member as its creator; the holder joins it from their
own page as the citizen, the staff member from their meeting list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.records.audit_record import AuditRecord, DetailValue
from session.access.audited import staff_actor
from session.access.brukerpass import BrukerpassError, check_reference, code_hash, new_code
from session.access.brukerpass_store import (
    close_request,
    holders_of,
    issue_holder,
    open_requests,
    revoke_holder,
    schedule_request,
)
from session.access.permissions import StaffAction
from session.meetings import create_meeting
from session.planning.plan import OSLO
from web.app import CLOCK, ENGINE, RECORDS, SIGNER
from web.brukerpass_pages import hash_key
from web.dropin_pages import MEETING_KIND
from web.i18n import translate
from web.pages import StaffUser, check_csrf, lang_of, render, require
from web.record_details import local_minutes

BASE = "/staff/brukerpass"
LATEST = timedelta(days=180)
"""How far ahead a meeting can be agreed."""


def centre_of(user: StaffUser) -> int:
    """The centre whose holders this staff member serves: their own centre, or the centre of their department."""
    if user.organisation_kind == "centre":
        return user.organisation_id
    if user.organisation_kind == "centre_department" and user.organisation_parent is not None:
        return user.organisation_parent
    raise web.HTTPForbidden(text="Brukerpass hører til hjelpemiddelsentralen.")


async def _audit(
    request: web.Request,
    conn: AsyncConnection,
    action: str,
    user: StaffUser,
    centre_id: int,
    details: dict[str, DetailValue],
    meeting_id: str | None = None,
) -> None:
    """Every change to a pass or a request is in the audit chain, in the same transaction as the change."""
    record = AuditRecord(f"brukerpass.{action}", staff_actor(user.id), (centre_id,), meeting_id, details)
    await request.app[RECORDS].audit.append(record, conn=conn)


async def page(
    request: web.Request, *, status: int = 200, issued: tuple[str, str] | None = None,
    error: BrukerpassError | None = None,
) -> web.Response:  # fmt: skip
    user = await require(request, StaffAction.MANAGE_BRUKERPASS)
    centre_id, lang, now = centre_of(user), lang_of(request), request.app[CLOCK]()
    async with request.app[ENGINE].connect() as conn:
        holders = await holders_of(conn, centre_id)
        requests = await open_requests(conn, centre_id=centre_id)
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


async def overview(request: web.Request) -> web.Response:
    return await page(request)


async def issue(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.MANAGE_BRUKERPASS)
    form = await check_csrf(request, user)
    try:
        reference = check_reference(form.get("reference", "")[:200])
    except BrukerpassError as exc:
        return await page(request, status=400, error=exc)
    code = new_code()
    async with request.app[ENGINE].begin() as conn:
        holder_id = await issue_holder(
            conn,
            centre_id=centre_of(user),
            reference=reference,
            code_hash=code_hash(hash_key(request.app), code),
            issued_by=user.id,
            now=request.app[CLOCK](),
        )
        await _audit(request, conn, "issue", user, centre_of(user), {"holder": holder_id})
    return await page(request, issued=(reference, code))


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def confirm_revoke(request: web.Request) -> web.Response:
    """Withdrawing a code removes a right: a page says what happens and asks once more."""
    user = await require(request, StaffAction.MANAGE_BRUKERPASS)
    holder_id = _id(request)
    async with request.app[ENGINE].connect() as conn:
        holder = next((h for h in await holders_of(conn, centre_of(user)) if h.id == holder_id), None)
    if holder is None:
        raise web.HTTPNotFound(text="Fant ikke brukerpasset.")
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


async def revoke(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.MANAGE_BRUKERPASS)
    await check_csrf(request, user)
    async with request.app[ENGINE].begin() as conn:
        done = await revoke_holder(conn, holder_id=_id(request), centre_id=centre_of(user), now=request.app[CLOCK]())
        if done:
            await _audit(request, conn, "revoke", user, centre_of(user), {"holder": _id(request)})
    if not done:
        raise web.HTTPNotFound(text="Fant ikke brukerpasset.")
    raise web.HTTPSeeOther(BASE)


async def agree_time(request: web.Request) -> web.Response:
    """Creates the meeting a holder asked for at the agreed time; the holder sees it on their page."""
    user = await require(request, StaffAction.MANAGE_BRUKERPASS)
    form = await check_csrf(request, user)
    request_id, centre_id, now = _id(request), centre_of(user), request.app[CLOCK]()
    try:
        # Typed in Oslo time; stored in UTC (SQLite keeps no offset).
        starts = datetime.fromisoformat(form.get("starts", "")[:32]).replace(tzinfo=OSLO).astimezone(UTC)
    except ValueError:
        return await page(request, status=400, error=BrukerpassError("bp.error.starts", f"starts-{request_id}"))
    if not now - timedelta(minutes=5) <= starts <= now + LATEST:
        return await page(request, status=400, error=BrukerpassError("bp.error.starts", f"starts-{request_id}"))
    async with request.app[ENGINE].begin() as conn:
        found = next((r for r in await open_requests(conn, centre_id=centre_id) if r.id == request_id), None)
        if found is None or found.starts_at is not None:
            raise web.HTTPNotFound(text="Fant ikke forespørselen.")
        meeting = await create_meeting(
            conn,
            organisation_id=user.organisation_id,
            centre_id=centre_id,
            topic=translate("nb", f"dropin.topic.{found.department.value}"),
            kind=MEETING_KIND[found.department],
            created_by=user.id,
            now=now,
        )
        await schedule_request(
            conn, request_id=request_id, centre_id=centre_id, meeting_id=meeting.id, starts_at=starts, staff_id=user.id
        )
        await _audit(request, conn, "schedule", user, centre_id, {"request": request_id}, meeting.id)
    raise web.HTTPSeeOther(BASE)


async def close(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.MANAGE_BRUKERPASS)
    await check_csrf(request, user)
    async with request.app[ENGINE].begin() as conn:
        done = await close_request(conn, request_id=_id(request), centre_id=centre_of(user), staff_id=user.id)
        if done:
            await _audit(request, conn, "close", user, centre_of(user), {"request": _id(request)})
    if not done:
        raise web.HTTPNotFound(text="Fant ikke forespørselen.")
    raise web.HTTPSeeOther(BASE)


def setup_routes(app: web.Application) -> None:
    app.router.add_get(BASE, overview)
    app.router.add_post(BASE, issue)
    app.router.add_get(BASE + "/{id:[0-9]{1,9}}/trekk-tilbake", confirm_revoke)
    app.router.add_post(BASE + "/{id:[0-9]{1,9}}/trekk-tilbake", revoke)
    app.router.add_post(BASE + "/foresporsel/{id:[0-9]{1,9}}/avtal", agree_time)
    app.router.add_post(BASE + "/foresporsel/{id:[0-9]{1,9}}/lukk", close)
