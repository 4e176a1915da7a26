"""The access manager's page (formidler rights and access requests) and the compliance officer's audit log.

Every query goes through the isolation helpers: another organisation's objects are as unknown as missing ones
(404), and a compliance officer reads their own organisation's trail only.
"""

from __future__ import annotations

from aiohttp import web

from privacy.user_text import Message, Text, said_by
from session.access.errors import AccessError, AccessRefused, NotFound
from session.access.permissions import StaffAction
from session.access.staff_roles import OrgKind, StaffRole
from web.audit_pages import audit_response
from web.keys import ACCESS, ACCESS_READS, ORGS, SIGNER
from web.rendering import render
from web.staff_auth import StaffUser, form_of, staff_of, staff_route


def _status(exc: AccessError) -> int:
    return 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, AccessRefused) else 400


async def _page(
    request: web.Request, user: StaffUser, *, status: int = 200, error: Message | None = None
) -> web.Response:
    access = request.app[ACCESS]
    if not await request.app[ACCESS_READS].holds_role(user.id, StaffRole.ACCESS_MANAGER):
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


@staff_route(StaffAction.MANAGE_ACCESS)
async def access_page(request: web.Request) -> web.Response:
    return await _page(request, staff_of(request))


@staff_route(StaffAction.MANAGE_ACCESS)
async def revoke(request: web.Request) -> web.Response:
    """Removing the right ends that person's sessions and live meetings at once."""
    user, form = staff_of(request), form_of(request)
    try:
        await request.app[ACCESS].revoke_formidler(
            actor_staff_id=user.id, staff_id=int(form.get("staff_id", "")), organisation_id=int(form.get("org", ""))
        )
    except ValueError:
        return await _page(request, user, status=400, error=Text("err.web.invalid_form"))
    except AccessError as exc:
        return await _page(request, user, status=_status(exc), error=said_by(exc))
    raise web.HTTPFound("/staff/access")


@staff_route(StaffAction.MANAGE_ACCESS)
async def answer(request: web.Request) -> web.Response:
    user, form = staff_of(request), form_of(request)
    try:
        await request.app[ACCESS].answer_request(
            actor_staff_id=user.id, request_id=int(request.match_info["id"]), approve=form.get("approve") == "1"
        )
    except ValueError:
        return await _page(request, user, status=400, error=Text("err.web.invalid_form"))
    except AccessError as exc:
        return await _page(request, user, status=_status(exc), error=said_by(exc))
    raise web.HTTPFound("/staff/access")


@staff_route(StaffAction.READ_AUDIT)
async def audit_page(request: web.Request) -> web.Response:
    user = staff_of(request)
    return await audit_response(request, user)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/access", access_page)
    app.router.add_post("/staff/access/revoke", revoke)
    app.router.add_post("/staff/access/requests/{id:\\d+}", answer)
    app.router.add_get("/staff/audit", audit_page)
    setup_organisation_routes(app)


async def _orgs_page(
    request: web.Request, user: StaffUser, *, status: int = 200, error: Message | None = None
) -> web.Response:
    reads = request.app[ACCESS_READS]
    if not await reads.holds_role(user.id, StaffRole.CENTRE_ADMIN):
        raise web.HTTPForbidden(text="Bare en administrator ved hjelpemiddelsentralen har denne siden.")
    rows = await reads.municipalities()
    return render(request, "organisations.html", status=status, user=user, orgs=rows, error=error,
                  csrf=request.app[SIGNER].csrf_token(user.session))  # fmt: skip


@staff_route(StaffAction.MANAGE_ORGANISATIONS)
async def organisations_page(request: web.Request) -> web.Response:
    """The centre opens a municipality or unit for the service by its organisation number (a manual step)."""
    return await _orgs_page(request, staff_of(request))


@staff_route(StaffAction.MANAGE_ORGANISATIONS)
async def create_organisation(request: web.Request) -> web.Response:
    user, form = staff_of(request), form_of(request)
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
        return await _orgs_page(request, user, status=400, error=Text("err.web.invalid_form"))
    except AccessError as exc:
        return await _orgs_page(request, user, status=_status(exc), error=said_by(exc))
    raise web.HTTPFound("/staff/organisations")


@staff_route(StaffAction.MANAGE_ORGANISATIONS)
async def set_enabled(request: web.Request) -> web.Response:
    user, form = staff_of(request), form_of(request)
    try:
        await request.app[ORGS].set_enabled(
            actor_staff_id=user.id, org_id=int(request.match_info["id"]), enabled=form.get("enabled") == "1"
        )
    except AccessError as exc:
        return await _orgs_page(request, user, status=_status(exc), error=said_by(exc))
    raise web.HTTPFound("/staff/organisations")


def setup_organisation_routes(app: web.Application) -> None:
    app.router.add_get("/staff/organisations", organisations_page)
    app.router.add_post("/staff/organisations", create_organisation)
    app.router.add_post("/staff/organisations/{id:\\d+}/enabled", set_enabled)
