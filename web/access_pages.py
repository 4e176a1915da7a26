"""The access manager's page (formidler rights and access requests) and the compliance officer's audit log.

Every query goes through the isolation helpers: another organisation's objects are as unknown as missing ones
(404), and a compliance officer reads their own organisation's trail only.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from session.access.errors import AccessError, AccessRefused, NotFound
from session.access.organisations import holds_role
from session.access.permissions import StaffAction
from session.access.staff_roles import OrgKind, StaffRole
from session.tables import organisations
from web.app import ACCESS, ENGINE, ORGS, SIGNER
from web.audit_pages import audit_response
from web.pages import StaffUser, check_csrf, render, require


def _status(exc: AccessError) -> int:
    return 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, AccessRefused) else 400


async def _page(request: web.Request, user: StaffUser, *, status: int = 200, error: str | None = None) -> web.Response:
    access = request.app[ACCESS]
    async with request.app[ENGINE].connect() as conn:
        manager = await holds_role(conn, user.id, StaffRole.ACCESS_MANAGER)
    if not manager:
        raise web.HTTPForbidden(text="Bare tilgangsstyreren i kommunen har denne siden.")
    return render(
        request,
        "access.html",
        status=status,
        user=user,
        csrf=request.app[SIGNER].csrf_token(user.session),
        formidlere=await access.managed_formidlere(actor_staff_id=user.id),
        requests=await access.pending_requests(actor_staff_id=user.id),
        error=error,
    )


async def access_page(request: web.Request) -> web.Response:
    return await _page(request, await require(request, StaffAction.MANAGE_ACCESS))


async def revoke(request: web.Request) -> web.Response:
    """Removing the right ends that person's sessions and live meetings at once."""
    user = await require(request, StaffAction.MANAGE_ACCESS)
    form = await check_csrf(request, user)
    try:
        await request.app[ACCESS].revoke_formidler(
            actor_staff_id=user.id, staff_id=int(form.get("staff_id", "")), organisation_id=int(form.get("org", ""))
        )
    except ValueError:
        return await _page(request, user, status=400, error="Ugyldig skjema.")
    except AccessError as exc:
        return await _page(request, user, status=_status(exc), error=str(exc))
    raise web.HTTPFound("/staff/access")


async def answer(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.MANAGE_ACCESS)
    form = await check_csrf(request, user)
    try:
        await request.app[ACCESS].answer_request(
            actor_staff_id=user.id, request_id=int(request.match_info["id"]), approve=form.get("approve") == "1"
        )
    except ValueError:
        return await _page(request, user, status=400, error="Ugyldig skjema.")
    except AccessError as exc:
        return await _page(request, user, status=_status(exc), error=str(exc))
    raise web.HTTPFound("/staff/access")


async def audit_page(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.READ_AUDIT)
    async with request.app[ENGINE].connect() as conn:
        if not await holds_role(conn, user.id, StaffRole.COMPLIANCE_OFFICER):
            raise web.HTTPForbidden(text="Bare personvernombudet har denne siden.")
        return await audit_response(request, user, conn)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/access", access_page)
    app.router.add_post("/staff/access/revoke", revoke)
    app.router.add_post("/staff/access/requests/{id:\\d+}", answer)
    app.router.add_get("/staff/audit", audit_page)
    setup_organisation_routes(app)


async def _orgs_page(
    request: web.Request, user: StaffUser, *, status: int = 200, error: str | None = None
) -> web.Response:
    async with request.app[ENGINE].connect() as conn:
        if not await holds_role(conn, user.id, StaffRole.CENTRE_ADMIN):
            raise web.HTTPForbidden(text="Bare en administrator ved hjelpemiddelsentralen har denne siden.")
        rows = (
            await conn.execute(
                select(organisations)
                .where(organisations.c.kind.in_(("municipality", "municipality_unit")))
                .order_by(organisations.c.name)
            )
        ).all()
    return render(request, "organisations.html", status=status, user=user, orgs=rows, error=error,
                  csrf=request.app[SIGNER].csrf_token(user.session))  # fmt: skip


async def organisations_page(request: web.Request) -> web.Response:
    """The centre opens a municipality or unit for the service by its organisation number (a manual step)."""
    return await _orgs_page(request, await require(request, StaffAction.MANAGE_ORGANISATIONS))


async def create_organisation(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.MANAGE_ORGANISATIONS)
    form = await check_csrf(request, user)
    parent = form.get("parent_id") or None
    try:
        await request.app[ORGS].create(
            actor_staff_id=user.id,
            org_number=form.get("org_number", ""),
            name=form.get("name", ""),
            kind=OrgKind.MUNICIPALITY_UNIT if parent else OrgKind.MUNICIPALITY,
            parent_id=int(parent) if parent else None,
            enabled=form.get("enabled") == "1",
        )
    except ValueError:
        return await _orgs_page(request, user, status=400, error="Ugyldig skjema.")
    except AccessError as exc:
        return await _orgs_page(request, user, status=_status(exc), error=str(exc))
    raise web.HTTPFound("/staff/organisations")


async def set_enabled(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.MANAGE_ORGANISATIONS)
    form = await check_csrf(request, user)
    try:
        await request.app[ORGS].set_enabled(
            actor_staff_id=user.id, org_id=int(request.match_info["id"]), enabled=form.get("enabled") == "1"
        )
    except AccessError as exc:
        return await _orgs_page(request, user, status=_status(exc), error=str(exc))
    raise web.HTTPFound("/staff/organisations")


def setup_organisation_routes(app: web.Application) -> None:
    app.router.add_get("/staff/organisations", organisations_page)
    app.router.add_post("/staff/organisations", create_organisation)
    app.router.add_post("/staff/organisations/{id:\\d+}/enabled", set_enabled)
