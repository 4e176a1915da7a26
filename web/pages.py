"""Server-rendered pages: landing, development login, staff meetings, join page, error pages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from session.errors import LinkInvalid, MeetingInvalid, SessionError
from session.meetings import MEETING_KINDS, create_meeting, get_meeting, issue_invitation, resolve_invitation
from session.roles import LABELS, Role
from session.tables import meetings, organisations, staff
from web.app import CLOCK, ENGINE, SETTINGS, SIGNER, TEMPLATES
from web.auth import COOKIE, SESSION_SECONDS, StaffSession
from web.i18n import catalogue, pick_language, translate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")  # join links must never leak via Referer
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
    if request.path.startswith("/j/") or request.path.startswith("/staff"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status in (403, 404, 410) and "text/html" in request.headers.get("Accept", "") and exc.text:
            return render(request, "error.html", status=exc.status, message=exc.text)
        raise


def lang_of(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), request.cookies.get("lang"), request.headers.get("Accept-Language"))


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    lang = lang_of(request)
    env = request.app[TEMPLATES]
    html = env.get_template(template).render(
        lang=lang,
        t=lambda key: translate(lang, key),
        other_lang="en" if lang == "nb" else "nb",
        path=request.path,
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    if request.query.get("lang") in ("nb", "en"):
        response.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@dataclass(frozen=True, slots=True)
class StaffUser:
    id: int
    display_name: str
    organisation_id: int
    session: StaffSession


async def current_staff(request: web.Request) -> StaffUser | None:
    session = request.app[SIGNER].read(request.cookies.get(COOKIE))
    if session is None:
        return None
    async with request.app[ENGINE].connect() as conn:
        row = (await conn.execute(select(staff).where(staff.c.id == session.staff_id, staff.c.active))).first()
    return None if row is None else StaffUser(row.id, row.display_name, row.organisation_id, session)


async def require_staff(request: web.Request) -> StaffUser:
    user = await current_staff(request)
    if user is None:
        raise web.HTTPFound("/")
    return user


async def check_csrf(request: web.Request, user: StaffUser) -> dict[str, str]:
    form = await request.post()
    token = form.get("csrf")
    if not request.app[SIGNER].check_csrf(user.session, token if isinstance(token, str) else None):
        raise web.HTTPForbidden(text="Skjemaet er utløpt eller ugyldig. Last siden på nytt og prøv igjen.")
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def index(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    demo: list[Any] = []
    if settings.dev_mode:
        async with request.app[ENGINE].connect() as conn:
            demo = list((await conn.execute(select(staff.c.id, staff.c.display_name).order_by(staff.c.id))).all())
    return render(request, "index.html", dev_mode=settings.dev_mode, demo_staff=demo, user=await current_staff(request))


async def dev_login(request: web.Request) -> web.Response:
    if not request.app[SETTINGS].dev_mode:
        raise web.HTTPNotFound()
    form = await request.post()
    try:
        staff_id = int(str(form.get("staff_id", "")))
    except ValueError:
        raise web.HTTPBadRequest(text="Velg en demo-ansatt.") from None
    async with request.app[ENGINE].connect() as conn:
        row = (await conn.execute(select(staff.c.id).where(staff.c.id == staff_id))).first()
    if row is None:
        raise web.HTTPBadRequest(text="Ukjent demo-ansatt.")
    response = web.HTTPFound("/staff")
    secure = request.app[SETTINGS].base_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        request.app[SIGNER].issue(row.id),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    raise response


async def logout(request: web.Request) -> web.Response:
    user = await require_staff(request)
    await check_csrf(request, user)
    response = web.HTTPFound("/")
    response.del_cookie(COOKIE)
    raise response


async def staff_home(request: web.Request) -> web.Response:
    user = await require_staff(request)
    async with request.app[ENGINE].connect() as conn:
        rows = (
            await conn.execute(
                select(meetings)
                .where(meetings.c.organisation_id == user.organisation_id)
                .order_by(meetings.c.created_at.desc())
                .limit(50)
            )
        ).all()
    return render(request, "staff.html", **_staff_context(request, user), meetings=rows)


def _staff_context(request: web.Request, user: StaffUser) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        "user": user,
        "csrf": request.app[SIGNER].csrf_token(user.session),
        "kinds": MEETING_KINDS,
        "roles": [(r.value, LABELS[lang][r]) for r in Role],
    }


async def _links(request: web.Request, meeting_id: str, roles: list[Role], user: StaffUser) -> list[tuple[str, str]]:
    settings, now = request.app[SETTINGS], request.app[CLOCK]()
    ttl = timedelta(hours=settings.join_link_ttl_hours)
    lang = lang_of(request)
    out: list[tuple[str, str]] = []
    async with request.app[ENGINE].begin() as conn:
        for role in roles:
            token = await issue_invitation(conn, meeting_id=meeting_id, role=role, now=now, ttl=ttl)
            out.append((LABELS[lang][role], f"{settings.base_url}/j/{token}"))
    return out


async def create(request: web.Request) -> web.Response:
    user = await require_staff(request)
    form = await check_csrf(request, user)
    settings, now = request.app[SETTINGS], request.app[CLOCK]()
    try:
        roles = [Role(r) for r in (await request.post()).getall("roles", []) if isinstance(r, str)]
    except ValueError:
        raise web.HTTPBadRequest(text="Ukjent rolle.") from None
    try:
        async with request.app[ENGINE].begin() as conn:
            org = (await conn.execute(select(organisations).where(organisations.c.id == user.organisation_id))).one()
            if not org.enabled:
                raise MeetingInvalid("Enheten din er ikke åpnet for Samhandling ennå.")
            meeting = await create_meeting(
                conn,
                organisation_id=user.organisation_id,
                centre_id=None,
                topic=form.get("topic", ""),
                kind=form.get("kind", ""),
                created_by=user.id,
                now=now,
            )
            host_token = await issue_invitation(
                conn,
                meeting_id=meeting.id,
                role=Role.FORMIDLER,
                now=now,
                ttl=timedelta(hours=settings.join_link_ttl_hours),
                host=True,
                staff_id=user.id,
            )
    except SessionError as exc:
        return render(request, "staff.html", status=400, **_staff_context(request, user), meetings=[], error=str(exc))
    links = await _links(request, meeting.id, roles, user)
    return render(
        request,
        "links.html",
        **_staff_context(request, user),
        meeting=meeting,
        host_link=f"{settings.base_url}/j/{host_token}",
        links=links,
        hours=settings.join_link_ttl_hours,
    )


async def new_link(request: web.Request) -> web.Response:
    user = await require_staff(request)
    form = await check_csrf(request, user)
    async with request.app[ENGINE].connect() as conn:
        meeting = await get_meeting(conn, request.match_info["meeting_id"])
    if meeting is None or meeting.organisation_id != user.organisation_id:
        raise web.HTTPNotFound(text="Fant ikke møtet.")
    try:
        role = Role(form.get("role", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="Ukjent rolle.") from None
    links = await _links(request, meeting.id, [role], user)
    return render(
        request,
        "links.html",
        **_staff_context(request, user),
        meeting=meeting,
        host_link=None,
        links=links,
        hours=request.app[SETTINGS].join_link_ttl_hours,
    )


async def join_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    try:
        async with request.app[ENGINE].connect() as conn:
            invitation = await resolve_invitation(conn, token, request.app[CLOCK]())
            meeting = await get_meeting(conn, invitation.meeting_id)
    except SessionError as exc:
        status = 403 if isinstance(exc, LinkInvalid) else 410
        return render(request, "error.html", status=status, message=str(exc))
    lang = lang_of(request)
    strings = {
        k: v
        for k, v in catalogue("nb").items()
        if k.startswith(
            (
                "call.",
                "join.",
                "lobby.",
                "roster.",
                "offrole.",
                "consent.",
                "giver.",
                "scope.",
                "gate.",
                "pause.",
                "chat.",
                "role.",
            )
        )
    }
    strings |= {k: translate(lang, k) for k in strings}
    strings |= {f"role.{r.value}": LABELS[lang][r] for r in Role}
    return render(
        request,
        "join.html",
        meeting=meeting,
        role_label=LABELS[lang][invitation.role],
        role=invitation.role.value,
        host=invitation.host,
        ws_path=f"/j/{token}/ws",
        strings_json=json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c"),
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_post("/dev/login", dev_login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/staff", staff_home)
    app.router.add_post("/staff/meetings", create)
    app.router.add_post("/staff/meetings/{meeting_id}/links", new_link)
    app.router.add_get("/j/{token}", join_page)
